// Shared by the chat and the agent console: API calls with the key (kept for this tab only,
// in sessionStorage: it is gone when the tab closes), SSE over fetch
// (EventSource cannot send an Authorization header), and message rendering.
"use strict";

const keyInput = document.getElementById("key");
keyInput.value = sessionStorage.getItem("supportbot-key-" + location.pathname) || "";
keyInput.addEventListener("change", () => sessionStorage.setItem("supportbot-key-" + location.pathname, keyInput.value));

function headers(extra) {
  const h = Object.assign({"Content-Type": "application/json"}, extra || {});
  if (keyInput.value) h["Authorization"] = "Bearer " + keyInput.value;
  return h;
}

async function api(method, path, body) {
  const response = await fetch(path, {method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail ? (typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail)) : "HTTP " + response.status);
  return data;
}

// Read a text/event-stream response, calling onEvent(name, data) for each event.
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

function bubble(log, role, text, who) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.dataset.role = role;
  if (who) {
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    div.appendChild(label);
  }
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  div.appendChild(body);
  log.appendChild(div);
  div.scrollIntoView({block: "end"});
  return div;
}

function notice(log, text) {
  const div = document.createElement("div");
  div.className = "notice";
  div.textContent = text;
  log.appendChild(div);
  return div;
}

function showError(message) {
  document.getElementById("error").textContent = message || "";
}
