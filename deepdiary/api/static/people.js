// People: the face wall (select, rename, merge, hide, collage), the naming queue and merge suggestions.
"use strict";
(() => {
  const {api, el, toast} = DD;
  const wall = document.getElementById("wall");
  const showHidden = document.getElementById("show-hidden");
  const buttons = Object.fromEntries(["rename", "merge", "hide", "collage"].map((id) => [id, document.getElementById(id)]));
  const openLink = document.getElementById("open-person");
  const collageView = document.getElementById("collage-view");

  let people = [];      // rows in the server's order (it sorts Chinese names by pinyin)
  let selected = [];    // ids in the order they were picked: the first one keeps its name on merge
  let queue = [], queueAt = 0;

  const nameOf = (p) => p.name || `Unnamed #${p.id}`;
  const byId = (id) => people.find((p) => p.id === id);

  function face(faceId, alt) {
    return faceId ? el("img", {src: `/api/faces/${faceId}/crop`, alt, loading: "lazy"})
                  : el("div.no-face", {text: "?", title: alt});
  }

  // ---- the wall ----------------------------------------------------------------------------

  async function loadWall() {
    try {
      people = await api("/api/people", {params: {hidden: showHidden.checked ? "true" : undefined}});
    } catch (err) { toast(err.message, "error"); wall.replaceChildren(el("p.error", {text: err.message})); return; }
    selected = selected.filter((id) => byId(id));
    wall.replaceChildren(...people.map(card));
    if (!people.length) wall.replaceChildren(el("p.muted", {text: "No people yet: add photos with faces. 还没有人物。"}));
    updateToolbar();
  }

  function card(p) {
    const node = el("div.person", {dataset: {id: p.id}, tabindex: 0, title: `${nameOf(p)}: ${p.faces} faces`,
                                   class: `person${p.hidden ? " hidden-person" : ""}${selected.includes(p.id) ? " selected" : ""}`},
      face(p.cover_face_id, nameOf(p)),
      el("div.name", {text: nameOf(p)}),
      el("div.count.muted", {text: `${p.photos} photo${p.photos === 1 ? "" : "s"}${p.hidden ? " · hidden" : ""}`}),
      el("a.page-link", {href: `/people/${p.id}`, text: "page 主页", onclick: (e) => e.stopPropagation()}));
    node.addEventListener("click", () => toggle(p.id));
    node.addEventListener("dblclick", () => { location.href = `/?person=${p.id}`; });
    node.addEventListener("keydown", (e) => { if (e.key === "Enter") location.href = `/?person=${p.id}`; if (e.key === " ") { e.preventDefault(); toggle(p.id); } });
    return node;
  }

  function toggle(id) {
    selected = selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id];
    for (const n of wall.querySelectorAll(".person")) n.classList.toggle("selected", selected.includes(Number(n.dataset.id)));
    updateToolbar();
  }

  function updateToolbar() {
    const one = selected.length === 1;
    buttons.rename.disabled = !one;
    buttons.collage.disabled = !one;
    buttons.merge.disabled = selected.length !== 2;
    buttons.hide.disabled = !selected.length;
    const allHidden = selected.length && selected.every((id) => byId(id) && byId(id).hidden);
    buttons.hide.firstChild.textContent = allHidden ? "Unhide " : "Hide ";
    openLink.hidden = !one;
    if (one) openLink.href = `/people/${selected[0]}`;
    const sel = document.getElementById("selection");
    sel.textContent = selected.length
      ? `Selected: ${selected.map((id) => nameOf(byId(id) || {id})).join(", ")}`
      : "Click to select, double-click for their photos. 单击选择，双击看照片。";
  }

  async function refreshAll() { await Promise.all([loadWall(), loadQueue(), loadSuggestions()]); }

  async function act(fn) {
    try { await fn(); } catch (err) { toast(err.message, "error"); }
  }

  buttons.rename.addEventListener("click", () => act(async () => {
    const p = byId(selected[0]);
    const name = (prompt(`Name for ${nameOf(p)} 名字`, p.name || "") || "").trim();
    if (!name) return;
    const r = await api(`/api/people/${p.id}/name`, {method: "PUT", json: {name}});
    toast(`Named ${r.name}`);
    await refreshAll();
  }));

  buttons.merge.addEventListener("click", () => act(async () => {
    const [keep, other] = selected.map(byId);
    if (!confirm(`Merge ${nameOf(other)} into ${nameOf(keep)}? 合并？`)) return;
    const r = await api(`/api/people/${keep.id}/merge`, {method: "POST", json: {other: String(other.id)}});
    selected = [r.id];
    toast(`Merged into ${r.name || "#" + r.id}`);
    await refreshAll();
  }));

  buttons.hide.addEventListener("click", () => act(async () => {
    const hide = !selected.every((id) => byId(id).hidden);
    for (const id of selected) await api(`/api/people/${id}/hidden`, {method: "PUT", json: {hidden: hide}});
    toast(hide ? `Hid ${selected.length}` : `Showing ${selected.length} again`);
    if (hide && !showHidden.checked) selected = [];
    await refreshAll();
  }));

  buttons.collage.addEventListener("click", () => act(async () => {
    buttons.collage.disabled = true;
    try {
      const c = await api(`/api/people/${selected[0]}/collage`, {method: "POST"});
      // The file keeps its name when remade: a fresh query string shows the new one.
      const src = `${c.url}?t=${Date.now()}`;
      collageView.replaceChildren(el("h2", {}, `Collage of ${nameOf(byId(selected[0]) || {id: selected[0]})} `, el("span", {lang: "zh", text: "拼图"})),
        el("a", {href: src, target: "_blank"}, el("img", {id: "collage-image", src, alt: "collage", width: c.width, height: c.height})),
        el("p.muted", {text: `${c.faces} faces · ${c.width}×${c.height}`}));
      collageView.hidden = false;
      collageView.scrollIntoView({behavior: "smooth"});
    } finally { updateToolbar(); }
  }));

  showHidden.addEventListener("change", loadWall);

  // ---- naming queue ------------------------------------------------------------------------

  async function loadQueue() {
    try { queue = await api("/api/people", {params: {unnamed: "true"}}); }
    catch (err) { queue = []; toast(err.message, "error"); }
    if (queueAt >= queue.length) queueAt = 0;
    showQueue();
  }

  async function showQueue() {
    const faces = document.getElementById("queue-faces");
    const form = document.getElementById("queue-form");
    document.getElementById("queue-empty").hidden = queue.length > 0;
    form.hidden = !queue.length;
    document.getElementById("queue-count").textContent = queue.length ? `${queueAt + 1} / ${queue.length}` : "";
    if (!queue.length) { faces.replaceChildren(); return; }
    const p = queue[queueAt];
    faces.dataset.id = p.id;
    faces.replaceChildren(face(p.cover_face_id, nameOf(p)));
    document.getElementById("queue-name").value = "";
    try {
      const rows = await api(`/api/people/${p.id}/faces`);
      if (faces.dataset.id !== String(p.id)) return;  // the user moved on meanwhile
      faces.replaceChildren(...rows.slice(0, 6).map((f) => el("a", {href: `/photos/${f.item_id}`, title: "open the photo"},
        face(f.id, nameOf(p)))), el("div.muted", {text: `${p.faces} face${p.faces === 1 ? "" : "s"} in ${p.photos} photo${p.photos === 1 ? "" : "s"}`}));
    } catch (err) { toast(err.message, "error"); }
  }

  document.getElementById("queue-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act(async () => {
      const name = document.getElementById("queue-name").value.trim();
      if (!name) { document.getElementById("queue-name").focus(); return; }
      const p = queue[queueAt];
      await api(`/api/people/${p.id}/name`, {method: "PUT", json: {name}});
      toast(`Named ${name}`);
      await refreshAll();
    });
  });
  document.getElementById("queue-next").addEventListener("click", () => {
    if (!queue.length) return;
    queueAt = (queueAt + 1) % queue.length;
    showQueue();
  });

  // ---- merge suggestions -------------------------------------------------------------------

  async function loadSuggestions() {
    const list = document.getElementById("suggestion-list");
    let pairs;
    try { pairs = await api("/api/people/suggestions", {params: {limit: 12}}); }
    catch (err) { list.replaceChildren(el("p.error", {text: err.message})); return; }
    if (!pairs.length) { list.replaceChildren(el("p.muted", {text: "No likely pairs. 没有相似的人。"})); return; }
    list.replaceChildren(...pairs.map(({a, b, distance}) => {
      // A named person keeps their name: they are the one that stays.
      const [keep, other] = !a.name && b.name ? [b, a] : [a, b];
      return el("div.suggestion", {dataset: {a: a.id, b: b.id}},
        el("a", {href: `/people/${a.id}`}, face(a.cover_face_id, nameOf(a)), el("div", {text: nameOf(a)})),
        el("a", {href: `/people/${b.id}`}, face(b.cover_face_id, nameOf(b)), el("div", {text: nameOf(b)})),
        el("div.suggestion-actions", {},
          el("span.muted", {text: `distance ${distance.toFixed(2)}`}),
          el("button.merge-suggestion", {type: "button", dataset: {keep: keep.id, other: other.id},
            onclick: () => act(async () => {
              const r = await api(`/api/people/${keep.id}/merge`, {method: "POST", json: {other: String(other.id)}});
              toast(`Merged into ${r.name || "#" + r.id}`);
              await refreshAll();
            })}, "Merge ", el("span", {lang: "zh", text: "合并"}))));
    }));
  }

  refreshAll();
})();
