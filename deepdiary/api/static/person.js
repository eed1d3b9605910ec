// One person: name, faces (move, unassign, split off), notes, hide, collage.
"use strict";
(() => {
  const {api, el, toast} = DD;
  const root = document.getElementById("person-page");
  const facesBox = document.getElementById("person-faces");
  const splitButton = document.getElementById("split");
  let person = null;        // the PersonDetail row
  let chosen = new Set();   // face ids picked for a split

  // The page may be opened by name (/people/Alice); after the first load, the id is what stays true.
  const key = () => (person ? person.id : encodeURIComponent(root.dataset.person));
  const nameOf = (p) => p.name || `Unnamed #${p.id}`;

  async function act(fn) {
    try { await fn(); } catch (err) { toast(err.message, "error"); }
  }

  async function loadPerson() {
    person = await api(`/api/people/${key()}`);
    document.title = `${nameOf(person)} · Deep Diary`;
    document.getElementById("person-name").textContent = nameOf(person);
    document.getElementById("person-meta").textContent = [
      person.aliases && person.aliases.length ? `also ${person.aliases.join(", ")}` : null,
      `${person.faces} face${person.faces === 1 ? "" : "s"} in ${person.photos} photo${person.photos === 1 ? "" : "s"}`,
      person.hidden ? "hidden 已隐藏" : null,
    ].filter(Boolean).join(" · ");
    document.getElementById("person-cover").replaceChildren(person.cover_face_id
      ? el("img", {src: `/api/faces/${person.cover_face_id}/crop`, alt: nameOf(person)}) : el("div.no-face", {text: "?"}));
    document.getElementById("all-photos").href = `/?person=${person.id}`;
    document.getElementById("hide").firstChild.textContent = person.hidden ? "Unhide " : "Hide ";
    renderNotes(person.notes || []);
    renderFacts(person.facts || []);
  }

  async function loadFaces() {
    const faces = await api(`/api/people/${key()}/faces`);
    chosen = new Set([...chosen].filter((id) => faces.some((f) => f.id === id)));
    document.getElementById("face-count").textContent = `(${faces.length})`;
    facesBox.replaceChildren(...faces.map(faceCard));
    if (!faces.length) facesBox.replaceChildren(el("p.muted", {text: "No faces. 没有面孔。"}));
    updateSplit();
  }

  function faceCard(f) {
    const node = el("div.face", {dataset: {id: f.id}, class: `face${chosen.has(f.id) ? " selected" : ""}`},
      el("img", {src: `/api/faces/${f.id}/crop`, alt: `face ${f.id}`, loading: "lazy", title: "click to select 点击选择",
                 onclick: () => { chosen.has(f.id) ? chosen.delete(f.id) : chosen.add(f.id); node.classList.toggle("selected"); updateSplit(); }}),
      el("div.face-actions", {},
        el("a", {href: `/photos/${f.item_id}`, title: "open the photo 打开照片", text: "photo"}),
        el("button.move-face.link", {type: "button", title: "this is someone else 移给他人", onclick: () => moveFace(f)}, "move"),
        el("button.unassign-face.link", {type: "button", title: "this face belongs to nobody here 不属于此人", onclick: () => unassignFace(f)}, "not them")));
    return node;
  }

  function updateSplit() {
    splitButton.disabled = chosen.size === 0;
    splitButton.firstChild.textContent = chosen.size ? `Split ${chosen.size} selected off ` : "Split selected off ";
  }

  // Moving away someone's last face removes the person: say so rather than show an error.
  async function reload() {
    try {
      await loadPerson();
    } catch (err) {
      if (!(err instanceof DD.ApiError) || err.status !== 404) throw err;
      facesBox.replaceChildren(el("p.muted", {}, "No faces left: this person is gone. 没有面孔了，此人已移除。 ",
                                  el("a", {href: "/people", text: "Back to people 返回人物"})));
      document.getElementById("face-count").textContent = "(0)";
      for (const b of document.querySelectorAll("#person-page button")) b.disabled = true;
      return;
    }
    await loadFaces();
  }

  function moveFace(f) {
    act(async () => {
      const to = (prompt("Move this face to whom? Name or id 移给谁？（名字或编号）") || "").trim();
      if (!to) return;
      const r = await api(`/api/faces/${f.id}/move`, {method: "POST", json: {to}});
      toast(`Face moved to ${r.name || "#" + r.id}`);
      await reload();
    });
  }

  function unassignFace(f) {
    act(async () => {
      await api(`/api/faces/${f.id}/unassign`, {method: "POST"});
      toast("Face unassigned 已移除");
      await reload();
    });
  }

  splitButton.addEventListener("click", () => act(async () => {
    const name = prompt(`These ${chosen.size} faces are someone else: their name? (empty for unnamed) 新人物的名字？`);
    if (name === null) return;
    const r = await api(`/api/people/${person.id}/split`, {method: "POST",
                        json: {face_ids: [...chosen], name: name.trim() || null}});
    chosen = new Set();
    toast(`Split off as ${r.name || "#" + r.id}`);
    await reload();
  }));

  document.getElementById("rename").addEventListener("click", () => act(async () => {
    const name = (prompt("Name 名字", person.name || "") || "").trim();
    if (!name) return;
    await api(`/api/people/${person.id}/name`, {method: "PUT", json: {name}});
    toast(`Named ${name}`);
    await loadPerson();
  }));

  document.getElementById("hide").addEventListener("click", () => act(async () => {
    await api(`/api/people/${person.id}/hidden`, {method: "PUT", json: {hidden: !person.hidden}});
    toast(person.hidden ? "Shown again 已显示" : "Hidden 已隐藏");
    await loadPerson();
  }));

  document.getElementById("collage").addEventListener("click", () => act(async () => {
    const c = await api(`/api/people/${person.id}/collage`, {method: "POST"});
    const src = `${c.url}?t=${Date.now()}`;  // remade collages keep their file name
    const view = document.getElementById("collage-view");
    view.replaceChildren(el("h2", {}, "Collage ", el("span", {lang: "zh", text: "拼图"})),
      el("a", {href: src, target: "_blank"}, el("img", {id: "collage-image", src, alt: "collage", width: c.width, height: c.height})));
    view.hidden = false;
    view.scrollIntoView({behavior: "smooth"});
  }));

  function renderNotes(notes) {
    const list = document.getElementById("notes");
    list.replaceChildren(...notes.map((n) => el("li", {dataset: {id: n.id}},
      el("span.note-kind", {class: `note-kind ${n.kind}`, text: n.kind}), " ", n.text)));
    if (!notes.length) list.replaceChildren(el("li.muted", {text: "No notes yet. 还没有备注。"}));
  }

  // What the chats taught, current facts first; a fact a later message replaced stays, dimmed,
  // so the reader sees what changed; the title names the messages each came from.
  function renderFacts(facts) {
    const list = document.getElementById("facts");
    list.replaceChildren(...facts.map((f) => el("li", {dataset: {id: f.id}, class: f.current ? "fact" : "fact replaced",
                                                      title: `from message(s) ${f.message_ids.join(", ")}`},
      el("span.note-kind", {class: `note-kind ${f.kind}`, text: f.kind === "fact" ? f.attribute : f.kind}), " ", f.value,
      el("span.muted", {text: ` · ${f.valid_from.slice(0, 10)}${f.current ? "" : " (replaced 已更新)"}`}))));
    if (!facts.length) list.replaceChildren(el("li.muted", {text: "Nothing learnt yet: deepdiary facts learn. 尚未从聊天中学习。"}));
  }

  document.getElementById("note-form").addEventListener("submit", (e) => {
    e.preventDefault();
    act(async () => {
      const text = document.getElementById("note-text");
      await api(`/api/people/${person.id}/notes`, {method: "POST",
                 json: {kind: document.getElementById("note-kind").value, text: text.value.trim()}});
      text.value = "";
      await loadPerson();
    });
  });

  (async () => {
    try { await loadPerson(); }
    catch (err) {
      toast(err.message, "error");
      document.getElementById("person-name").textContent = err.message;
      for (const part of document.querySelectorAll("#person-page .split, .person-head .toolbar")) part.hidden = true;
      return;
    }
    act(loadFaces);
  })();
})();
