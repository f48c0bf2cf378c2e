// The live connection: an EventSource on /api/v1/events. The server sends
// a full snapshot first, then every transition. EventSource reconnects by
// itself after a network drop (using the server's retry hint); when the
// browser gives up (readyState CLOSED, e.g. the gateway answered an
// error), we open a new one after a pause.

/**
 * connect opens the stream and reports through handlers:
 *   onSite(site), onSnapshot(snapshot), onTransition(transition),
 *   onState("connecting"|"open"|"closed"), and onClosed() when the browser
 *   gave the stream up (may resolve true to reopen at once).
 * It returns a function that closes the stream for good.
 */
export function connect({ onSite, onSnapshot, onTransition, onState, onClosed }) {
  let es = null;
  let retryTimer = 0;
  let stopped = false;

  const open = () => {
    if (stopped) return;
    onState("connecting");
    es = new EventSource("api/v1/events");
    es.addEventListener("open", () => onState("open"));
    es.addEventListener("site", (ev) => {
      const site = parse(ev.data);
      if (site) onSite(site);
    });
    es.addEventListener("snapshot", (ev) => {
      onState("open");
      const snap = parse(ev.data);
      if (snap) onSnapshot(snap);
    });
    es.addEventListener("transition", (ev) => {
      const tr = parse(ev.data);
      if (tr) onTransition(tr);
    });
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED) {
        onState("closed");
        es.close();
        clearTimeout(retryTimer);
        // onClosed may sign in again (a session that ended): then reopen
        // at once, else after a pause.
        Promise.resolve(onClosed ? onClosed() : false).catch(() => false).then((signedIn) => {
          if (stopped) return;
          clearTimeout(retryTimer);
          retryTimer = setTimeout(open, signedIn ? 0 : 5000);
        });
      } else {
        // CONNECTING: the browser is retrying on its own.
        onState("closed");
      }
    });
  };

  const onVisible = () => {
    // A tab woken from sleep may hold a dead stream: reconnect at once.
    if (document.visibilityState === "visible" && es && es.readyState === EventSource.CLOSED) {
      clearTimeout(retryTimer);
      open();
    }
  };
  document.addEventListener("visibilitychange", onVisible);
  open();

  return () => {
    stopped = true;
    clearTimeout(retryTimer);
    document.removeEventListener("visibilitychange", onVisible);
    if (es) es.close();
  };
}

function parse(data) {
  try { return JSON.parse(data); } catch (e) {
    console.warn("icugate: bad event data", e);
    return null;
  }
}
