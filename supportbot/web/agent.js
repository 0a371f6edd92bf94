// The agent console: the queue of hand-offs, claim, the transcript with its hand-off
// packet, reply, release.
"use strict";

const queueBox = document.getElementById("queue");
const activeBox = document.getElementById("active");
const detail = document.getElementById("detail");
const packetBox = document.getElementById("packet");
const log = document.getElementById("log");
const stateBadge = document.getElementById("state");
const agentName = document.getElementById("agent");
agentName.value = localStorage.getItem("supportbot-agent") || agentName.value;
agentName.addEventListener("change", () => localStorage.setItem("supportbot-agent", agentName.value));
let selected = null;

function item(packet) {
  const div = document.createElement("div");
  div.className = "queue-item" + (packet.conversation_id === selected ? " selected" : "");
  div.dataset.testid = "queue-item";
  div.dataset.conversation = packet.conversation_id;
  const rule = document.createElement("div");
  rule.className = "rule";
  rule.textContent = packet.bot + " · " + (packet.reason || packet.rule || "hand-off");
  const summary = document.createElement("div");
  summary.className = "summary";
  summary.textContent = packet.summary;
  // Who has waited longest is first; how long, the agent should not have to work out.
  const waited = document.createElement("div");
  waited.className = "waited";
  waited.dataset.testid = "waited";
  waited.textContent = packet.state === "agent_active"
    ? "with " + (packet.agent || "an agent") + ", handed off " + ago(packet.handed_off_at)
    : "waiting " + ago(packet.handed_off_at).replace(/ ago$/, "");
  div.append(rule, waited, summary);
  div.addEventListener("click", () => { selected = packet.conversation_id; refresh(); });
  return div;
}

// "just now", "4 min ago", "2 h 5 min ago", "3 days ago".
function ago(iso) {
  const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
  if (!Number.isFinite(minutes) || minutes < 1) return "just now";
  if (minutes < 60) return minutes + " min ago";
  if (minutes < 48 * 60) return Math.floor(minutes / 60) + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "") + " ago";
  return Math.floor(minutes / (24 * 60)) + " days ago";
}

async function refreshQueue() {
  try {
    const [waiting, active] = await Promise.all([api("GET", "/v1/handoffs?state=awaiting_agent"), api("GET", "/v1/handoffs?state=agent_active")]);
    queueBox.replaceChildren(...(waiting.length ? waiting.map(item) : [Object.assign(document.createElement("p"), {className: "summary", textContent: "Nobody is waiting."})]));
    activeBox.replaceChildren(...active.map(item));
    showError("");
  } catch (e) { showError(e.message); }
}

async function refreshDetail() {
  if (!selected) { detail.hidden = true; return; }
  const conversation = await api("GET", "/v1/conversations/" + selected);
  detail.hidden = false;
  stateBadge.textContent = conversation.state;
  stateBadge.dataset.state = conversation.state;
  stateBadge.className = "badge " + conversation.state;
  const handoff = conversation.handoff;
  // Why, in words: the reason, what happened in detail, and the rule that fired.
  const why = handoff ? " · " + handoff.reason + (handoff.detail ? " (" + handoff.detail + ")" : "") + " · rule " + handoff.rule : "";
  packetBox.textContent = "Bot " + conversation.bot_id + why
    + (conversation.agent ? " · agent " + conversation.agent : "");
  log.replaceChildren();
  for (const m of conversation.messages) {
    const shown = bubble(log, m.role, m.text, m.role === "agent" ? (m.author || "agent") : m.role === "bot" ? "Bot" : "Customer");
    if (m.feedback) {
      const rating = document.createElement("span");
      rating.className = "rating";
      rating.dataset.testid = "rating";
      rating.textContent = "Customer rated this " + (m.feedback.rating === "up" ? "helpful" : "not helpful")
        + (m.feedback.comment ? ": \u201C" + m.feedback.comment + "\u201D" : "");
      shown.appendChild(rating);
    }
  }
  document.getElementById("claim").disabled = conversation.state !== "awaiting_agent";
  document.getElementById("resume").disabled = conversation.state !== "agent_active";
  document.getElementById("close").disabled = conversation.state !== "agent_active";
  document.getElementById("send").disabled = conversation.state !== "agent_active";
}

async function refresh() {
  await refreshQueue();
  try { await refreshDetail(); } catch (e) { showError(e.message); }
}

async function act(path, body) {
  try { await api("POST", "/v1/conversations/" + selected + path, body); showError(""); }
  catch (e) { showError(e.message); }
  await refresh();
}

document.getElementById("claim").addEventListener("click", () => act("/claim", {agent: agentName.value || "agent"}));
document.getElementById("resume").addEventListener("click", () => act("/release", {resume_bot: true}));
document.getElementById("close").addEventListener("click", () => act("/release", {resume_bot: false}));
document.getElementById("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("text");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  await act("/agent-messages", {text});
});
// The report needs the agent key, which a plain link cannot send: fetch it, then open it
// as a page of its own (its one style block is allowed by this page's policy).
document.getElementById("report").addEventListener("click", async () => {
  const opened = window.open("", "_blank");
  try {
    const response = await fetch("/v1/report?since=7d", {headers: headers()});
    if (!response.ok) throw new Error("HTTP " + response.status);
    const page = URL.createObjectURL(new Blob([await response.text()], {type: "text/html"}));
    if (opened) opened.location = page; else location.assign(page);
    showError("");
  } catch (e) {
    if (opened) opened.close();
    showError("Cannot open the report: " + e.message);
  }
});
refresh();
setInterval(refresh, 2000);
