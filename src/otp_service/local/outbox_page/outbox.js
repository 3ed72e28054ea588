// The outbox page of otp-local: polls the local JSON routes and renders them, newest first.
// Every value from the server (destinations, subjects, bodies, user ids) is attacker-controlled
// text: it is only ever set with textContent, never parsed as HTML.
"use strict";

const POLL_MILLISECONDS = 1000;
const CODE = /(?<![0-9])[0-9]{6,10}(?![0-9])/;

let shownMessages = null;
let shownEvents = null;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function localTime(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : when.toLocaleTimeString();
}

async function copyCode(code, codeNode, button) {
  try {
    await navigator.clipboard.writeText(code);
    button.textContent = "Copied";
  } catch {
    // No clipboard (an insecure origin, or permission refused): select the code instead.
    window.getSelection().selectAllChildren(codeNode);
    button.textContent = "Selected: press Ctrl-C";
  }
}

function messageItem(message) {
  const item = element("li", "message");
  item.dataset.channel = message.channel;
  const meta = element("div", "meta");
  meta.append(
    element("span", "channel", message.channel),
    element("span", "destination", message.destination),
    element("time", "sent-at", localTime(message.sent_at)),
  );
  meta.lastChild.dateTime = message.sent_at;
  item.append(meta);
  if (message.channel === "email") {
    const headers = element("dl", "headers");
    headers.append(
      element("dt", null, "Subject"), element("dd", "subject", message.subject),
      element("dt", null, "From"), element("dd", "sender", message.sender),
    );
    item.append(headers);
  }
  const found = CODE.exec(message.body || "");
  if (found) {
    const line = element("div", "code-line");
    const code = element("code", "code", found[0]);
    const button = element("button", "copy", "Copy code");
    button.type = "button";
    button.addEventListener("click", () => copyCode(found[0], code, button));
    line.append(code, button);
    item.append(line);
  }
  item.append(element("pre", "body", message.body));
  return item;
}

function eventRow(event) {
  const row = element("tr", "event");
  row.dataset.type = event.type;
  row.append(
    element("td", null, localTime(event.occurred_at)),
    element("td", "type", event.type + (event.test ? " (test)" : "")),
    element("td", "user-id", event.user_id),
    element("td", null, event.channel),
    element("td", null, event.destination),
    element("td", "id", event.verification_id),
  );
  return row;
}

function show(listId, emptyId, items, render) {
  document.getElementById(emptyId).hidden = items.length > 0;
  document.getElementById(listId).replaceChildren(...items.slice().reverse().map(render));
}

async function fetchJson(path) {
  const answer = await fetch(path, { cache: "no-store" });
  if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  return answer.json();
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [outbox, log] = await Promise.all([
      fetchJson("/_local/outbox"),
      fetchJson("/_local/events"),
    ]);
    // Redrawn only on a change, so a selection or a "Copied" stays put between polls.
    const messages = JSON.stringify(outbox.messages);
    if (messages !== shownMessages) {
      show("messages", "no-messages", outbox.messages, messageItem);
      shownMessages = messages;
    }
    const events = JSON.stringify(log.events);
    if (events !== shownEvents) {
      document.getElementById("events-table").hidden = log.events.length === 0;
      show("events", "no-events", log.events, eventRow);
      shownEvents = events;
    }
    status.textContent = `live: updated ${new Date().toLocaleTimeString()}`;
    status.className = "";
  } catch (error) {
    status.textContent = `otp-local is not answering (${error.message}); retrying`;
    status.className = "offline";
  }
  window.setTimeout(refresh, POLL_MILLISECONDS);
}

document.getElementById("clear").addEventListener("click", async () => {
  await fetch("/_local/outbox", { method: "DELETE" });
});

refresh();
