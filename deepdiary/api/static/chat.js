// Asking the housekeeper: the answer streams in over Server-Sent Events, with its citations and tool calls.
"use strict";
(() => {
  const {api, el, toast, thumb} = DD;
  const KEY = "dd.conversation_id";
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const messages = document.getElementById("messages");
  const label = document.getElementById("conversation-label");
  const dialog = document.getElementById("snippet-dialog");

  function showConversation() {
    const id = sessionStorage.getItem(KEY);
    label.textContent = id ? `conversation 对话 #${id}` : "";
  }

  function basename(path) { return (path || "").split(/[\\/]/).pop(); }

  function photoCitation(c) {
    const a = thumb({id: c.item_id, taken_at: c.taken_at, description: c.description || basename(c.path)});
    a.title = [c.taken_at, c.place, basename(c.path)].filter(Boolean).join(" · ");
    return a;
  }

  // Messages and diary entries: who, when, what; a click shows the talk around it.
  function textCitation(c) {
    const head = [c.sender, c.time || c.date || c.start, c.conversation || c.title].filter(Boolean);
    return el("div.snippet", {dataset: {id: c.item_id, kind: c.kind}, role: "button", tabindex: 0,
                              title: "Show context 查看上下文", onclick: () => openSnippet(c)},
      el("div.snippet-head", {text: `${c.kind === "diary" ? "Diary 日记" : "Message 消息"} · ${head.join(" · ")}`}),
      el("div.snippet-text", {text: c.text || ""}));
  }

  function otherCitation(c) {
    const href = c.kind === "person" ? `/people/${c.item_id}` : c.kind === "event" ? `/timeline#event-${c.item_id}` : null;
    const text = [c.title || c.name || c.id, c.start ? c.start.slice(0, 10) : null, c.place].filter(Boolean).join(" · ");
    return el(href ? "a.chip" : "span.chip", {href, dataset: {id: c.item_id, kind: c.kind}, text});
  }

  async function openSnippet(c) {
    document.getElementById("snippet-title").textContent =
      [c.sender, c.time || c.date, c.conversation || c.title].filter(Boolean).join(" · ");
    const body = document.getElementById("snippet-body");
    body.replaceChildren(el("p", {text: c.text || ""}), c.source ? el("p.muted", {text: c.source}) : null);
    dialog.showModal();
    if (!c.text) return;
    try {
      const hits = await api("/api/chats", {params: {q: c.text, context: 3, limit: 5, diary: c.kind === "diary"}});
      const hit = hits.find((h) => h.id === c.item_id);
      if (!hit || !(hit.context || []).length) return;
      const around = [...hit.context, {id: hit.id, time: hit.time, sender: hit.sender, text: hit.text}]
        .sort((x, y) => (x.time || "").localeCompare(y.time || ""));
      body.replaceChildren(...around.map((m) => el(m.id === hit.id ? "div.context-line.current" : "div.context-line", {},
        el("strong", {text: m.sender || ""}), el("span.muted", {text: ` ${(m.time || "").replace("T", " ").slice(0, 16)}`}),
        el("div", {text: m.text || ""}))), c.source ? el("p.muted", {text: c.source}) : null);
    } catch (err) {
      toast(err.message, "error");
    }
  }

  function renderCitations(box, citations) {
    const photos = citations.filter((c) => c.kind === "photo");
    const texts = citations.filter((c) => c.kind === "message" || c.kind === "diary");
    const others = citations.filter((c) => !photos.includes(c) && !texts.includes(c));
    box.replaceChildren(...photos.map(photoCitation), ...texts.map(textCitation), ...others.map(otherCitation));
    box.hidden = !citations.length;
  }

  function toolLine(call) {
    const args = Object.entries(call.arguments || {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
    const result = call.error ? `error 错误: ${call.error}` : `${call.results} results 条结果`;
    return el("li", {}, el("code", {text: `${call.tool}(${args})`}), el("span.muted", {text: ` → ${result}`}));
  }

  // The answer read aloud: OGG/Opus where the browser plays it, else WAV.
  const speakFormat = new Audio().canPlayType("audio/ogg; codecs=opus") ? "ogg" : "wav";
  let playing = null;
  async function playAnswer(text, language, button) {
    if (playing) { playing.pause(); playing = null; }
    button.disabled = true;
    try {
      const r = await fetch("/api/speak", {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify({text, language, format: speakFormat})});
      if (!r.ok) {
        const problem = await r.json().catch(() => ({}));
        throw new Error(problem.error || `speech failed (${r.status})`);
      }
      const url = URL.createObjectURL(await r.blob());
      const audio = new Audio(url);
      audio.addEventListener("ended", () => URL.revokeObjectURL(url));
      playing = audio;
      await audio.play();
      button.dataset.seconds = audio.duration;  // it plays: the browser decoded it
    } catch (err) {
      toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  function ask(question, {spoken = false} = {}) {
    const hint = messages.querySelector(".hint");
    if (hint) hint.remove();
    messages.append(el("div.bubble.user", {text: question}));
    const status = el("div.status.muted", {text: "Thinking… 思考中…"});
    const text = el("div.answer");
    const cites = el("div.citations", {hidden: true});
    const tools = el("ul");
    const how = el("details.how", {hidden: true}, el("summary", {text: "How I found this / 我是怎么找到的"}), tools);
    const bubble = el("div.bubble.keeper", {"aria-busy": "true"}, status, text, cites, how);
    messages.append(bubble);
    bubble.scrollIntoView({block: "end"});

    const params = new URLSearchParams({q: question});
    const conversation = sessionStorage.getItem(KEY);
    if (conversation) params.set("conversation_id", conversation);
    // /chat?backend=none picks the housekeeper's backend, e.g. the parser alone for a quick check.
    const backend = new URLSearchParams(location.search).get("backend");
    if (backend) params.set("backend", backend);
    const source = new EventSource(`/api/ask/stream?${params}`);
    let finished = false;
    const finish = () => {
      finished = true;
      source.close();
      status.remove();
      bubble.removeAttribute("aria-busy");
      form.querySelector("button[type=submit]").disabled = false;
      input.focus();
    };
    const data = (e) => JSON.parse(e.data);

    source.addEventListener("status", (e) => {
      const s = data(e);
      status.textContent = s.state === "thinking" ? "Thinking… 思考中…" : (s.text || s.state || "");
    });
    source.addEventListener("tool_call", (e) => {
      const call = data(e);
      tools.append(toolLine(call));
      how.hidden = false;
      status.textContent = `Searching 搜索: ${call.tool}…`;
    });
    source.addEventListener("answer", (e) => {
      const a = data(e);
      text.textContent = a.text;
      if (a.text) {
        const play = el("button.link.speak-answer", {type: "button", title: "Read the answer aloud 朗读回答",
                                                     text: "▶ Play 朗读"});
        play.addEventListener("click", () => playAnswer(a.text, a.language, play));
        text.after(play);
        if (spoken) playAnswer(a.text, a.language, play);  // asked aloud: answered aloud
      }
      if (a.conversation_id) { sessionStorage.setItem(KEY, a.conversation_id); showConversation(); }
    });
    source.addEventListener("citations", (e) => renderCitations(cites, data(e) || []));
    source.addEventListener("done", finish);
    // One name for two things: the server's "error" event has data; a dropped connection has none.
    source.addEventListener("error", (e) => {
      if (finished) return;
      const problem = e.data ? data(e) : {error: "The connection was lost. 连接中断。"};
      bubble.append(el("p.error", {text: problem.error || "error"}));
      toast(problem.error || "error", "error");
      // A stored conversation that is gone (another library, a wiped catalogue): start afresh next time.
      if (problem.kind === "NotFound" && conversation && /conversation/.test(problem.error)) { sessionStorage.removeItem(KEY); showConversation(); }
      // Without this the browser would reconnect and ask the same question again.
      if (!e.data) finish();
    });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    input.value = "";
    form.querySelector("button[type=submit]").disabled = true;
    ask(q);
  });

  // Asking by voice: record in the browser, the server writes it down, then it is asked as if typed.
  const mic = document.getElementById("voice-record");
  const micLabel = mic.querySelector(".label");
  const micIdle = micLabel.innerHTML;
  let recorder = null;
  let stopTimer = null;
  mic.hidden = !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);

  async function sendRecording(blob) {
    const body = new FormData();
    const ext = (blob.type.split("/")[1] || "webm").split(";")[0];
    body.append("audio", blob, `voice.${ext}`);
    mic.disabled = true;
    micLabel.textContent = "Listening… 识别中…";
    try {
      const heard = await api("/api/transcribe", {method: "POST", form: body});
      if (!heard.transcript) { toast("No speech heard. 没有听到说话。", "error"); return; }
      input.value = "";
      form.querySelector("button[type=submit]").disabled = true;
      ask(heard.transcript, {spoken: true});
    } catch (err) {
      toast(err.message, "error");
    } finally {
      mic.disabled = false;
      micLabel.innerHTML = micIdle;
    }
  }

  mic.addEventListener("click", async () => {
    if (recorder && recorder.state === "recording") { recorder.stop(); return; }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: true});
    } catch (err) {
      toast(`No microphone 无法使用麦克风: ${err.message}`, "error");
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (e) => { if (e.data && e.data.size) chunks.push(e.data); });
    recorder.addEventListener("stop", () => {
      clearTimeout(stopTimer);
      stream.getTracks().forEach((t) => t.stop());
      mic.classList.remove("recording");
      mic.setAttribute("aria-pressed", "false");
      sendRecording(new Blob(chunks, {type: recorder.mimeType || "audio/webm"}));
    });
    recorder.start();
    mic.classList.add("recording");
    mic.setAttribute("aria-pressed", "true");
    micLabel.textContent = "Stop 停止";
    stopTimer = setTimeout(() => { if (recorder.state === "recording") recorder.stop(); }, 60000);
  });

  document.getElementById("new-conversation").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    showConversation();
    messages.replaceChildren(el("p.muted.hint", {text: "New conversation. 新对话。"}));
    input.focus();
  });

  showConversation();
  const q = new URLSearchParams(location.search).get("q");
  if (q) { input.value = q; form.requestSubmit(); }
})();
