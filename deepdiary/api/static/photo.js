// One photo: the picture with its faces, every fact the record holds, a small map, the rating, similar photos.
"use strict";
(() => {
  const {api, el, toast} = DD;
  const root = document.getElementById("photo-page");
  const id = root.dataset.itemId;
  const tileUrl = root.dataset.tileUrl;
  const img = document.getElementById("photo");
  const facesBox = document.getElementById("faces");
  const facts = document.getElementById("facts");
  const ratingBox = document.getElementById("rating");

  const pct = (n) => `${(100 * n).toFixed(3)}%`;

  // Boxes are in original pixels; percentages keep them on the face at any displayed size.
  function drawFaces(rec) {
    const w = rec.width, h = rec.height;
    if (!w || !h) return;
    facesBox.replaceChildren(...(rec.faces || []).map((f) => {
      const [x, y, bw, bh] = f.box;
      const label = f.person_id
        ? el("a", {href: `/people/${f.person_id}`, text: f.person || "unknown"})
        : document.createTextNode("unknown");
      return el("div.face-box", {dataset: {faceId: f.id, personId: f.person_id || ""},
                                 title: f.person || "unknown 未识别",
                                 style: `left:${pct(x / w)};top:${pct(y / h)};width:${pct(bw / w)};height:${pct(bh / h)}`},
        el("span", {}, label));
    }));
  }

  function when(rec) {
    if (!rec.taken_at) return null;
    let text = rec.taken_at.replace("T", " ").slice(0, 16);
    if (rec.tz_offset_min !== null && rec.tz_offset_min !== undefined) {
      const m = rec.tz_offset_min, a = Math.abs(m);
      text += ` UTC${m < 0 ? "−" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
    }
    return text;
  }

  function placeFacts(p) {
    if (!p) return null;
    const en = [p.city, p.region !== p.city ? p.region : null, p.country].filter(Boolean).join(", ");
    const zh = [p.country_zh, p.region_zh, p.city_zh].filter(Boolean).join("");
    return el("span", {}, el("a", {href: `/?near=${encodeURIComponent(p.city || p.country || "")}`, text: en}),
              zh ? el("span", {lang: "zh", text: ` ${zh}`}) : null);
  }

  function colours(list) {
    if (!list || !list.length) return null;
    const byRegion = {};
    for (const c of list) (byRegion[c.region] = byRegion[c.region] || []).push(c);
    const names = {image: "whole 整张", foreground: "foreground 前景", background: "background 背景"};
    return el("div.colour-rows", {}, Object.entries(byRegion).map(([region, cs]) => el("div.colour-row", {},
      el("span.muted", {text: `${names[region] || region}: `}),
      cs.sort((a, b) => a.rank - b.rank).map((c) => el("span.swatch", {
        style: `background:${c.hex}`, dataset: {name: c.name},
        title: `${c.name} ${c.name_zh || ""} ${Math.round(100 * (c.share || 0))}%`}),
      ),
      el("span.fine", {text: cs.map((c) => `${c.name}${c.name_zh ? " " + c.name_zh : ""}`).join(", ")}))));
  }

  function labels(tags, kind) {
    const mine = (tags || []).filter((t) => t.kind === kind);
    if (!mine.length) return null;
    return el("div.chips", {}, mine.map((t) => el("a.chip", {href: `/?${kind}=${encodeURIComponent(t.name)}`},
      `${t.name}${t.name_zh ? " " + t.name_zh : ""}`,
      t.score !== null && t.score !== undefined ? el("span.muted", {text: ` ${t.score.toFixed(2)}`}) : null)));
  }

  function stages(s) {
    if (!s || !Object.keys(s).length) return null;
    return el("table.plain.fine", {}, Object.entries(s).map(([name, st]) => el("tr", {},
      el("td", {text: name}), el("td", {class: st.status === "failed" ? "error" : "", text: st.status || ""}),
      el("td.muted", {text: [st.model, st.error].filter(Boolean).join(" · ")}))));
  }

  function renderFacts(rec) {
    const camera = [rec.camera_make, rec.camera_model].filter(Boolean).join(" ");
    const rows = [
      ["Date", "日期", when(rec)],
      ["Place", "地点", placeFacts(rec.place)],
      ["Coordinates", "坐标", rec.lat !== null && rec.lat !== undefined
        ? `${rec.lat.toFixed(5)}, ${rec.lon.toFixed(5)}${rec.alt !== null && rec.alt !== undefined ? ` · ${Math.round(rec.alt)} m` : ""}` : null],
      ["Camera", "相机", camera ? el("a", {href: `/?camera=${encodeURIComponent(rec.camera_model || camera)}`, text: camera}) : null],
      ["Lens", "镜头", rec.lens],
      ["Size", "尺寸", rec.width ? `${rec.width} × ${rec.height} px${rec.format ? " · " + rec.format : ""}` : null],
      ["Layout", "版式", rec.layout],
      ["Colours", "颜色", colours(rec.colours)],
      ["Scenes", "场景", labels(rec.tags, "scene")],
      ["Tags", "标签", labels(rec.tags, "tag")],
      ["Description", "描述", rec.description],
      ["Chinese description", "中文描述", rec.description_zh ? el("span", {lang: "zh-CN", text: rec.description_zh}) : null],
      ["Category", "类别", rec.category],
      ["People", "人数", rec.people_count !== null && rec.people_count !== undefined ? String(rec.people_count) : null],
      ["Stages", "处理阶段", stages(rec.stages)],
      ["File", "文件", (rec.paths || [rec.path]).filter(Boolean).join("\n") || null],
    ];
    facts.replaceChildren(...rows.filter(([, , v]) => v !== null && v !== undefined && v !== "").flatMap(([en, zh, v]) => [
      el("dt", {}, `${en} `, el("span", {lang: "zh", text: zh})),
      el("dd", {dataset: {fact: en.toLowerCase()}}, v),
    ]));
  }

  function showRating(stars) {
    for (const b of ratingBox.querySelectorAll("button[data-stars]")) {
      const n = Number(b.dataset.stars);
      if (n === 0) continue;
      b.textContent = n <= stars ? "★" : "☆";
      b.classList.toggle("on", n <= stars);
    }
    ratingBox.dataset.rating = String(stars || 0);
  }

  ratingBox.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-stars]");
    if (!b) return;
    try {
      const r = await api(`/api/photos/${id}/rating`, {method: "PUT", json: {stars: Number(b.dataset.stars)}});
      showRating(r.rating);
      toast(r.rating ? `Rated ${r.rating} ★` : "Rating cleared");
    } catch (err) { toast(err.message, "error"); }
  });

  async function drawMap(rec) {
    if (rec.lat === null || rec.lat === undefined || typeof L === "undefined") return;
    const box = document.getElementById("photo-map");
    box.hidden = false;
    const map = L.map(box, {attributionControl: false}).setView([rec.lat, rec.lon], tileUrl ? 11 : 4);
    if (tileUrl) L.tileLayer(tileUrl, {maxZoom: 19}).addTo(map);
    else {
      // No tile server (the app works offline): draw the coastlines that ship with the app instead.
      try {
        const topo = await fetch("/static/vendor/land-50m.json").then((r) => r.json());
        L.geoJSON(topojson.feature(topo, topo.objects.land),
                  {style: {color: "#9aa89a", weight: 1, fillColor: "#e8eedf", fillOpacity: 1}, interactive: false}).addTo(map);
      } catch (_) { /* a plain background still shows where */ }
    }
    L.circleMarker([rec.lat, rec.lon], {radius: 8, color: "#b3261e", fillColor: "#e53935", fillOpacity: .9})
      .bindTooltip(DD.el("span", {text: DD.placeName(rec.place) || `${rec.lat.toFixed(4)}, ${rec.lon.toFixed(4)}`})).addTo(map);
  }

  async function similar() {
    const box = document.getElementById("similar");
    try {
      const page = await api(`/api/photos/${id}/similar`, {params: {limit: 12}});
      const others = page.results.filter((p) => String(p.id) !== String(id));
      box.replaceChildren(...(others.length ? others.map((p) => DD.thumb(p)) : [el("p.muted", {text: "none 无"})]));
    } catch (err) {
      box.replaceChildren(el("p.error", {text: err.message}));
    }
  }

  (async () => {
    let rec;
    try {
      rec = await api(`/api/photos/${id}`);
    } catch (err) {
      toast(err.message, "error");
      facts.replaceChildren(el("dd.error", {text: err.message}));
      for (const id of ["similar-section", "rating"]) document.getElementById(id).hidden = true;
      document.querySelector(".photo-frame").hidden = true;
      return;
    }
    document.title = `${rec.title || "Photo " + id} · Deep Diary`;
    document.getElementById("photo-title").textContent = [rec.title, DD.day(rec.taken_at), DD.placeName(rec.place)].filter(Boolean).join(" · ");
    // Browsers cannot show every original (HEIC, TIFF): fall back to the thumbnail.
    img.addEventListener("error", () => {
      if (!img.src.endsWith("/thumbnail")) img.src = `/api/photos/${id}/thumbnail`;
    }, {once: false});
    img.src = `/api/photos/${id}/original`;
    img.alt = rec.description || rec.title || `photo ${id}`;
    drawFaces(rec);
    renderFacts(rec);
    showRating(rec.rating || 0);
    drawMap(rec);
    similar();
  })();
})();
