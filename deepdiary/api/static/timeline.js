// The timeline: "on this day" across the years, then every event, newest first, opened on demand.
"use strict";
(() => {
  const {api, el, toast, thumb, day} = DD;
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                  "November", "December"];

  function localToday() {
    const d = new Date();
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }

  function span(start, end) {
    const a = (start || "").replace("T", " ").slice(0, 16), b = (end || "").replace("T", " ").slice(0, 16);
    if (!b || a === b) return a;
    return b.slice(0, 10) === a.slice(0, 10) ? `${a} – ${b.slice(11)}` : `${a} – ${b}`;
  }

  function placeLine(ev) {
    return [ev.place, ev.place_zh && ev.place_zh !== ev.place ? ev.place_zh : null].filter(Boolean).join(" · ");
  }

  function counts(ev) {
    const parts = [];
    if (ev.photos) parts.push(`${ev.photos} photos 张照片`);
    if (ev.messages) parts.push(`${ev.messages} messages 条消息`);
    if (ev.visits) parts.push(`${ev.visits} visits 次到访`);
    return parts.join(" · ");
  }

  // ---- on this day ----
  const otdDate = document.getElementById("otd-date");
  const otdYears = document.getElementById("otd-years");

  async function onThisDay() {
    try {
      const data = await api("/api/events/on-this-day", {params: {date: otdDate.value}});
      document.getElementById("otd-label").textContent = data.date || "";
      const years = (data.years || []).filter((y) => (y.photos || []).length || (y.events || []).length);
      if (!years.length) {
        otdYears.replaceChildren(el("p.muted", {text: "Nothing on this day in other years. 往年的这一天没有记录。"}));
        return;
      }
      otdYears.replaceChildren(...years.map((y) => el("div.otd-year", {dataset: {year: y.year}},
        el("h3", {text: `${y.year}`}),
        (y.events || []).length ? el("ul.otd-events", {}, y.events.map((ev) =>
          el("li", {}, el("a", {href: `#event-${ev.id}`, text: ev.title, onclick: () => openEvent(ev.id)}),
             el("span.muted", {text: ` ${placeLine(ev)}`})))) : null,
        el("div.grid.small", {}, (y.photos || []).map((p) => thumb(p))))));
    } catch (err) {
      otdYears.replaceChildren(el("p.error", {text: err.message}));
      toast(err.message, "error");
    }
  }

  // ---- events ----
  const list = document.getElementById("events");
  const form = document.getElementById("timeline-filters");

  function eventCard(ev) {
    const body = el("div.event-detail", {hidden: true});
    const card = el("article.event.card", {id: `event-${ev.id}`, dataset: {id: ev.id}},
      el("header.event-head", {role: "button", tabindex: 0, "aria-expanded": "false"},
        el("h4", {text: ev.title}),
        el("div.muted", {text: [span(ev.start, ev.end), placeLine(ev), counts(ev)].filter(Boolean).join(" · ")})),
      ev.diary ? el("p.diary", {text: ev.diary}) : null,
      body);
    const head = card.querySelector(".event-head");
    head.addEventListener("click", () => toggle(card));
    head.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(card); } });
    return card;
  }

  async function toggle(card, open) {
    const body = card.querySelector(".event-detail");
    const show = open === undefined ? body.hidden : open;
    body.hidden = !show;
    card.classList.toggle("open", show);
    card.querySelector(".event-head").setAttribute("aria-expanded", String(show));
    if (!show || card.dataset.loaded) return;
    card.dataset.loaded = "loading";
    body.replaceChildren(el("p.muted", {text: "Loading… 加载中"}));
    try {
      const ev = await api(`/api/events/${card.dataset.id}`);
      body.replaceChildren(...detail(ev));
      card.dataset.loaded = "yes";
    } catch (err) {
      delete card.dataset.loaded;
      body.replaceChildren(el("p.error", {text: err.message}));
      toast(err.message, "error");
    }
  }

  function detail(ev) {
    const out = [];
    const entry = ev.entry;  // the event's diary entry: the user's own, or the local model's
    if (entry) out.push(el("div.event-entry", {dataset: {source: entry.source}}, el("p", {text: entry.text}),
      el("p.muted", {text: entry.source === "user" ? "Your own entry 我写的"
        : entry.stale ? "Written before the event changed 事件已变化" : "Written by the local model 本地模型撰写"})));
    const photos = ev.photo_items || [];
    if (photos.length) out.push(el("div.grid.small.event-photos", {}, photos.map((p) => thumb(p))));
    const people = ev.people || [];
    if (people.length) out.push(el("div.chips.event-people", {}, el("span.muted", {text: "People 人物:"}),
      people.map((p) => el("a.chip", {href: `/people/${p.id}`, text: p.name || `person ${p.id}`}))));
    const lines = ev.diary_lines || [];
    if (lines.length) out.push(el("div.event-diary", {}, lines.map((t) => el("p.snippet", {text: t}))));
    const msgs = ev.messages || [];
    if (msgs.length) out.push(el("div.event-messages", {}, el("h5", {text: "Messages 消息"}), msgs.map((m) =>
      el("div.snippet", {dataset: {id: m.id}}, el("strong", {text: m.sender || ""}),
         el("span.muted", {text: ` ${span(m.time)}`}), el("div", {text: m.text || ""})))));
    if (!out.length) out.push(el("p.muted", {text: "Nothing more in this event. 没有更多内容。"}));
    return out;
  }

  function openEvent(id) {
    const card = document.getElementById(`event-${id}`);
    if (card) { toggle(card, true); card.scrollIntoView({behavior: "smooth", block: "start"}); }
  }

  let latest = 0;  // filters change faster than answers come back: only the last answer is shown

  async function loadEvents() {
    const mine = ++latest;
    const params = {from: form.from.value, to: form.to.value, place: form.place.value.trim()};
    list.replaceChildren(el("p.muted", {text: "Loading… 加载中"}));
    try {
      const events = await api("/api/events", {params});
      if (mine !== latest) return;
      events.sort((a, b) => (b.start || "").localeCompare(a.start || ""));
      document.getElementById("tl-count").textContent = `${events.length} events 个事件`;
      if (!events.length) {
        list.replaceChildren(el("p.muted", {text: "No events match. 没有符合的事件。"}));
        return;
      }
      const nodes = [];
      let year = null, month = null;
      for (const ev of events) {
        const y = (ev.start || "").slice(0, 4) || "undated", m = (ev.start || "").slice(5, 7);
        if (y !== year) { nodes.push(el("h2.year-header", {text: `${y} 年`.replace("undated 年", "Undated 无日期")})); year = y; month = null; }
        if (m && m !== month) {
          nodes.push(el("h3.month-header", {text: `${MONTHS[Number(m) - 1]} ${y} · ${y}年${Number(m)}月`}));
          month = m;
        }
        nodes.push(eventCard(ev));
      }
      list.replaceChildren(...nodes);
      const hash = location.hash.match(/^#event-(\d+)$/);
      if (hash) openEvent(hash[1]);
    } catch (err) {
      list.replaceChildren(el("p.error", {text: err.message}));
      toast(err.message, "error");
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); loadEvents(); });
  for (const input of [form.from, form.to]) input.addEventListener("change", loadEvents);
  document.getElementById("tl-clear").addEventListener("click", () => { form.reset(); loadEvents(); });
  otdDate.value = new URLSearchParams(location.search).get("date") || localToday();
  otdDate.addEventListener("change", onThisDay);
  onThisDay();
  loadEvents();
})();
