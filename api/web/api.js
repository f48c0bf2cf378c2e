// Calls to the gateway's JSON API. A token is asked when the gateway wants
// one (401: none presented; 403: refused, or a role too low) and exchanged
// for a session (POST api/v1/session): the gateway answers with a cookie
// that page scripts cannot read (HttpOnly) and no other site's page sends
// (SameSite=Strict). The token itself is kept nowhere in the browser.

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
let onSession = () => {};

/**
 * Sets the function that asks the user for a token; it gets the reason the
 * gateway gave and resolves to the token or null on cancel.
 */
export function setTokenPrompt(fn) { askToken = fn; }

/** Sets the function told of every change of the session (signed in/out). */
export function setSessionListener(fn) { onSession = fn; }

/** The current session: {tokens_configured, read_requires_token, signed_in, name, role}. */
let current = { tokens_configured: false, read_requires_token: false, signed_in: false };
export function session() { return current; }

async function errorOf(res) {
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (body && body.error) return new ApiError(res.status, body.error, body.reason || "", body.problems);
  return new ApiError(res.status, `HTTP ${res.status}`, res.statusText || "no details");
}

async function send(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, cache: "no-store", credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network error", String(e.message || e));
  }
}

/** Reads the session from the gateway (and tells the listener). */
export async function loadSession() {
  const res = await send("GET", "api/v1/session");
  if (!res.ok) throw await errorOf(res);
  current = await res.json();
  onSession(current);
  return current;
}

/** Signs in with token; throws ApiError when the gateway refuses it. */
export async function signIn(token) {
  const res = await send("POST", "api/v1/session", { token });
  if (!res.ok) throw await errorOf(res);
  current = await res.json();
  onSession(current);
  return current;
}

/** Signs out (the session cookie is cleared by the gateway). */
export async function signOut() {
  const res = await send("DELETE", "api/v1/session");
  if (!res.ok) throw await errorOf(res);
  return loadSession();
}

// A sign-in asked by several calls at once is asked once.
let pendingSignIn = null;
let declined = false;

/**
 * Asks for a token (reason: why) and signs in with it; resolves true when
 * signed in. A refused token is asked again, with the gateway's reason.
 * explicit: the user asked (the Sign in button), even after declining.
 */
export function askAndSignIn(reason, explicit) {
  // Once the user declined, background calls do not ask again: the
  // Sign in button does.
  if (declined && !explicit) return Promise.resolve(false);
  if (!pendingSignIn) {
    pendingSignIn = (async () => {
      let why = reason;
      for (;;) {
        const tok = await askToken(why);
        if (!tok) {
          declined = true;
          return false;
        }
        declined = false;
        try {
          await signIn(tok);
          return true;
        } catch (e) {
          if (!(e instanceof ApiError) || e.status !== 403) throw e;
          why = e.reason;
        }
      }
    })().finally(() => { pendingSignIn = null; });
  }
  return pendingSignIn;
}

// needsToken tells whether an answer asks for a (better) token, so that
// signing in may help: 401, or 403 for a refused token or a role too low.
function needsToken(status, err) {
  if (status === 401) return true;
  return status === 403 && (err.error === "token not accepted" || err.error === "role not allowed");
}

async function call(method, path, body, explicit) {
  for (let attempt = 0; ; attempt++) {
    const res = await send(method, path, body);
    if (res.ok) return res.json();
    const err = await errorOf(res);
    if (attempt === 0 && needsToken(res.status, err) && (await askAndSignIn(err.reason, explicit))) continue;
    throw err;
  }
}

/**
 * GETs path and returns its JSON; asks for a token when reading needs one
 * (not again once the user declined). Throws ApiError.
 */
export function getJSON(path) { return call("GET", path, undefined, false); }

/**
 * Sends a change (PUT/POST with a JSON body). Without a session, or with
 * one whose role is too low, it asks for a token once and retries; throws
 * ApiError.
 */
export function mutate(method, path, body) { return call(method, path, body ?? {}, true); }
