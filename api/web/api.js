// Calls to the gateway's JSON API. The API token is asked once (when a
// change is refused for want of it) and kept in sessionStorage: it lives
// as long as the browser tab, never on disk.

const tokenKey = "icugate.token";

/** An error answered by the API: status, error and reason from its body. */
export class ApiError extends Error {
  constructor(status, error, reason, problems) {
    super(`${error}: ${reason}`);
    this.status = status;
    this.error = error;
    this.reason = reason;
    this.problems = problems || [];
  }
}

let askToken = async () => null;

/** Sets the function that asks the user for a token (resolves null on cancel). */
export function setTokenPrompt(fn) { askToken = fn; }

export function getToken() {
  try { return sessionStorage.getItem(tokenKey) || ""; } catch (_) { return ""; }
}

export function setToken(tok) {
  try {
    if (tok) sessionStorage.setItem(tokenKey, tok);
    else sessionStorage.removeItem(tokenKey);
  } catch (_) { /* storage disabled: the token is asked again */ }
}

async function errorOf(res) {
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (body && body.error) return new ApiError(res.status, body.error, body.reason || "", body.problems);
  return new ApiError(res.status, `HTTP ${res.status}`, res.statusText || "no details");
}

/** GETs path and returns its JSON; throws ApiError. */
export async function getJSON(path) {
  let res;
  try {
    res = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "network error", String(e.message || e));
  }
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

/**
 * Sends a change (PUT/POST with a JSON body). Without a token, or with a
 * refused one, it asks for a token once and retries; throws ApiError.
 */
export async function mutate(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    const tok = getToken();
    if (tok) headers.Authorization = `Bearer ${tok}`;
    let res;
    try {
      res = await fetch(path, { method, headers, body: JSON.stringify(body ?? {}) });
    } catch (e) {
      throw new ApiError(0, "network error", String(e.message || e));
    }
    if (res.ok) return res.json();
    const err = await errorOf(res);
    if ((res.status === 401 || res.status === 403) && attempt === 0 && err.error !== "cross-origin request refused") {
      if (res.status === 403) setToken("");
      const fresh = await askToken();
      if (!fresh) throw new ApiError(res.status, err.error, err.reason);
      setToken(fresh);
      continue;
    }
    if (res.status === 403) setToken("");
    throw err;
  }
}
