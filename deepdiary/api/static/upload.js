// Upload: files and whole folders by drag-and-drop or pickers, one job per kind, polled until done.
"use strict";
(() => {
  const {api, el, toast} = DD;
  const kindSelect = document.getElementById("kind");
  const dropzone = document.getElementById("dropzone");
  const jobsBox = document.getElementById("jobs");

  const PHOTO = /\.(jpe?g|png|heic|heif|webp|tiff?|gif|bmp|dng|cr2|nef|arw)$/i;
  const TRACK = /\.(gpx|kml|kmz|geojson)$/i;
  const TEXT = /\.(json|csv|txt|html?|md|xml)$/i;
  // The upload route calls location files "tracks"; the page says "locations" and sends whichever the server takes.
  const SERVER_KIND = {locations: ["tracks", "locations"]};

  function guess(file) {
    const name = file.name;
    if (PHOTO.test(name) || (file.type || "").startsWith("image/")) return "photos";
    if (TRACK.test(name)) return "locations";
    if (TEXT.test(name)) return "chats";
    return null;
  }

  // Split the files by kind: the user's pick wins; otherwise the extension decides.
  function sortOut(files) {
    const picked = kindSelect.value;
    const groups = {}, unknown = [];
    for (const f of files) {
      if (f.name.startsWith(".")) continue;  // .DS_Store and other dot files that come with folders
      const kind = picked !== "auto" ? picked : guess(f);
      if (!kind) { unknown.push(f.name); continue; }
      (groups[kind] = groups[kind] || []).push(f);
    }
    if (unknown.length) toast(`Not sure what ${unknown.length} file(s) are (${unknown.slice(0, 3).join(", ")}): pick a kind and drop them again`, "error");
    return groups;
  }

  // ---- folders: walk DataTransfer entries --------------------------------------------------

  function entryFiles(entry) {
    if (!entry) return Promise.resolve([]);
    if (entry.isFile) return new Promise((ok) => entry.file((f) => ok([f]), () => ok([])));
    if (!entry.isDirectory) return Promise.resolve([]);
    const reader = entry.createReader();
    // readEntries hands out a folder in batches (100 in Chromium) until it returns an empty one.
    return new Promise((ok) => {
      const all = [];
      const next = () => reader.readEntries(async (batch) => {
        if (!batch.length) {
          const nested = await Promise.all(all.map(entryFiles));
          ok(nested.flat());
          return;
        }
        all.push(...batch);
        next();
      }, () => ok([]));
      next();
    });
  }

  async function droppedFiles(dt) {
    const entries = [...(dt.items || [])].filter((i) => i.kind === "file")
      .map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
    if (entries.length && entries.every(Boolean)) return (await Promise.all(entries.map(entryFiles))).flat();
    return [...dt.files];
  }

  // ---- one job row -------------------------------------------------------------------------

  function jobRow(kind, files) {
    document.getElementById("no-jobs")?.remove();
    const row = el("div.job.card", {dataset: {kind, status: "uploading"}},
      el("div.job-head", {},
        el("strong", {text: `${kind} · ${files.length} file${files.length === 1 ? "" : "s"}`}),
        el("span.status", {text: "uploading 上传中"})),
      el("progress", {max: 100, value: 0}),
      el("div.phase.muted"),
      el("p.result"),
      el("ul.problems"));
    jobsBox.prepend(row);
    return row;
  }

  function send(kind, files, row) {
    const form = new FormData();
    form.append("kind", kind);
    for (const f of files) form.append("files", f, f.webkitRelativePath || f.name);
    // XMLHttpRequest rather than fetch: it reports how much of a large upload has gone.
    return new Promise((ok, fail) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/uploads");
      xhr.withCredentials = true;
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) row.querySelector("progress").value = Math.round(100 * e.loaded / e.total);
      };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON: say the status below */ }
        if (xhr.status === 401) { location.href = "/signin?next=/upload"; return; }
        if (xhr.status >= 200 && xhr.status < 300) ok(body);
        else fail(new DD.ApiError(xhr.status, body));
      };
      xhr.onerror = () => fail(new Error("the upload did not reach the server"));
      xhr.send(form);
    });
  }

  function showJob(row, job) {
    row.dataset.status = job.status;
    row.dataset.jobId = job.id;
    row.querySelector(".status").textContent = {queued: "queued 排队中", running: "running 处理中", done: "done 完成",
                                                 failed: "failed 失败"}[job.status] || job.status;
    const bar = row.querySelector("progress");
    const phases = Object.entries(job.progress || {});
    if (job.status === "done") bar.value = bar.max;
    else if (phases.length) {
      // Phases run one after another: the bar follows the latest one.
      const [name, p] = phases[phases.length - 1];
      if (p.total) { bar.max = p.total; bar.value = p.done; } else bar.removeAttribute("value");
      row.querySelector(".phase").textContent = phases.map(([n, q]) => `${n} ${q.done}${q.total ? "/" + q.total : ""}`).join(" · ");
      row.querySelector(".phase").dataset.phase = name;
    } else if (job.status !== "failed") bar.removeAttribute("value");  // indeterminate until the first phase reports
    const r = job.result;
    if (r) {
      const counts = ["added", "linked", "unchanged", "failed", "warned"].filter((k) => r[k] !== undefined)
        .map((k) => `${k} ${r[k]}`).join(" · ");
      const result = row.querySelector(".result");
      result.replaceChildren(counts);
      if (row.dataset.kind === "photos" && r.item_ids && r.item_ids.length) {
        result.append(" · ", el("a", {href: `/photos/${r.item_ids[0]}`, text: "see the first photo 查看"}));
      }
      row.querySelector(".problems").replaceChildren(...(r.problems || []).map((p) => el("li", {},
        el("span.problem-file", {text: (p.file || p.path || "").split("/").pop()}), ": ",
        el("span", {class: (p.kind || p.severity) === "error" ? "error" : "", text: p.reason}))));
    }
    if (job.error) row.querySelector(".problems").replaceChildren(el("li.error", {text: job.error}));
  }

  async function poll(row, id) {
    for (;;) {
      let job;
      try { job = await api(`/api/jobs/${encodeURIComponent(id)}`); }
      catch (err) { toast(err.message, "error"); row.querySelector(".status").textContent = err.message; return; }
      showJob(row, job);
      if (job.status === "done" || job.status === "failed") return job;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function upload(kind, files) {
    const row = jobRow(kind, files);
    try {
      let job;
      const names = SERVER_KIND[kind] || [kind];
      for (const [i, k] of names.entries()) {
        try { job = await send(k, files, row); break; }
        catch (err) {
          // Only a refused kind name is worth another try.
          const refusedKind = err instanceof DD.ApiError && err.status === 422 && /kind/.test(err.message);
          if (!refusedKind || i === names.length - 1) throw err;
        }
      }
      showJob(row, job);
      const done = await poll(row, job.id);
      if (done && done.status === "done") toast(`${kind}: ${done.result ? done.result.added : 0} added`);
      if (done && done.status === "failed") toast(done.error || "the upload failed", "error");
    } catch (err) {
      row.dataset.status = "failed";
      row.querySelector(".status").textContent = "failed 失败";
      row.querySelector(".problems").replaceChildren(el("li.error", {text: err.message}));
      toast(err.message, "error");
    }
  }

  function take(files) {
    const groups = sortOut(files);
    for (const [kind, list] of Object.entries(groups)) upload(kind, list);
  }

  for (const id of ["file-input", "folder-input"]) {
    const input = document.getElementById(id);
    input.addEventListener("change", () => { take([...input.files]); input.value = ""; });
  }
  dropzone.addEventListener("dragover", (e) => { e.preventDefault(); dropzone.classList.add("over"); });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", async (e) => {
    e.preventDefault();
    dropzone.classList.remove("over");
    try { take(await droppedFiles(e.dataTransfer)); } catch (err) { toast(err.message, "error"); }
  });
  // A file dropped beside the zone would make the browser leave the page and open it.
  addEventListener("dragover", (e) => e.preventDefault());
  addEventListener("drop", (e) => e.preventDefault());
})();
