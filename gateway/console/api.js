// The gateway's public API, as any client would call it: a bearer token when the gateway
// wants one (kept for this browser session only), JSON errors as {"error": "..."}.

const tokenKey = "deltastream.token";

export function token() {
  return sessionStorage.getItem(tokenKey) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(tokenKey, value);
  else sessionStorage.removeItem(tokenKey);
}

// An error the gateway answered with: its status and its own message.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// fetch() with the token; resolves to the Response when it is 2xx, throws ApiError
// with the gateway's message otherwise (or status 0 when the gateway is unreachable).
export async function request(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (token()) headers.set("Authorization", "Bearer " + token());
  let response;
  try {
    response = await fetch(path, { ...options, headers, cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, "the gateway is unreachable (" + error.message + ")");
  }
  if (response.ok) return response;
  let message = response.status + " " + response.statusText;
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") message = body.error;
  } catch (ignored) {
    // not JSON: the status line says enough
  }
  throw new ApiError(response.status, message);
}

export async function getJson(path) {
  return (await request(path)).json();
}

// The URL of a WebSocket on this gateway: browsers cannot send headers there, so the
// token travels as access_token.
export function webSocketUrl(path) {
  const url = new URL(path, window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  if (token()) url.searchParams.set("access_token", token());
  return url.toString();
}
