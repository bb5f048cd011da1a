// The console's entry: the token, the polling of the public API every 2 s, and the
// route (#/ the streams, #/v2/<name> or #/v1/<slot> one stream).
import { ApiError, getJson, setToken, token } from "./api.js";
import { addSample } from "./sparkline.js";
import { StreamsList } from "./streams_list.js";
import { StreamPage } from "./stream_page.js";

const pollMilliseconds = 2000;

// What the views draw, refreshed by each poll.
const state = {
  slots: [],          // GET /v2/slots
  history: new Map(), // slot -> [[unix seconds, lag bytes]] (the gateway's clock)
  rates: new Map(),   // slot -> messages/s received by this gateway
  nowSeconds: 0,      // the gateway's clock at the last poll
};
let previousCounts = new Map(); // slot -> [messages received, at the gateway's seconds]
let historyLoaded = false;
let pollTimer = 0;

const statusLine = document.getElementById("status");
const updatedLine = document.getElementById("updated");
const tokenForm = document.getElementById("token-form");
const tokenInput = document.getElementById("token-input");
const tokenMessage = document.getElementById("token-message");

const list = new StreamsList(document.getElementById("streams-view"), state);
const page = new StreamPage(document.getElementById("stream-view"), state);

function showTokenForm(message) {
  tokenForm.hidden = false;
  tokenMessage.textContent = message;
  tokenInput.focus();
}

tokenForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setToken(tokenInput.value.trim());
  tokenInput.value = "";
  tokenForm.hidden = true;
  // Another token may see other streams: start the figures afresh.
  historyLoaded = false;
  state.history = new Map();
  previousCounts = new Map();
  route();
  poll();
});

document.getElementById("token-button").addEventListener("click", () => {
  if (tokenForm.hidden) showTokenForm(token() ? "A token is set for this browser session; enter another to replace it." : "");
  else tokenForm.hidden = true;
});

// One GET /v2/slots: every slot's figures, its lag samples (the gateway's 15 minutes the
// first time, this page's own after), and the message rates from its counters.
async function readSlots() {
  const reply = await getJson("/v2/slots" + (historyLoaded ? "" : "?history=true"));
  state.nowSeconds = reply.now;
  state.slots = reply.slots;
  const listed = new Set(state.slots.map((slot) => slot.slot));
  for (const slot of state.history.keys()) if (!listed.has(slot)) state.history.delete(slot); // dropped
  const counts = new Map();
  for (const slot of state.slots) {
    if (!historyLoaded) state.history.set(slot.slot, slot.lag_history || []);
    const samples = state.history.get(slot.slot) || [];
    addSample(samples, state.nowSeconds, slot.lag_bytes);
    state.history.set(slot.slot, samples);
    const before = previousCounts.get(slot.slot);
    if (before && reply.now > before[1]) {
      state.rates.set(slot.slot, Math.max(0, (slot.messages_received - before[0]) / (reply.now - before[1])));
    }
    counts.set(slot.slot, before && reply.now === before[1] ? before : [slot.messages_received, reply.now]);
  }
  previousCounts = counts;
  historyLoaded = true;
}

let polling = false;
let pollAgain = false;

// One round: readiness, the slots, the rates; then the views. Never two rounds at once.
async function poll() {
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  clearTimeout(pollTimer);
  let next = true;
  try {
    next = await pollOnce();
  } finally {
    polling = false;
  }
  if (pollAgain) {
    pollAgain = false;
    return poll();
  }
  if (next) pollTimer = setTimeout(poll, pollMilliseconds);
}

// false: stop polling until a token is entered.
async function pollOnce() {
  try {
    const ready = await fetch("/readyz", { cache: "no-store" }).then((response) => response.json());
    statusLine.textContent = ready.status === "ready" ? "gateway ready" :
      "not ready: " + (ready.error || (ready.postgres ? "" : "PostgreSQL unreachable"));
    statusLine.classList.toggle("bad", ready.status !== "ready");
    if (ready.token_required && !token()) {
      showTokenForm("This gateway needs an access token.");
      return false;
    }
    await readSlots();
    list.update();
    page.update();
    // The time of the figures on screen: a gateway that stops answering shows as a stale time
    // (not in the status region: a screen reader would announce every poll).
    updatedLine.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showTokenForm("The gateway refused the token: " + error.message);
      return false;
    }
    statusLine.textContent = error.message;
    statusLine.classList.add("bad");
  }
  return true;
}

function route() {
  const match = /^#\/(v1|v2)\/([^/]+)$/.exec(window.location.hash);
  if (match) {
    list.hide();
    page.open(match[1], decodeURIComponent(match[2]));
  } else {
    page.close();
    list.show();
  }
}

window.addEventListener("hashchange", () => {
  route();
  poll(); // the new view draws from fresh figures at once
});
route();
poll();
