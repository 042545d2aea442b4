// app.js: the console's shell: sign-in, navigation (hash routes) and the
// pages (pages.js). Every action is a /v1 API call (api.js).
import { session, saveSession, clearSession, call, self, can } from './api.js';
import { h, field, replace, errorBox, busy } from './ui.js';
import { pages } from './pages.js';

const main = document.getElementById('main');
let cleanup = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, query] = raw.split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'roles', args: parts.slice(1), params: new URLSearchParams(query || '') };
}

function chrome(signedIn) {
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('nav-toggle').hidden = !signedIn;
  document.getElementById('who-box').hidden = !signedIn;
  if (!signedIn) return;
  const s = session();
  const who = document.getElementById('who');
  const badge = s.readOnly ? h('span', { class: 'badge ro', title: 'This credential may only read' }, 'read-only') : null;
  replace(who, s.kind === 'client' ? `IAM client ${s.clientId}` : 'token', ' in ', h('strong', {}, s.namespace), ' ', badge);
}

async function render() {
  if (cleanup) { try { cleanup(); } catch { /* already gone */ } cleanup = null; }
  const s = session();
  chrome(!!s);
  if (!s) { loginPage(); return; }
  const { page, args, params } = parseHash();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const fn = pages[page];
  main.replaceChildren();
  document.getElementById('toast').className = 'toast';
  window.scrollTo(0, 0);
  document.title = `Grantlog console — ${page}`;
  if (!fn) {
    main.append(h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '#/roles' }, 'Go to Roles')));
    return;
  }
  try {
    cleanup = (await fn(main, args, params)) || null;
  } catch (err) {
    main.append(errorBox(err));
  }
}

// probe learns, by asking the API, whether the credential may change
// anything at all (then the page says "read-only").
async function probe(ns) {
  const writes = await Promise.all([
    can('ADMIN:ROLE', 1), can('ADMIN:ROLE', 4), can('ADMIN:NAMESPACE', 1),
    can(`ADMIN:NAMESPACE:${ns}:ROLE:USER:*`, 4), can(`ADMIN:NAMESPACE:${ns}:CLIENT`, 1),
  ]);
  return !writes.some(Boolean);
}

function loginPage() {
  document.title = 'Grantlog console — sign in';
  const kind = h('fieldset', { class: 'kind' }, h('legend', {}, 'Sign in with'),
    h('label', {}, h('input', { type: 'radio', name: 'kind', value: 'token', checked: true, id: 'kind-token' }), ' a token'),
    h('label', {}, h('input', { type: 'radio', name: 'kind', value: 'client', id: 'kind-client' }), ' an IAM client'));
  const token = h('input', { type: 'password', id: 'login-token', autocomplete: 'off', spellcheck: 'false' });
  const clientId = h('input', { type: 'text', id: 'login-client-id', autocomplete: 'off', spellcheck: 'false' });
  const secret = h('input', { type: 'password', id: 'login-client-secret', autocomplete: 'off' });
  const ns = h('input', { type: 'text', id: 'login-namespace', value: 'grantlog', required: true, spellcheck: 'false' });
  const tokenBox = h('div', {}, field('Token', token, 'A Grantlog token (gltk_…) or the bootstrap Super Admin token.'));
  const clientBox = h('div', { hidden: true },
    field('Client id', clientId), field('Client secret', secret, 'Sent as HTTP Basic on each call.'));
  const out = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', id: 'login-submit' }, 'Sign in');
  kind.addEventListener('change', () => {
    const c = kind.querySelector('input:checked').value === 'client';
    tokenBox.hidden = c; clientBox.hidden = !c;
  });
  const form = h('form', { class: 'card login', id: 'login-form' },
    h('h1', {}, 'Sign in to the Grantlog console'),
    h('p', { class: 'muted' }, 'The credential stays in this tab only (session storage) and is sent to this node\'s /v1 API with each call. It can do here exactly what it can do through the API.'),
    kind, tokenBox, clientBox,
    field('Namespace', ns, 'The namespace you act in (your token\'s or client\'s namespace).'),
    submit, out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const isClient = kind.querySelector('input:checked').value === 'client';
    const s = isClient
      ? { kind: 'client', clientId: clientId.value.trim(), secret: secret.value, namespace: ns.value.trim() || 'grantlog' }
      : { kind: 'token', token: token.value.trim(), namespace: ns.value.trim() || 'grantlog' };
    if (isClient ? !s.clientId || !s.secret : !s.token) {
      out.replaceChildren(errorBox({ code: 'missingCredential', message: 'enter the credential first' }));
      return;
    }
    busy(submit, out, async () => {
      // A check of the credential's own permissions: 401 for a bad
      // credential; 403 (it may not ask checks) still signs it in.
      try {
        await call('POST', '/v1/check', { subject: self(s), namespace: s.namespace, resource: 'ADMIN:ROLE', action: 2 },
          { session: s, onUnauthorized: false });
      } catch (err) {
        if (err.status !== 403) throw err;
      }
      saveSession(s);
      s.readOnly = await probe(s.namespace);
      saveSession(s);
      if (!location.hash || location.hash === '#/login') location.hash = '#/roles';
      render();
    });
  });
  replace(main, form);
  token.focus();
}

document.getElementById('logout').addEventListener('click', () => {
  clearSession();
  location.hash = '#/roles';
  render();
});
document.getElementById('nav-toggle').addEventListener('click', (e) => {
  const nav = document.getElementById('nav');
  const open = !nav.classList.contains('open');
  nav.classList.toggle('open', open);
  e.currentTarget.setAttribute('aria-expanded', String(open));
});
document.getElementById('nav').addEventListener('click', () => document.getElementById('nav').classList.remove('open'));
window.addEventListener('grantlog:unauthorized', () => {
  clearSession();
  render();
});
window.addEventListener('hashchange', render);
render();
