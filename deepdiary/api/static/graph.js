// The relationship graph: people, places and events, with the path between two people.
"use strict";
(() => {
  const {api, el, toast} = DD;
  const COLOURS = {me: "#d9480f", person: "#2f6fdb", place: "#2b8a3e", event: "#ae3ec9"};
  const yearInput = document.getElementById("graph-year");
  const personSelect = document.getElementById("graph-person");
  const info = document.getElementById("node-info");
  const pathResult = document.getElementById("path-result");

  const cy = cytoscape({
    container: document.getElementById("graph"),
    style: [
      {selector: "node", style: {
        "background-color": "#868e96", label: "data(label)", "font-size": 10, color: "#333",
        "text-valign": "bottom", "text-margin-y": 3, "text-max-width": 110, "text-wrap": "ellipsis",
        width: "mapData(weight, 0, 20, 14, 44)", height: "mapData(weight, 0, 20, 14, 44)"}},
      ...Object.entries(COLOURS).map(([kind, colour]) => ({selector: `node[kind = "${kind}"]`,
                                                          style: {"background-color": colour}})),
      {selector: 'node[kind = "event"]', style: {shape: "round-rectangle"}},
      {selector: 'node[kind = "place"]', style: {shape: "diamond"}},
      {selector: "edge", style: {
        width: "mapData(weight, 1, 10, 1, 8)", "line-color": "#ced4da", "curve-style": "haystack", opacity: 0.8}},
      {selector: ".faded", style: {opacity: 0.15}},
      {selector: "node.on-path", style: {"border-width": 4, "border-color": "#f08c00", opacity: 1}},
      {selector: "edge.on-path", style: {"line-color": "#f08c00", width: 6, opacity: 1, "z-index": 10}},
      {selector: "node:selected", style: {"border-width": 3, "border-color": "#111"}},
    ],
  });
  window.DDGraph = cy;

  // Node ids look like "person:3"; the owner may come as kind "me" or as "person:me".
  function personId(node) {
    const [kind, id] = node.id().split(":");
    return kind === "person" && /^\d+$/.test(id) ? id : null;
  }

  function showNode(node) {
    const d = node.data();
    const pid = personId(node);
    const links = [];
    if (pid) {
      links.push(el("a.button.primary", {href: `/?person=${pid}`, id: "open-photos"}, "Open photos ", el("span", {lang: "zh", text: "打开照片"})));
      links.push(el("a.button", {href: `/people/${pid}`}, "Person page ", el("span", {lang: "zh", text: "人物页"})));
    }
    const eventId = d.id.startsWith("event:") ? d.id.slice(6) : null;
    if (eventId) links.push(el("a.button", {href: `/timeline#event-${eventId}`}, "Open in timeline ", el("span", {lang: "zh", text: "在时间线中打开"})));
    info.replaceChildren(el("h3", {text: d.label || d.id}),
      el("p.muted", {text: `${d.kind}${d.weight ? ` · weight 权重 ${d.weight}` : ""} · ${node.degree()} links 条联系`}),
      el("div.toolbar", {}, links));
    info.hidden = false;
  }

  cy.on("tap", "node", (e) => showNode(e.target));
  cy.on("tap", (e) => { if (e.target === cy) info.hidden = true; });

  let latest = 0;  // filters change faster than answers come back: only the last answer is drawn

  async function loadGraph() {
    const mine = ++latest;
    try {
      const data = await api("/api/graph", {params: {year: yearInput.value, person: personSelect.value}});
      if (mine !== latest) return;
      cy.elements().remove();
      const ids = new Set((data.nodes || []).map((n) => n.id));
      cy.add((data.nodes || []).map((n) => ({group: "nodes", data: {...n, weight: n.weight || 0}})));
      cy.add((data.edges || []).filter((e) => ids.has(e.source) && ids.has(e.target))
        .map((e, i) => ({group: "edges", data: {id: `e${i}`, ...e, weight: e.weight || 1}})));
      cy.layout({name: "cose", animate: false, nodeDimensionsIncludeLabels: true, randomize: true}).run();
      cy.fit(undefined, 30);
      document.getElementById("graph-count").textContent =
        `${cy.nodes().length} nodes 个节点 · ${cy.edges().length} links 条联系`;
      if (!cy.nodes().length) toast("Nothing in the graph for these filters. 没有符合的内容。");
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async function loadPeople() {
    try {
      const people = await api("/api/people");
      const options = () => people.map((p) => el("option", {value: p.id, text: p.name || `person ${p.id}`}));
      personSelect.append(...options());
      const a = document.getElementById("path-a"), b = document.getElementById("path-b");
      a.replaceChildren(...options());
      b.replaceChildren(...options());
      if (people.length > 1) b.selectedIndex = 1;
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async function loadMetMost() {
    const list = document.getElementById("met-most");
    try {
      const rows = await api("/api/graph/met-most", {params: {year: yearInput.value, limit: 10}});
      list.replaceChildren(...rows.map((r) => el("li", {dataset: {id: r.id}},
        el("a", {href: `/people/${r.id}`, text: r.name}), el("span.muted", {text: ` ${r.days} days 天`}))));
      if (!rows.length) list.replaceChildren(el("li.muted", {text: "nobody yet 还没有"}));
    } catch (err) {
      toast(err.message, "error");
    }
  }

  function findNode(id) {
    let node = cy.getElementById(id);
    if (node.empty() && id === "person:me") node = cy.nodes('[kind = "me"]').first();
    return node;
  }

  async function findPath(e) {
    e.preventDefault();
    const a = document.getElementById("path-a").value, b = document.getElementById("path-b").value;
    cy.elements().removeClass("on-path faded");
    pathResult.replaceChildren();
    if (!a || !b || a === b) { toast("Pick two different people. 请选两个不同的人。", "error"); return; }
    try {
      const {path} = await api("/api/graph/connect", {params: {a, b}});
      pathResult.replaceChildren(...path.map((step) => el("li", {dataset: {node: step.node}},
        step.via || step.relation ? el("span.muted", {text: `${step.via || step.relation} → `}) : null,
        el("strong", {text: step.label || step.node}), el("span.muted", {text: ` (${step.kind})`}))));
      const nodes = path.map((step) => findNode(step.node)).filter((n) => n.nonempty());
      let onPath = cy.collection(nodes);
      for (let i = 1; i < nodes.length; i++) onPath = onPath.union(nodes[i - 1].edgesWith(nodes[i]));
      cy.elements().addClass("faded");
      onPath.removeClass("faded").addClass("on-path");
      if (nodes.length < path.length) {
        pathResult.append(el("li.muted", {text: "Some steps are outside the filtered graph. 部分节点不在当前图中。"}));
      }
      // The path with what touches it, so the highlight is seen in its surroundings.
      if (onPath.nonempty()) cy.animate({fit: {eles: onPath.union(onPath.neighborhood()), padding: 40}}, {duration: 300});
    } catch (err) {
      pathResult.replaceChildren(el("li.error", {text: err.message}));
      toast(err.message, "error");
    }
  }

  document.getElementById("path-form").addEventListener("submit", findPath);
  yearInput.addEventListener("change", () => { loadGraph(); loadMetMost(); });
  personSelect.addEventListener("change", loadGraph);
  const wanted = new URLSearchParams(location.search);
  if (wanted.get("year")) yearInput.value = wanted.get("year");
  loadPeople().then(() => {
    if (wanted.get("person")) personSelect.value = wanted.get("person");
    loadGraph();
  });
  loadMetMost();
})();
