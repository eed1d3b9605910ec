// Shared helpers for every page: the API call, small DOM builders, dates, and the toast.
"use strict";
const DD = (() => {
  class ApiError extends Error {
    constructor(status, body) { super((body && body.error) || `HTTP ${status}`); this.status = status; this.body = body; }
  }

  async function api(path, {method = "GET", json, form, params} = {}) {
    let url = path;
    if (params) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) {
        if (v === undefined || v === null || v === "" || v === false) continue;
        for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
      }
      const s = q.toString();
      if (s) url += (url.includes("?") ? "&" : "?") + s;
    }
    const init = {method, credentials: "same-origin", headers: {}};
    if (json !== undefined) { init.body = JSON.stringify(json); init.headers["Content-Type"] = "application/json"; }
    if (form !== undefined) init.body = form;
    const r = await fetch(url, init);
    if (r.status === 401 && !location.pathname.startsWith("/signin")) {
      location.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
      throw new ApiError(401, {error: "sign in first"});
    }
    const type = r.headers.get("content-type") || "";
    const body = type.includes("json") ? await r.json() : await r.text();
    if (!r.ok) throw new ApiError(r.status, body);
    return body;
  }

  // el("a.thumb", {href: "/x", onclick: f}, child, "text")
  function el(spec, attrs = {}, ...children) {
    const [tag, ...classes] = spec.split(".");
    const node = document.createElement(tag || "div");
    if (classes.length) node.className = classes.join(" ");
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c);
    return node;
  }

  function placeName(place) {
    if (!place) return "";
    const en = [place.city, place.country].filter(Boolean).join(", ");
    const zh = [place.country_zh, place.city_zh].filter(Boolean).join("");
    return zh && zh !== en ? `${en} · ${zh}` : en;
  }

  function day(iso) { return iso ? iso.slice(0, 10) : "undated"; }

  function toast(text, kind = "info") {
    const t = document.getElementById("toast");
    t.textContent = text; t.className = "show " + kind;
    clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.className = ""; }, 4000);
  }

  // A grid card for one photo: clicking opens the photo page.
  function thumb(photo, extra = {}) {
    const img = el("img", {src: `/api/photos/${photo.id}/thumbnail`, alt: photo.description || `photo ${photo.id}`,
                           loading: "lazy", width: 160, height: 160});
    return el("a.thumb", {href: `/photos/${photo.id}`, title: [day(photo.taken_at), placeName(photo.place)].filter(Boolean).join(" · "),
                          dataset: {id: photo.id}, ...extra}, img);
  }

  const out = document.getElementById("signout");
  if (out) out.addEventListener("click", async () => { await api("/api/session", {method: "DELETE"}); location.href = "/signin"; });

  return {api, el, placeName, day, toast, thumb, ApiError};
})();
