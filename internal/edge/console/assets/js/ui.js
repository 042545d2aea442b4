// ui.js: building DOM without innerHTML (no markup from data ever reaches
// the parser), forms, tables, notices and busy states.

// h builds an element: h('button', {class: 'x', onclick: fn}, 'text', child).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false || c === '') continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace empties el and puts children in it.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
// field is a labelled input: field('Role name', h('input', {...}), 'hint').
export function field(label, input, hint) {
  const id = input.id || `f${++ids}`;
  input.id = id;
  const msg = h('small', { class: 'hint', id: `${id}-hint` }, hint || '');
  input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, msg);
}

// setInvalid marks input invalid with message (or valid with '').
export function setInvalid(input, message) {
  const hint = document.getElementById(`${input.id}-hint`);
  if (message) {
    input.setAttribute('aria-invalid', 'true');
    if (hint) { hint.textContent = message; hint.classList.add('bad'); }
  } else {
    input.removeAttribute('aria-invalid');
    if (hint) { hint.classList.remove('bad'); if (hint.dataset.orig !== undefined) hint.textContent = hint.dataset.orig; }
  }
}

export function errorBox(err) {
  const code = err && err.code ? err.code : 'error';
  const box = h('div', { class: 'notice error', role: 'alert' },
    h('strong', {}, code), ' ', err && err.message ? err.message : String(err));
  if (err && err.requestId) box.append(h('small', { class: 'rid' }, ` (request ${err.requestId})`));
  return box;
}

export function empty(text, ...extra) {
  return h('div', { class: 'empty' }, h('p', {}, text), extra);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', 'aria-busy': 'true' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

// busy runs fn with button disabled and marked busy; errors land in out.
export async function busy(button, out, fn) {
  const label = button ? button.textContent : '';
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); button.textContent = `${label}…`; }
  if (out) out.replaceChildren();
  try {
    return await fn();
  } catch (err) {
    if (out) out.replaceChildren(errorBox(err)); else toast(err.message || String(err), true);
    return undefined;
  } finally {
    if (button) { button.disabled = false; button.removeAttribute('aria-busy'); button.textContent = label; }
  }
}

let toastTimer;
export function toast(text, bad) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.className = bad ? 'toast show bad' : 'toast show';
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = 'toast'; }, 4000);
}

// table renders rows with columns [{label, cell(row) → node|string}].
export function table(columns, rows, opts = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: opts.class || '' },
      opts.caption ? h('caption', {}, opts.caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', opts.rowAttrs ? opts.rowAttrs(r) : {},
        columns.map((c) => h('td', { 'data-label': c.label }, c.cell(r))))))));
}

export const ACTIONS = [[1, 'Create'], [2, 'Read'], [4, 'Update'], [8, 'Delete']];

// actionText is an action bitmask in words: 6 → "Read|Update", 15 → "CRUD".
export function actionText(a) {
  if (a === 15) return 'CRUD';
  const names = ACTIONS.filter(([bit]) => a & bit).map(([, n]) => n);
  return names.length ? names.join('|') : String(a);
}

export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'ghost' }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      // No clipboard permission (or no secure context): select the text instead.
      const box = b.parentElement && b.parentElement.querySelector('code');
      if (box) { const r = document.createRange(); r.selectNodeContents(box); getSelection().removeAllRanges(); getSelection().addRange(r); }
      b.textContent = 'Selected: press Ctrl+C';
    }
  });
  return b;
}

// secretOnce shows a secret with a copy button and a warning that it is shown once.
export function secretOnce(title, secret, extra) {
  return h('div', { class: 'notice secret', role: 'status' },
    h('strong', {}, title),
    h('p', {}, 'Copy it now: it is shown once and only its hash is stored.'),
    h('div', { class: 'secret-row' }, h('code', { class: 'secret-value' }, secret), copyButton(secret)),
    extra || null);
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), children);
}

export function time(s) {
  if (!s) return '';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}
