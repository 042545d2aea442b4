// widgets.js: pieces several pages share: the permission editor, the
// namespace picker, role lookups.
import { get, all, enc, holds } from './api.js';
import { h, field, setInvalid, ACTIONS, actionText } from './ui.js';
import { tagError, bind } from './perm.js';

let nsCache = null;
// namespaces lists the namespaces (cached for the page's life; reset() after changes).
export async function namespaces() {
  if (!nsCache) nsCache = all('/v1/namespaces').catch(() => []);
  return nsCache;
}
let roleCache = null;
export async function roles() {
  if (!roleCache) roleCache = all('/v1/roles?limit=100', 50).catch(() => []);
  return roleCache;
}
export function reset() { nsCache = null; roleCache = null; }

// nsInput is a text input offering the known namespaces.
export function nsInput(id, value) {
  const listId = `${id}-list`;
  const input = h('input', { type: 'text', id, value: value || '', list: listId, spellcheck: 'false', autocomplete: 'off' });
  const dl = h('datalist', { id: listId });
  namespaces().then((list) => dl.replaceChildren(...list.map((n) => h('option', { value: n.namespace }))));
  return [input, dl];
}

// permEditor edits a list of permissions: each a resource tag (validated as
// typed) and Create/Read/Update/Delete checkboxes. checkHeld(ns, userId),
// when given, marks the rows the caller does not hold itself.
export function permEditor(initial, opts = {}) {
  const rows = h('div', { class: 'perm-rows' });
  const id = opts.id || 'perm';
  let n = 0;
  const addRow = (p = { resource: '', action: 0 }) => {
    const i = ++n;
    const res = h('input', { type: 'text', class: 'perm-resource', id: `${id}-res-${i}`, value: p.resource, spellcheck: 'false', autocomplete: 'off', placeholder: 'NAMESPACE:{namespace}:USER:{userId}:ORDER' });
    const boxes = ACTIONS.map(([bit, name]) => h('label', { class: 'crud' },
      h('input', { type: 'checkbox', value: bit, class: `perm-${name.toLowerCase()}`, checked: (p.action & bit) !== 0 }), ` ${name}`));
    const remove = h('button', { type: 'button', class: 'ghost small', 'aria-label': `Remove permission ${i}` }, 'Remove');
    const wrap = field(`Permission ${i} resource tag`, res, 'Segments separated by colons; {namespace}, {userId} and * allowed.');
    const hint = wrap.querySelector('small');
    hint.dataset.orig = hint.textContent;
    const acts = h('fieldset', { class: 'crud-set' }, h('legend', {}, `Permission ${i} actions`), boxes);
    const row = h('div', { class: 'perm-row', dataset: { row: String(i) } }, wrap, acts, remove);
    const validate = () => {
      const err = tagError(res.value.trim());
      const action = boxes.reduce((a, l) => a | (l.firstChild.checked ? Number(l.firstChild.value) : 0), 0);
      if (res.value.trim() === '' && action === 0) { setInvalid(res, ''); row.dataset.state = 'blank'; return; }
      if (err) { setInvalid(res, err); row.dataset.state = 'bad'; return; }
      if (!action) { setInvalid(res, 'tick at least one of Create, Read, Update, Delete'); row.dataset.state = 'bad'; return; }
      setInvalid(res, ''); row.dataset.state = 'ok';
    };
    res.addEventListener('input', validate);
    acts.addEventListener('change', validate);
    remove.addEventListener('click', () => { row.remove(); opts.onChange && opts.onChange(); });
    rows.append(row);
    if (p.resource) validate();
    return res;
  };
  for (const p of initial || []) addRow(p);
  if (!initial || !initial.length) addRow();
  const add = h('button', { type: 'button', class: 'ghost', id: `${id}-add` }, '+ Add permission');
  add.addEventListener('click', () => addRow().focus());
  const el = h('div', { class: 'perm-editor' }, rows, add);
  return {
    el,
    // value returns the permissions, or throws with the first problem.
    value() {
      const out = [];
      for (const row of rows.querySelectorAll('.perm-row')) {
        const res = row.querySelector('.perm-resource');
        const action = [...row.querySelectorAll('.crud input')].reduce((a, b) => a | (b.checked ? Number(b.value) : 0), 0);
        const tag = res.value.trim();
        if (!tag && !action) continue;
        const err = tagError(tag) || (action ? '' : 'tick at least one of Create, Read, Update, Delete');
        if (err) { setInvalid(res, err); res.focus(); throw Object.assign(new Error(`${tag || 'a permission'}: ${err}`), { code: 'invalidPermission' }); }
        out.push({ resource: tag, action });
      }
      return out;
    },
    // markHeld asks the API which rows the caller holds (bound to ns/user)
    // and flags the others; false when some row is not held.
    async markHeld(ns, userId) {
      const list = this.value();
      const rs = [...rows.querySelectorAll('.perm-row')].filter((r) => r.querySelector('.perm-resource').value.trim());
      // Rows still naming a placeholder ({userId} of an owner we do not
      // know) cannot be asked as a check: the API decides them on submit.
      const bound = list.map((p) => ({ resource: bind(p.resource, ns, userId), action: p.action }));
      const ask = bound.map((p, i) => i).filter((i) => !bound[i].resource.includes('{'));
      const answers = await holds(ns, ask.map((i) => bound[i]));
      if (!answers) return true; // the caller may not ask: the API decides on submit
      const held = list.map(() => true);
      ask.forEach((i, k) => { held[i] = answers[k]; });
      let okAll = true;
      held.forEach((ok, i) => {
        if (!ok) { okAll = false; setInvalid(rs[i].querySelector('.perm-resource'), `you do not hold ${list[i].resource} [${actionText(list[i].action)}] in ${ns}: nobody can grant more than they hold`); }
      });
      return okAll;
    },
  };
}

// permList shows permissions read-only.
export function permList(perms) {
  if (!perms || !perms.length) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'perms' }, perms.map((p) => h('li', {}, h('code', {}, p.resource), ' ', h('span', { class: 'act' }, actionText(p.action)))));
}

// roleName resolves a role id to its name (or the id).
export async function roleNames() {
  const m = new Map();
  for (const r of await roles()) m.set(r.roleId, r.roleName);
  return m;
}

export async function roleById(id) {
  return get(`/v1/roles/${enc(id)}`);
}
