// The console's entry: the token, the polling of the public API every 2 s, and the
// route (#/ the streams, #/v2/<name> or #/v1/<slot> one stream).
import { ApiError, getJson, request, setToken, token } from "./api.js";
import { addSample } from "./sparkline.js";
import { StreamsList } from "./streams_list.js";
import { StreamPage } from "./stream_page.js";

const pollMilliseconds = 2000;

// What the views draw, refreshed by each poll.
const state = {
  slots: [],              // GET /v2/slots
  definitions: new Map(), // v2 name -> GET /v2/streams item
  history: new Map(),     // slot -> [[unix seconds, lag bytes]]
  rates: new Map(),       // slot -> messages/s (null: /metrics not readable with this token)
  metricsReadable: true,
  nowSeconds: 0,
};
let previousCounts = null; // slot -> [messages received, at seconds]
let historyLoaded = false;
let pollTimer = 0;

const statusLine = document.getElementById("status");
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
  historyLoaded = false;
  route();
  poll();
});

document.getElementById("token-button").addEventListener("click", () => {
  if (tokenForm.hidden) showTokenForm(token() ? "A token is set for this browser session; enter another to replace it." : "");
  else tokenForm.hidden = true;
});

// deltastream_messages_received_total{stream="<slot>",...} <value>, per slot.
function receivedCounts(metricsText) {
  const counts = new Map();
  for (const line of metricsText.split("\n")) {
    const match = /^deltastream_messages_received_total\{stream="([^"]+)"[^}]*\} (\S+)$/.exec(line);
    if (match) counts.set(match[1], Number(match[2]));
  }
  return counts;
}

async function readRates() {
  if (!state.metricsReadable) return;
  try {
    const counts = receivedCounts(await (await request("/metrics")).text());
    const now = performance.now() / 1000;
    state.rates = new Map();
    if (previousCounts) {
      for (const [slot, count] of counts) {
        const before = previousCounts.get(slot);
        state.rates.set(slot, before ? Math.max(0, (count - before[0]) / (now - before[1])) : 0);
      }
    }
    previousCounts = new Map([...counts].map(([slot, count]) => [slot, [count, now]]));
  } catch (error) {
    // A token limited to some streams may not read /metrics: asked once, then not again.
    if (error instanceof ApiError && error.status === 403) state.metricsReadable = false;
    else throw error;
  }
}

async function readSlots() {
  const [slots, streams] = await Promise.all([
    getJson("/v2/slots" + (historyLoaded ? "" : "?history=true")),
    getJson("/v2/streams"),
  ]);
  state.nowSeconds = Date.now() / 1000;
  state.slots = slots.slots;
  state.definitions = new Map(streams.streams.map((stream) => [stream.name, stream]));
  for (const slot of state.slots) {
    if (!historyLoaded) state.history.set(slot.slot, slot.lag_history || []);
    const samples = state.history.get(slot.slot) || [];
    addSample(samples, state.nowSeconds, slot.lag_bytes);
    state.history.set(slot.slot, samples);
  }
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
    await Promise.all([readSlots(), readRates()]);
    list.update();
    page.update();
    // The time of the figures on screen: a gateway that stops answering shows as a stale time.
    statusLine.textContent += " · updated " + new Date().toLocaleTimeString();
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
