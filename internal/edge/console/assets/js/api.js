// api.js: the one way the console talks to Grantlog, the public /v1 API.
// The credential lives in sessionStorage only (gone when the tab closes);
// never in localStorage, never in a cookie.

const KEY = 'grantlog.console.session';

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY)); } catch { return null; }
}
export function saveSession(s) { sessionStorage.setItem(KEY, JSON.stringify(s)); }
export function clearSession() { sessionStorage.removeItem(KEY); canCache.clear(); }

function authorization(s) {
  if (s.kind === 'client') return `Basic ${btoa(`${s.clientId}:${s.secret}`)}`;
  return `Bearer ${s.token}`;
}

// APIError is an answer other than 2xx: the API's errorCode and errorMessage.
export class APIError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

let inflight = 0;
let busyTimer;
function track(delta) {
  inflight += delta;
  const bar = document.getElementById('busy');
  if (!bar) return;
  clearTimeout(busyTimer);
  if (inflight > 0) busyTimer = setTimeout(() => { bar.hidden = false; }, 120);
  else bar.hidden = true;
}

export const enc = encodeURIComponent;

// call sends one API request and returns the decoded answer, or throws an
// APIError carrying the API's errorCode and errorMessage.
export async function call(method, path, body, opts = {}) {
  const s = opts.session || session();
  if (!s) throw new APIError(401, 'notSignedIn', 'sign in first');
  const headers = { Authorization: authorization(s), Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  track(1);
  try {
    let res;
    try {
      res = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store', credentials: 'omit', redirect: 'error',
      });
    } catch (err) {
      throw new APIError(0, 'unreachable', `the API did not answer (${err.message}); is the node running?`);
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = { errorMessage: text.slice(0, 300) }; }
    }
    if (!res.ok) {
      if (res.status === 401 && opts.onUnauthorized !== false) window.dispatchEvent(new CustomEvent('grantlog:unauthorized'));
      throw new APIError(res.status, (data && data.errorCode) || `http${res.status}`,
        (data && data.errorMessage) || res.statusText, data && data.requestId);
    }
    return data;
  } finally {
    track(-1);
  }
}

export const get = (path) => call('GET', path);

// all follows paging.next of a list read up to max pages.
export async function all(path, max = 20) {
  const out = [];
  let after = '';
  for (let i = 0; i < max; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(after ? `${path}${sep}after=${enc(after)}` : path);
    out.push(...(page.data || []));
    after = page.paging && page.paging.next;
    if (!after) break;
  }
  return out;
}

// self is the signed-in credential as a check subject.
export function self(s = session()) {
  if (!s) return null;
  return s.kind === 'client' ? { type: 'client', id: s.clientId } : { type: 'token', token: s.token };
}

const canCache = new Map();

// can asks the API whether the signed-in credential holds action on
// resource in namespace (a check of its own permissions). A check the
// caller may not ask (403), or any other failure, is "no": the page then
// offers no form it could not use. The API guards every call anyway.
export async function can(resource, action, namespace) {
  const s = session();
  if (!s) return false;
  const ns = namespace || s.namespace || 'grantlog';
  const key = `${ns}\n${resource}\n${action}`;
  if (!canCache.has(key)) {
    canCache.set(key, call('POST', '/v1/check', { subject: self(s), namespace: ns, resource, action })
      .then((r) => !!r.allowed).catch(() => false));
  }
  return canCache.get(key);
}

// holds checks many permissions of the caller at once (POST /v1/checks);
// null when the caller may not ask (then nothing can be filtered).
export async function holds(namespace, perms) {
  if (!perms.length) return [];
  try {
    const subject = self();
    const r = await call('POST', '/v1/checks', {
      checks: perms.map((p) => ({ subject, namespace, resource: p.resource, action: p.action })),
    });
    const res = r.results || [];
    if (res.some((x) => x.errorCode === 'forbidden')) return null;
    return res.map((x) => !!x.allowed);
  } catch {
    return null;
  }
}

export function forgetCan() { canCache.clear(); }

// stream follows a server-sent-event stream (fetch, since EventSource
// cannot send an Authorization header). onRecord(record, id) gets each
// record; onState(text) the connection's state. It reconnects after a
// drop with Last-Event-ID = the last id seen, so no record is lost or
// repeated. It returns a stop function.
export function follow(path, { onRecord, onState, lastId }) {
  const ctl = new AbortController();
  let last = lastId || '';
  let stopped = false;
  const run = async () => {
    let delay = 1000;
    while (!stopped) {
      const s = session();
      if (!s) return;
      const headers = { Authorization: authorization(s), Accept: 'text/event-stream' };
      if (last) headers['Last-Event-ID'] = last;
      try {
        onState(last ? `connected (resumed after revision ${last})` : 'connected');
        const res = await fetch(path, { headers, signal: ctl.signal, cache: 'no-store', credentials: 'omit' });
        if (!res.ok) {
          const data = await res.json().catch(() => ({}));
          onState(`error: ${data.errorCode || res.status} ${data.errorMessage || ''}`, true);
          if (res.status >= 400 && res.status < 500) return;
        } else {
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buf = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += value;
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              let id = '';
              let data = '';
              for (const line of block.split('\n')) {
                if (line.startsWith('id:')) id = line.slice(3).trim();
                else if (line.startsWith('data:')) data += line.slice(5).trim();
              }
              if (!data) continue;
              if (id) last = id;
              try { onRecord(JSON.parse(data), id); } catch { /* a record we cannot read: skip it */ }
            }
          }
          delay = 1000;
        }
      } catch (err) {
        if (stopped) return;
        onState(`disconnected (${err.message}); retrying`, true);
      }
      if (stopped) return;
      onState(`reconnecting in ${delay / 1000}s`, true);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  };
  run();
  return {
    stop() { stopped = true; ctl.abort(); },
    get lastId() { return last; },
  };
}
