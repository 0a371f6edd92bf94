// The supportbot chat widget: one script tag adds a chat bubble to any page.
//   <script src="https://support.example/widget.js" data-bot="bean-there" data-key="pk_..."></script>
// It talks to the server the script came from, with a publishable key (SECURITY.md). Its
// look lives in a shadow root, so the page's styles and the widget's do not mix. It shows
// only what a customer should see: replies, options, a hand-off notice, agents' replies.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script || window.__supportbotWidget) return;
  window.__supportbotWidget = true;
  const bot = script.dataset.bot;
  const key = script.dataset.key;
  const base = new URL(script.src).origin;
  const stored = "supportbot:" + base + ":" + bot;
  let conversationId = localStorage.getItem(stored);
  let lastSeq = 0;
  let following = null;

  const host = document.createElement("div");
  host.setAttribute("data-supportbot", "");
  const root = host.attachShadow({mode: "open"});
  root.innerHTML = `<style>
    :host { all: initial; }
    * { box-sizing: border-box; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
    .bubble { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%; border: 0;
      background: #2f6fed; color: #fff; font-size: 26px; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483646; }
    .panel { position: fixed; right: 20px; bottom: 88px; width: 360px; height: 520px; max-height: calc(100vh - 110px);
      display: flex; flex-direction: column; background: #fff; color: #1d2330; border-radius: 14px;
      box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; z-index: 2147483647; }
    .panel[hidden] { display: none; }
    header { display: flex; align-items: center; justify-content: space-between; padding: 10px 14px; background: #2f6fed; color: #fff; }
    header b { font-weight: 600; } header button { background: none; border: 0; color: #fff; font-size: 20px; cursor: pointer; }
    .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f6f7f9; }
    .msg { max-width: 85%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap; word-wrap: break-word; }
    .customer { align-self: flex-end; background: #2f6fed; color: #fff; }
    .bot { align-self: flex-start; background: #eef2f8; } .agent { align-self: flex-start; background: #fff4df; }
    .who { display: block; font-size: 12px; color: #6b7383; }
    .notice { align-self: center; font-size: 13px; color: #b4690e; text-align: center; }
    .options { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
    .options button, .thumbs button { border: 1px solid #cdd3dc; background: #fff; border-radius: 8px; padding: 4px 10px; cursor: pointer; }
    .thumbs { display: flex; gap: 4px; margin-top: 4px; } .thumbs button[aria-pressed="true"] { background: #dfe8fb; border-color: #2f6fed; }
    form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e3e6eb; }
    input { flex: 1; border: 1px solid #cdd3dc; border-radius: 8px; padding: 8px; }
    form button { border: 0; border-radius: 8px; padding: 8px 14px; background: #2f6fed; color: #fff; cursor: pointer; }
    @media (max-width: 480px) { .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; max-height: 100vh; border-radius: 0; } }
  </style>
  <button class="bubble" part="bubble" aria-label="Chat with us" data-testid="widget-open">&#128172;</button>
  <section class="panel" hidden role="dialog" aria-label="Chat">
    <header><b class="title">Chat</b><button type="button" aria-label="Close" data-testid="widget-close">&times;</button></header>
    <div class="log" data-testid="widget-log" aria-live="polite"></div>
    <form><input aria-label="Your message" placeholder="Type your question" data-testid="widget-text" maxlength="4000">
    <button type="submit" data-testid="widget-send">Send</button></form>
  </section>`;
  const panel = root.querySelector(".panel");
  const log = root.querySelector(".log");
  const input = root.querySelector("input");

  function headers(extra) {
    return Object.assign({"Authorization": "Bearer " + key, "Content-Type": "application/json"}, extra || {});
  }

  function add(role, text, who) {
    const div = document.createElement("div");
    div.className = "msg " + role;
    div.dataset.role = role;
    if (who) { const label = document.createElement("span"); label.className = "who"; label.textContent = who; div.appendChild(label); }
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    div.appendChild(body);
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function notice(text) {
    const div = document.createElement("div");
    div.className = "notice";
    div.dataset.testid = "widget-notice";
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
  }

  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, {stream: true});
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) onEvent(name, JSON.parse(data));
      }
    }
  }

  function failure(status) {
    return status === 403 ? "This chat is not available on this site." :
      status === 429 ? "Too many messages; please wait a minute." : "Something went wrong; please try again.";
  }

  function options(target, list) {
    const box = document.createElement("div");
    box.className = "options";
    for (const option of list) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.testid = "widget-option";
      button.textContent = option.title;
      button.addEventListener("click", () => { box.remove(); send(option.title, option.id); });
      box.appendChild(button);
    }
    target.appendChild(box);
  }

  // A thumb drawn here rather than an emoji, which shows as an empty box where no emoji font is
  // installed (Chromium on a Linux server showed "▯"). Kept in step with chat.js's: the widget is one
  // self-contained script for other sites, with nothing to share a module with.
  function thumbIcon(up) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 16 16");
    svg.setAttribute("width", "14");
    svg.setAttribute("height", "14");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M1 7h3v8H1zM5.5 7L8.6 1.2c1.1 0 1.9.8 1.9 1.9V6h3.3c.9 0 1.6.8 1.4 1.7l-1.3 6c-.2.8-.8 1.3-1.6 1.3H5.5z");
    path.setAttribute("fill", "currentColor");
    if (!up) path.setAttribute("transform", "rotate(180 8 8)");
    svg.appendChild(path);
    return svg;
  }

  function thumbs(target, seq) {
    const box = document.createElement("div");
    box.className = "thumbs";
    for (const [rating, label] of [["up", "Helpful"], ["down", "Not helpful"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.testid = "widget-thumb-" + rating;
      button.setAttribute("aria-label", label);
      button.setAttribute("aria-pressed", "false");
      button.appendChild(thumbIcon(rating === "up"));
      button.addEventListener("click", async () => {
        const response = await fetch(base + "/v1/conversations/" + conversationId + "/feedback",
          {method: "POST", headers: headers(), body: JSON.stringify({message: seq, rating})});
        if (response.ok) for (const other of box.children) other.setAttribute("aria-pressed", String(other === button));
      });
      box.appendChild(button);
    }
    target.appendChild(box);
  }

  function render(target, decision) {
    // Written while the team has the conversation: theirs to answer; the bot says nothing.
    if (decision.handoff && decision.handoff.rule === "already_handed_off") { target.remove(); return; }
    target.querySelector(".text").textContent = decision.reply;
    if (decision.options && decision.options.length) options(target, decision.options);
    if (decision.action === "answer" && !decision.small_talk && decision.reply_seq) thumbs(target, decision.reply_seq);
    if (decision.action === "handoff" && decision.handoff) notice("A person from our team will take it from here.");
  }

  async function send(text, option) {
    add("customer", text);
    const reply = add("bot", "\u2026");
    const body = {text};
    if (option) body.option = option;
    if (conversationId) body.conversation_id = conversationId;
    try {
      const response = await fetch(base + "/v1/bots/" + encodeURIComponent(bot) + "/messages",
        {method: "POST", headers: headers({"Accept": "text/event-stream"}), body: JSON.stringify(body)});
      if (response.status === 404 && conversationId) {  // the conversation is gone: start again
        localStorage.removeItem(stored);
        conversationId = null;
        reply.remove();
        log.lastChild.remove();
        return send(text, option);
      }
      if (!response.ok) { reply.querySelector(".text").textContent = failure(response.status); return; }
      let streamed = "";
      await readEvents(response, (name, data) => {
        if (name === "delta") { streamed += data.text; reply.querySelector(".text").textContent = streamed; }
        if (name === "decision") {
          const first = conversationId !== data.conversation_id;
          conversationId = data.conversation_id;
          localStorage.setItem(stored, conversationId);
          lastSeq = Math.max(lastSeq, data.reply_seq || 0);
          render(reply, data);
          if (first) follow();
        }
        if (name === "error") reply.querySelector(".text").textContent = data.detail;
      });
    } catch (e) {
      reply.querySelector(".text").textContent = failure(0);
    }
  }

  // Agents' replies, live, from the conversation's event stream; reconnects while open.
  async function follow() {
    if (following) following.abort();
    const controller = new AbortController();
    following = controller;
    const id = conversationId;
    while (following === controller && id === conversationId) {
      try {
        const response = await fetch(base + "/v1/conversations/" + id + "/events?after=" + lastSeq,
          {headers: headers(), signal: controller.signal});
        if (!response.ok) return;
        await readEvents(response, (name, data) => {
          if (name !== "message") return;
          if (data.role === "agent" && data.seq > lastSeq) add("agent", data.text, data.author || "Support team");
          lastSeq = Math.max(lastSeq, data.seq);
        });
      } catch (e) {
        if (e.name === "AbortError") return;
      }
      await new Promise(r => setTimeout(r, 2000));
    }
  }

  // After a page reload: the conversation so far, then its live events.
  async function resume() {
    if (!conversationId) return;
    const response = await fetch(base + "/v1/conversations/" + conversationId, {headers: headers()});
    if (!response.ok) { localStorage.removeItem(stored); conversationId = null; return; }
    const conversation = await response.json();
    for (const m of conversation.messages) {
      if (m.role === "customer") add("customer", m.text);
      else add(m.role, m.text, m.role === "agent" ? (m.author || "Support team") : null);
      lastSeq = Math.max(lastSeq, m.seq);
    }
    follow();
  }

  root.querySelector(".bubble").addEventListener("click", () => { panel.hidden = !panel.hidden; if (!panel.hidden) input.focus(); });
  root.querySelector("header button").addEventListener("click", () => { panel.hidden = true; });
  root.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text, null);
  });
  fetch(base + "/v1/bots", {headers: headers()}).then(r => r.ok ? r.json() : []).then(bots => {
    const found = bots.find(b => b.id === bot);
    if (found) root.querySelector(".title").textContent = found.name;
  }).catch(() => {});
  document.body.appendChild(host);
  resume();
})();
