// Gallery: facet form + natural-language chips -> /api/photos, grouped by day, loaded page by page.
"use strict";
(() => {
  const {api, el, toast} = DD;
  const PAGE = 60;
  // Facets that may appear more than once in a search (the API takes them repeated).
  const REPEATED = new Set(["person", "color", "tag", "scene"]);

  const form = document.getElementById("facets");
  const nlForm = document.getElementById("nl-form");
  const nlInput = document.getElementById("nl-input");
  const chipsBox = document.getElementById("chips");
  const results = document.getElementById("results");
  const count = document.getElementById("result-count");
  const empty = document.getElementById("empty");
  const more = document.getElementById("more");
  const region = document.getElementById("color-region");
  const peopleBox = document.getElementById("people-options");

  // Chips come from the natural-language box (or from URL values the form cannot show);
  // chipParams holds the parameters they stand for, so removing a chip removes exactly its value.
  let chips = [];
  let chipParams = {};
  let people = new Map();  // id (string) -> display name
  let generation = 0, offset = 0, hasMore = false, loading = false, shown = 0;
  let lastDay = null, lastGrid = null, lastPlaces = null;

  const asList = (v) => (v === undefined || v === null || v === "") ? [] : (Array.isArray(v) ? v : [v]);

  function personName(id) { return people.get(String(id)) || String(id); }

  function chipLabel(facet, value) {
    if (facet === "person") return personName(value);
    if (facet === "only") return "only them";
    if (facet === "q") return `“${value}”`;
    return `${facet}: ${value}`;
  }

  // ---- the facet form <-> parameters -------------------------------------------------------

  function formParams() {
    const out = {};
    for (const [k, raw] of new FormData(form)) {
      const v = String(raw).trim();
      if (!v || k === "nl") continue;
      if (k === "order" && v === "date") continue;  // the default: keep links short
      let value = v;
      if (k === "color" && region.value && !v.includes(":")) value = `${region.value}:${v}`;
      if (REPEATED.has(k)) out[k] = [...asList(out[k]), value];
      else out[k] = value;
    }
    return out;
  }

  // What the page shows and puts in the URL: the chips' parameters plus the form's.
  function uiParams() {
    const out = {};
    for (const [k, v] of Object.entries(chipParams)) out[k] = REPEATED.has(k) ? [...asList(v)] : v;
    for (const [k, v] of Object.entries(formParams())) {
      if (REPEATED.has(k)) out[k] = [...new Set([...asList(out[k]), ...v].map(String))];
      else out[k] = v;
    }
    return out;
  }

  // The API spells "newest first" as newest=true rather than an order.
  function apiParams(ui) {
    const out = {...ui};
    if (out.order === "newest") { delete out.order; out.newest = "true"; }
    return out;
  }

  function toQuery(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of asList(v)) q.append(k, one);
    return q;
  }

  function resetForm() {
    form.reset();
    region.value = "";
    updatePicked();
  }

  // Put one URL value into the form if it has a place for it; say whether it did.
  // `filled` holds the single-valued fields already set from this URL: a second value becomes a chip.
  function setField(key, value, filled) {
    if (key === "newest" && value === "true") key = "order", value = "newest";
    if (key === "person") {
      const box = form.querySelector(`input[name="person"][value="${CSS.escape(value)}"]`);
      if (!box) return false;
      box.checked = true;
      return true;
    }
    const field = form.elements.namedItem(key);
    if (!field || !(field instanceof HTMLElement) || !field.name) return false;
    if (filled.has(key)) return false;
    filled.add(key);
    if (field.type === "checkbox") { field.checked = value === "true"; return true; }
    if (key === "color") {
      const m = value.match(/^(fg|bg):(.+)$/);
      region.value = m ? m[1] : "";
      field.value = m ? m[2] : value;
      return true;
    }
    const before = field.value;
    field.value = value;
    if (field.value === value) return true;
    // A date input refuses "2023-07", a select an unknown option: keep the value as a chip instead.
    field.value = before;
    filled.delete(key);
    return false;
  }

  function applyQuery(search) {
    resetForm();
    chips = []; chipParams = {};
    const filled = new Set();
    for (const [k, v] of new URLSearchParams(search)) {
      if (k === "limit" || k === "offset") continue;
      if (setField(k, v, filled)) continue;
      addChipParam(k, v);
      chips.push({facet: k, value: v, label: chipLabel(k, v)});
    }
    updatePicked();
    renderChips();
  }

  function addChipParam(k, v) {
    if (REPEATED.has(k)) chipParams[k] = [...asList(chipParams[k]), v];
    else chipParams[k] = v;
  }

  // ---- chips -------------------------------------------------------------------------------

  function renderChips() {
    chipsBox.replaceChildren(...chips.map((c, i) => el("span.chip", {dataset: {facet: c.facet, value: String(c.value)}},
      el("span", {text: c.label || chipLabel(c.facet, c.value)}),
      el("button", {type: "button", title: "remove 移除", "aria-label": `remove ${c.label || c.value}`,
                    onclick: () => removeChip(i), text: "×"}))));
  }

  function removeChip(i) {
    const [c] = chips.splice(i, 1);
    const current = chipParams[c.facet];
    if (Array.isArray(current)) {
      const rest = current.filter((v) => String(v) !== String(c.value));
      if (rest.length) chipParams[c.facet] = rest; else delete chipParams[c.facet];
    } else if (current !== undefined && String(current) === String(c.value)) {
      delete chipParams[c.facet];
    }
    renderChips();
    run();
  }

  async function parse(text) {
    try {
      const r = await api("/api/parse", {params: {q: text}});
      chips = r.chips || [];
      chipParams = {...(r.params || {})};
      // A chip whose value the params lack would do nothing when removed: keep the two in step.
      for (const c of chips) {
        if (!asList(chipParams[c.facet]).map(String).includes(String(c.value))) addChipParam(c.facet, c.value);
      }
    } catch (err) {
      if (!(err instanceof DD.ApiError) || err.status !== 404) throw err;
      // No parser on this server: search the words as free text.
      chips = [{facet: "q", value: text, label: chipLabel("q", text)}];
      chipParams = {q: text};
    }
    renderChips();
  }

  // ---- people filter -----------------------------------------------------------------------

  async function loadPeople() {
    try {
      const rows = await api("/api/people");
      people = new Map(rows.map((p) => [String(p.id), p.name || `Unnamed #${p.id}`]));
      peopleBox.replaceChildren(...rows.map((p) => el("label.inline", {},
        el("input", {type: "checkbox", name: "person", value: String(p.id)}),
        el("span", {text: ` ${p.name || `Unnamed #${p.id}`}`}),
        el("span.muted", {text: ` (${p.photos})`}))));
      if (!rows.length) peopleBox.replaceChildren(el("span.muted", {text: "no people yet 还没有人物"}));
    } catch (err) {
      peopleBox.replaceChildren(el("span.error", {text: err.message}));
    }
  }

  function updatePicked() {
    const n = form.querySelectorAll('input[name="person"]:checked').length;
    document.getElementById("people-picked").textContent = n ? `(${n})` : "";
  }

  // ---- results -----------------------------------------------------------------------------

  function addPhotos(photos, grouped) {
    for (const p of photos) {
      const d = DD.day(p.taken_at);
      if (!grouped) {
        if (!lastGrid) { lastGrid = el("div.grid"); results.append(lastGrid); }
      } else if (d !== lastDay) {
        lastDay = d; lastPlaces = [];
        const header = el("h3.day-header", {}, d, el("span.place"));
        lastGrid = el("div.day-photos");
        results.append(el("section.day", {dataset: {day: d}}, header, lastGrid));
      }
      const place = DD.placeName(p.place);
      if (grouped && place && !lastPlaces.includes(place)) {
        lastPlaces.push(place);
        lastGrid.previousElementSibling.querySelector(".place").textContent = " · " + lastPlaces.join(" / ");
      }
      lastGrid.append(DD.thumb(p));
    }
  }

  function showCount() {
    const n = `${shown}${hasMore ? "+" : ""}`;
    count.textContent = `${n} photo${shown === 1 && !hasMore ? "" : "s"}`;
    empty.hidden = shown > 0;
    more.textContent = hasMore ? "loading more… 加载中" : "";
  }

  function nearEnd() { return more.getBoundingClientRect().top < innerHeight + 400; }

  async function loadPage() {
    if (loading || (!hasMore && offset > 0)) return;
    loading = true;
    results.dataset.state = "loading";
    const mine = generation;
    const ui = uiParams();
    try {
      const page = await api("/api/photos", {params: {...apiParams(ui), limit: PAGE, offset}});
      if (mine !== generation) return;
      // Relevance and likeness orders are not by date: day headers would only chop them up.
      addPhotos(page.results, !(ui.order === "relevance" || ui.like));
      offset += page.results.length;
      shown += page.results.length;
      hasMore = page.has_more && page.results.length > 0;
      showCount();
    } catch (err) {
      if (mine === generation) { toast(err.message, "error"); count.textContent = ""; hasMore = false; }
    } finally {
      if (mine === generation) { loading = false; results.dataset.state = "ready"; }
    }
    // The observer only fires on a change: if the sentinel is still in view, keep filling.
    if (mine === generation && hasMore && nearEnd()) loadPage();
  }

  function run({push = true} = {}) {
    generation++;
    loading = false; offset = 0; hasMore = false; shown = 0;
    lastDay = null; lastGrid = null; lastPlaces = null;
    results.replaceChildren();
    // Tests (and anything else watching) can tell a finished search from the one before it.
    results.dataset.search = String(generation);
    results.dataset.state = "loading";
    count.textContent = "searching… 搜索中";
    empty.hidden = true;
    const q = toQuery(uiParams()).toString();
    const url = location.pathname + (q ? `?${q}` : "");
    if (push && url !== location.pathname + location.search) history.pushState(null, "", url);
    return loadPage();
  }

  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && hasMore) loadPage();
  }, {rootMargin: "400px"}).observe(more);
  // The observer reports changes only, so one report it dropped (or one that came while a page
  // was loading) would leave the gallery short: CI's busy machine once stopped at 12 of 16
  // photos while the reader kept scrolling. Each scroll near the end asks again.
  addEventListener("scroll", () => { if (hasMore && !loading && nearEnd()) loadPage(); }, {passive: true});

  nlForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = nlInput.value.trim();
    try {
      if (text) await parse(text);
      else { chips = []; chipParams = {}; renderChips(); }
      await run();
    } catch (err) { toast(err.message, "error"); }
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  // Selects and boxes search at once; typed fields wait for Enter or Apply.
  form.addEventListener("change", (e) => {
    if (e.target.name === "person") updatePicked();
    if (e.target.matches("select, input[type=checkbox], input[type=date]")) run();
  });
  document.getElementById("clear").addEventListener("click", () => {
    resetForm(); chips = []; chipParams = {}; nlInput.value = ""; renderChips(); run();
  });
  addEventListener("popstate", () => { applyQuery(location.search); run({push: false}); });
  // On a phone the form would hide the photos: it folds away behind a button.
  const toggle = document.getElementById("facets-toggle");
  toggle.addEventListener("click", () => {
    const open = form.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  // The people list floats over the results: a click elsewhere puts it away.
  const pick = document.querySelector(".people-pick");
  document.addEventListener("click", (e) => { if (pick.open && !pick.contains(e.target)) pick.open = false; });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") pick.open = false; });

  (async () => {
    await loadPeople();  // first, so that ?person=3 ticks a box instead of becoming a chip
    applyQuery(location.search);
    run({push: false});
  })();
})();
