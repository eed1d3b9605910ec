// The map: photos (clustered), stays and GPS tracks over an offline world outline.
"use strict";
(() => {
  const box = document.getElementById("map");
  const fromInput = document.getElementById("map-from");
  const toInput = document.getElementById("map-to");
  const panel = document.getElementById("cluster-gallery");

  // The canvas renderer keeps thousands of points and the detailed outline fast.
  const map = L.map(box, {worldCopyJump: true, preferCanvas: true, minZoom: 1, maxZoom: 18}).setView([20, 0], 2);
  const cluster = L.markerClusterGroup({chunkedLoading: true, zoomToBoundsOnClick: false, showCoverageOnHover: false,
                                        maxClusterRadius: 50});
  const extras = L.layerGroup();  // stays and tracks: never clustered
  map.addLayer(cluster);
  map.addLayer(extras);
  window.DDMap = {map, cluster, photoCount: 0};

  function basemap() {
    const tileUrl = box.dataset.tileUrl;
    if (tileUrl) {
      L.tileLayer(tileUrl, {maxZoom: 19, attribution: "map tiles"}).addTo(map);
      return;
    }
    // No tile server offline: Natural Earth countries drawn from the bundled TopoJSON.
    map.createPane("world").style.zIndex = 200;
    DD.api("/static/vendor/countries-50m.json").then((topo) => {
      const countries = topojson.feature(topo, topo.objects.countries);
      const borders = topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b);
      L.geoJSON(countries, {pane: "world", interactive: false,
                            style: {stroke: false, fillColor: "#f3efe4", fillOpacity: 1}}).addTo(map);
      L.geoJSON(borders, {pane: "world", interactive: false,
                          style: {color: "#b9b2a3", weight: 0.7, fill: false}}).addTo(map);
    }).catch((err) => DD.toast("World outline: " + err.message, "error"));
  }

  function placeText(place) {
    return place && typeof place === "object" ? DD.placeName(place) : (place || "");
  }

  function span(start, end) {
    const a = DD.day(start), b = DD.day(end);
    return end && b !== a ? `${a} – ${b}` : a;
  }

  function photoMarker(f) {
    const [lon, lat] = f.geometry.coordinates;
    const p = f.properties;
    const m = L.circleMarker([lat, lon], {radius: 7, color: "#fff", weight: 2, fillColor: "#2f6fdb", fillOpacity: 0.95,
                                          photoId: p.id, takenAt: p.taken_at});
    // Built on open, so thousands of markers do not each hold a thumbnail element.
    m.bindPopup(() => {
      const caption = DD.el("div", {text: [DD.day(p.taken_at), placeText(p.place)].filter(Boolean).join(" · ")});
      // The map sends only a place id; the photo's own record names the place.
      if (!p.place) DD.api(`/api/photos/${p.id}`).then((photo) => {
        if (photo.place) caption.textContent = `${DD.day(p.taken_at)} · ${DD.placeName(photo.place)}`;
      }).catch(() => {});
      return DD.el("div.map-popup", {}, DD.thumb({id: p.id, taken_at: p.taken_at}), caption);
    }, {minWidth: 170});
    return m;
  }

  function stayMarker(f) {
    const [lon, lat] = f.geometry.coordinates;
    const p = f.properties;
    return L.circleMarker([lat, lon], {radius: 11, color: "#d9822b", weight: 3, fillColor: "#ffd9a8", fillOpacity: 0.5})
      .bindPopup(DD.el("div.map-popup", {}, DD.el("strong", {text: p.name || "Stay 停留"}),
                       DD.el("div", {text: span(p.start, p.end)})));
  }

  function trackLine(f) {
    const p = f.properties;
    const lines = f.geometry.type === "MultiLineString" ? f.geometry.coordinates : [f.geometry.coordinates];
    return L.polyline(lines.map((line) => line.map(([lon, lat]) => [lat, lon])), {color: "#c0392b", weight: 3, opacity: 0.8})
      .bindPopup(DD.el("div.map-popup", {}, DD.el("strong", {text: p.name || "Track 轨迹"}),
                       DD.el("div", {text: span(p.start, p.end)}),
                       p.points ? DD.el("div.muted", {text: `${p.points} points 个点`}) : null));
  }

  function openGallery(markers) {
    const grid = panel.querySelector(".grid");
    const photos = markers.filter((m) => m.options.photoId !== undefined)
      .map((m) => ({id: m.options.photoId, taken_at: m.options.takenAt}))
      .sort((a, b) => (a.taken_at || "").localeCompare(b.taken_at || ""));
    grid.replaceChildren(...photos.map((p) => DD.thumb(p)));
    const days = [...new Set(photos.map((p) => DD.day(p.taken_at)))].sort();
    panel.querySelector("#cluster-caption").textContent =
      `${photos.length} photos 张照片` + (days.length ? ` · ${span(days[0], days[days.length - 1])}` : "");
    panel.hidden = false;
    map.invalidateSize();
  }

  cluster.on("clusterclick", (e) => {
    openGallery(e.layer.getAllChildMarkers());
    // Still zoom in, unless the photos sit on one spot: then fan them out.
    const bounds = e.layer.getBounds();
    if (map.getZoom() >= map.getMaxZoom() || bounds.getNorthEast().equals(bounds.getSouthWest())) e.layer.spiderfy();
    else e.layer.zoomToBounds({padding: [30, 30]});
  });
  document.getElementById("cluster-close").addEventListener("click", () => { panel.hidden = true; map.invalidateSize(); });

  let latest = 0;  // dates change faster than answers come back: only the last answer is drawn

  async function load(fit) {
    const mine = ++latest;
    let data;
    try {
      data = await DD.api("/api/map", {params: {from: fromInput.value, to: toInput.value}});
    } catch (err) {
      DD.toast(err.message, "error");
      return;
    }
    if (mine !== latest) return;
    cluster.clearLayers();
    extras.clearLayers();
    const photos = [], bounds = L.latLngBounds([]);
    let stays = 0, tracks = 0;
    for (const f of data.features || []) {
      const kind = f.properties && f.properties.kind;
      if (!f.geometry) continue;
      if (kind === "photo") photos.push(photoMarker(f));
      else if (kind === "stay") { extras.addLayer(stayMarker(f)); stays++; }
      else if (kind === "track") { extras.addLayer(trackLine(f)); tracks++; }
      else continue;
    }
    cluster.addLayers(photos);
    window.DDMap.photoCount = photos.length;
    for (const m of photos) bounds.extend(m.getLatLng());
    extras.eachLayer((l) => bounds.extend(l.getBounds ? l.getBounds() : l.getLatLng()));
    document.getElementById("map-count").textContent =
      `${photos.length} photos 张照片 · ${stays} stays 次停留 · ${tracks} tracks 条轨迹`;
    if (fit && bounds.isValid()) map.fitBounds(bounds, {padding: [40, 40], maxZoom: 12, animate: false});
  }

  fromInput.addEventListener("change", () => load(true));
  toInput.addEventListener("change", () => load(true));
  document.getElementById("map-clear").addEventListener("click", () => { fromInput.value = toInput.value = ""; load(true); });
  basemap();
  load(true);
})();
