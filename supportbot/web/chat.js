// The customer's web chat: choose a bot, talk, see citations and hand-off state, and
// receive agent replies live.
"use strict";

const botSelect = document.getElementById("bot");
const log = document.getElementById("log");
const stateBadge = document.getElementById("state");
const form = document.getElementById("compose");
const textBox = document.getElementById("text");
let conversationId = null;
let eventsAbort = null;
let lastSeq = 0;

function setState(state) {
  stateBadge.textContent = {bot_active: "bot", awaiting_agent: "waiting for a person", agent_active: "with a person", closed: "closed"}[state] || state;
  stateBadge.className = "badge " + state;
  stateBadge.dataset.state = state;
}

async function loadBots() {
  try {
    const bots = await api("GET", "/v1/bots");
    botSelect.replaceChildren(...bots.map(b => new Option(b.name + " (" + b.id + ")", b.id)));
    showError("");
  } catch (e) { showError("Cannot list bots: " + e.message); }
}

function newConversation() {
  conversationId = null;
  lastSeq = 0;
  if (eventsAbort) eventsAbort.abort();
  log.replaceChildren();
  stateBadge.textContent = "no conversation";
  stateBadge.className = "badge";
}

function renderDecision(target, decision) {
  // Written while the team has the conversation: the message is theirs to answer, and the bot
  // says nothing (not its hand-off message again under each line the customer writes to Maria).
  if (decision.handoff && decision.handoff.rule === "already_handed_off") { target.remove(); setState(decision.state); return; }
  target.querySelector(".text").textContent = decision.reply;
  if (decision.citations && decision.citations.length) {
    const sources = document.createElement("span");
    sources.className = "sources";
    sources.textContent = "Sources: " + decision.citations.join(", ");
    target.appendChild(sources);
  }
  if (decision.options && decision.options.length) target.appendChild(optionButtons(decision.options));
  // Answers from the knowledge are rated; the bot's reply to "hi" or "thanks" is not.
  if (decision.action === "answer" && !decision.small_talk && decision.reply_seq) target.appendChild(thumbs(decision.reply_seq));
  // The customer reads the bot's hand-off message (the reply); rule ids are for agents.
  if (decision.handoff) notice(log, "A person from our team will take it from here.").dataset.testid = "handoff-notice";
  setState(decision.state);
}

// A clarification's options as buttons: a click sends the option's title, with its id.
function optionButtons(options) {
  const box = document.createElement("div");
  box.className = "options";
  for (const option of options) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.dataset.testid = "option";
    button.textContent = option.title;
    button.addEventListener("click", () => { box.remove(); send(option.title, option.id); });
    box.appendChild(button);
  }
  return box;
}

// A thumb drawn here rather than an emoji, which shows as an empty box where no emoji font is
// installed (Chromium on a Linux server showed "▯"). Kept in step with widget.js's: the widget is one
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

// Thumbs up and down on an answer: one rating per answer, changed by clicking the other.
function thumbs(seq) {
  const box = document.createElement("div");
  box.className = "thumbs";
  const id = conversationId;
  for (const [rating, title] of [["up", "Helpful"], ["down", "Not helpful"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.dataset.testid = "thumb-" + rating;
    button.setAttribute("aria-pressed", "false");
    button.title = title;
    button.setAttribute("aria-label", title);
    button.appendChild(thumbIcon(rating === "up"));
    button.addEventListener("click", async () => {
      try {
        await api("POST", "/v1/conversations/" + id + "/feedback", {message: seq, rating});
        for (const other of box.children) other.setAttribute("aria-pressed", String(other === button));
      } catch (e) { showError("Could not send your rating: " + e.message); }
    });
    box.appendChild(button);
  }
  return box;
}

// Agent messages and state changes, from any server process, as they are stored.
async function follow() {
  if (eventsAbort) eventsAbort.abort();
  eventsAbort = new AbortController();
  const id = conversationId;
  while (id === conversationId) {
    try {
      const response = await fetch("/v1/conversations/" + id + "/events?after=" + lastSeq, {headers: headers(), signal: eventsAbort.signal});
      if (!response.ok) throw new Error("HTTP " + response.status);
      await readEvents(response, (name, data) => {
        if (name === "state") setState(data.state);
        if (name === "message") {
          lastSeq = Math.max(lastSeq, data.seq);
          if (data.role === "agent") bubble(log, "agent", data.text, data.author || "Support team");
        }
      });
    } catch (e) {
      if (e.name === "AbortError") return;
    }
    await new Promise(r => setTimeout(r, 1000));
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = textBox.value.trim();
  if (!text) return;
  textBox.value = "";
  send(text, null);
});

async function send(text, option) {
  showError("");
  bubble(log, "customer", text);
  const reply = bubble(log, "bot", "…", "Assistant");
  const body = {text};
  if (option) body.option = option;
  if (conversationId) body.conversation_id = conversationId;
  try {
    const response = await fetch("/v1/bots/" + encodeURIComponent(botSelect.value) + "/messages",
      {method: "POST", headers: headers({"Accept": "text/event-stream"}), body: JSON.stringify(body)});
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      reply.remove();
      showError(typeof data.detail === "string" ? data.detail : "HTTP " + response.status);
      return;
    }
    let streamed = "";
    await readEvents(response, (name, data) => {
      if (name === "delta") { streamed += data.text; reply.querySelector(".text").textContent = streamed; }
      if (name === "decision") {
        const first = !conversationId;
        conversationId = data.conversation_id;
        renderDecision(reply, data);
        if (first) follow();
      }
      if (name === "error") { reply.querySelector(".text").textContent = data.detail; }
    });
  } catch (e) {
    showError("Could not send: " + e.message);
  }
}

botSelect.addEventListener("change", newConversation);
document.getElementById("new").addEventListener("click", newConversation);
keyInput.addEventListener("change", loadBots);
textBox.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
loadBots();
