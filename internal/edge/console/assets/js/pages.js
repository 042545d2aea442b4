// pages.js: one function per page: (main, args, params) → cleanup?.
import { call, get, all, enc, can, session, follow, holds } from './api.js';
import { h, field, replace, errorBox, empty, loading, busy, toast, table, actionText, secretOnce, section, time, ACTIONS } from './ui.js';
import { permEditor, permList, nsInput, namespaces, roles as allRoles, reset, roleNames } from './widgets.js';
import { tagError, bind, covers } from './perm.js';

const PAGE = 20;
const sessionNs = () => (session() || {}).namespace || 'grantlog';
const assignPerm = (ns) => `ADMIN:NAMESPACE:${ns}:ROLE:USER:*`;

function readOnlyNote(what, perm) {
  return h('p', { class: 'notice info', id: 'readonly-note' }, `Your credential may not ${what} (it lacks ${perm}), so the form is not shown.`);
}

// ---------------------------------------------------------------- roles

async function rolesPage(main, args, params) {
  if (args[0]) return roleDetail(main, args[0]);
  const q = params.get('q') || '';
  const search = h('input', { type: 'search', id: 'role-search', value: q, placeholder: 'name, description or id', autocomplete: 'off' });
  const listBox = h('div', { id: 'role-list' }, loading());
  const pager = h('div', { class: 'pager' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Roles'),
    h('form', { class: 'inline', role: 'search', onsubmit: (e) => e.preventDefault() }, field('Search roles', search))),
  listBox, pager);

  const cursors = [''];
  let idx = 0;
  let filtered = null;
  const show = (rows, hasNext) => {
    if (!rows.length) {
      replace(listBox, empty(search.value ? `No role matches "${search.value}".` : 'No roles yet. Create the first one below.'));
    } else {
      replace(listBox, table([
        { label: 'Role', cell: (r) => h('a', { href: `#/roles/${enc(r.roleId)}` }, r.roleName) },
        { label: 'Flags', cell: (r) => [r.adminRole ? h('span', { class: 'badge' }, 'admin') : null, r.isWildcard ? h('span', { class: 'badge' }, 'all namespaces') : null] },
        { label: 'Permissions', cell: (r) => String((r.permissions || []).length) },
        { label: 'Description', cell: (r) => r.description || '' },
      ], rows, { class: 'roles' }));
    }
    const prev = h('button', { type: 'button', class: 'ghost', disabled: idx === 0, id: 'roles-prev' }, '← Previous');
    const next = h('button', { type: 'button', class: 'ghost', disabled: !hasNext, id: 'roles-next' }, 'Next →');
    prev.addEventListener('click', () => { idx--; load(); });
    next.addEventListener('click', () => { idx++; load(); });
    replace(pager, prev, h('span', { class: 'muted' }, `page ${idx + 1}`), next);
  };
  const load = async () => {
    replace(listBox, loading());
    try {
      if (search.value.trim()) {
        if (!filtered) {
          const term = search.value.trim().toLowerCase();
          filtered = (await all('/v1/roles?limit=100', 50)).filter((r) =>
            r.roleName.toLowerCase().includes(term) || (r.description || '').toLowerCase().includes(term) || r.roleId === term);
        }
        show(filtered.slice(idx * PAGE, (idx + 1) * PAGE), (idx + 1) * PAGE < filtered.length);
        return;
      }
      const after = cursors[idx];
      const page = await get(`/v1/roles?limit=${PAGE}${after ? `&after=${enc(after)}` : ''}`);
      const next = page.paging && page.paging.next;
      if (next) cursors[idx + 1] = next;
      show(page.data || [], !!next);
    } catch (err) {
      replace(listBox, errorBox(err));
      pager.replaceChildren();
    }
  };
  let t;
  search.addEventListener('input', () => {
    clearTimeout(t);
    t = setTimeout(() => {
      filtered = null; idx = 0;
      history.replaceState(null, '', `#/roles${search.value ? `?q=${enc(search.value)}` : ''}`);
      load();
    }, 250);
  });
  load();

  if (!(await can('ADMIN:ROLE', 1))) { main.append(readOnlyNote('create roles', 'ADMIN:ROLE [Create]')); return; }
  const name = h('input', { type: 'text', id: 'role-name', required: true, autocomplete: 'off' });
  const desc = h('input', { type: 'text', id: 'role-description', autocomplete: 'off' });
  const admin = h('input', { type: 'checkbox', id: 'role-admin' });
  const wild = h('input', { type: 'checkbox', id: 'role-wildcard' });
  const perms = permEditor([], { id: 'new-perm' });
  const out = h('div');
  const submit = h('button', { type: 'submit', id: 'role-create-submit' }, 'Create role');
  const form = h('form', { id: 'role-create', class: 'card' }, h('h2', {}, 'Create a role'),
    field('Role name', name, '1-128 characters; unique.'), field('Description', desc),
    h('div', { class: 'checks' }, h('label', {}, admin, ' Admin role (grants admin access, e.g. ADMIN:… permissions)'),
      h('label', {}, wild, ' All namespaces (isWildcard: its {namespace} binds to any namespace)')),
    h('h3', {}, 'Permissions'), perms.el, submit, out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, out, async () => {
      if (!name.value.trim()) throw Object.assign(new Error('give the role a name'), { code: 'invalidName' });
      const role = await call('POST', '/v1/roles', {
        roleName: name.value.trim(), description: desc.value, adminRole: admin.checked, isWildcard: wild.checked, permissions: perms.value(),
      });
      reset();
      toast(`Role ${role.roleName} created (revision ${role.revision})`);
      location.hash = `#/roles/${enc(role.roleId)}`;
    });
  });
  main.append(form);
  return undefined;
}

async function roleDetail(main, id) {
  main.append(h('p', {}, h('a', { href: '#/roles' }, '← All roles')));
  const head = h('div', {}, loading());
  main.append(head);
  let role;
  try {
    role = await get(`/v1/roles/${enc(id)}`);
  } catch (err) {
    replace(head, errorBox(err));
    return;
  }
  const [mayUpdate, mayDelete] = await Promise.all([can('ADMIN:ROLE', 4), can('ADMIN:ROLE', 8)]);
  replace(head, h('div', { class: 'page-head' }, h('h1', { id: 'role-title' }, role.roleName),
    h('div', {}, role.adminRole ? h('span', { class: 'badge' }, 'admin') : null, role.isWildcard ? h('span', { class: 'badge' }, 'all namespaces') : null,
      h('span', { class: 'muted' }, ` id ${role.roleId} · revision ${role.revision}`))),
  role.description ? h('p', {}, role.description) : null);

  // Details.
  if (mayUpdate) {
    const name = h('input', { type: 'text', id: 'edit-role-name', value: role.roleName });
    const desc = h('input', { type: 'text', id: 'edit-role-description', value: role.description || '' });
    const admin = h('input', { type: 'checkbox', id: 'edit-role-admin', checked: role.adminRole });
    const wild = h('input', { type: 'checkbox', id: 'edit-role-wildcard', checked: role.isWildcard });
    const out = h('div');
    const save = h('button', { type: 'submit' }, 'Save details');
    const f = h('form', { class: 'card' }, h('h2', {}, 'Details'), field('Role name', name), field('Description', desc),
      h('div', { class: 'checks' }, h('label', {}, admin, ' Admin role'), h('label', {}, wild, ' All namespaces')), save, out);
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(save, out, async () => {
        const r = await call('PATCH', `/v1/roles/${enc(id)}`, { roleName: name.value.trim(), description: desc.value, adminRole: admin.checked, isWildcard: wild.checked });
        reset();
        toast(`Saved (revision ${r.revision})`);
        document.getElementById('role-title').textContent = r.roleName;
      });
    });
    main.append(f);
  }

  // Permissions.
  if (mayUpdate) {
    const ed = permEditor(role.permissions || [], { id: 'role-perm' });
    const out = h('div');
    const save = h('button', { type: 'submit', id: 'role-perms-save' }, 'Save permissions');
    const f = h('form', { class: 'card', id: 'role-perms' }, h('h2', {}, 'Permissions'),
      h('p', { class: 'muted' }, 'A resource tag and the actions it grants. Saving replaces the role\'s permissions; a check sees the change at the revision shown.'),
      ed.el, save, out);
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(save, out, async () => {
        const r = await call('PUT', `/v1/roles/${enc(id)}/permissions`, { permissions: ed.value() });
        reset();
        out.replaceChildren(h('p', { class: 'notice ok', id: 'role-perms-saved' }, `Saved at revision ${r.revision}: ${(r.permissions || []).length} permission(s).`));
      });
    });
    main.append(f);
  } else {
    main.append(section('Permissions', permList(role.permissions)));
  }

  // Members.
  const members = h('div', { id: 'role-members' }, loading());
  const memberPager = h('div', { class: 'pager' });
  main.append(h('section', { class: 'card' }, h('h2', {}, 'Members'), members, memberPager));
  const cursors = [''];
  let idx = 0;
  const loadMembers = async () => {
    replace(members, loading());
    try {
      const page = await get(`/v1/roles/${enc(id)}/members?limit=${PAGE}${cursors[idx] ? `&after=${enc(cursors[idx])}` : ''}`);
      const next = page.paging && page.paging.next;
      if (next) cursors[idx + 1] = next;
      const rows = page.data || [];
      if (!rows.length) replace(members, empty('Nobody holds this role yet.'));
      else {
        replace(members, table([
          { label: 'User', cell: (m) => h('a', { href: `#/users?ns=${enc(m.namespace)}&user=${enc(m.userId)}` }, m.userId) },
          { label: 'Assigned in', cell: (m) => m.namespace },
          { label: '', cell: (m) => unassignButton(m.namespace, m.userId, id, loadMembers) },
        ], rows));
      }
      const prev = h('button', { type: 'button', class: 'ghost', disabled: idx === 0 }, '← Previous');
      const nxt = h('button', { type: 'button', class: 'ghost', disabled: !next }, 'Next →');
      prev.addEventListener('click', () => { idx--; loadMembers(); });
      nxt.addEventListener('click', () => { idx++; loadMembers(); });
      replace(memberPager, prev, h('span', { class: 'muted' }, `page ${idx + 1}`), nxt);
    } catch (err) {
      replace(members, errorBox(err));
    }
  };
  loadMembers();
  main.append(assignForm({ roleId: id, onDone: loadMembers }));

  // Delete.
  if (mayDelete) {
    const out = h('div');
    const start = h('button', { type: 'button', class: 'danger', id: 'role-delete' }, 'Delete role…');
    const box = h('section', { class: 'card danger-zone' }, h('h2', {}, 'Delete'), start, out);
    start.addEventListener('click', () => busy(start, out, async () => {
      const ms = await all(`/v1/roles/${enc(id)}/members?limit=100`, 50);
      const confirm = h('button', { type: 'button', class: 'danger', id: 'role-delete-confirm' },
        ms.length ? `Delete ${role.roleName} and end ${ms.length} assignment(s)` : `Delete ${role.roleName}`);
      const cancel = h('button', { type: 'button', class: 'ghost' }, 'Cancel');
      cancel.addEventListener('click', () => out.replaceChildren());
      out.replaceChildren(h('div', { class: 'notice warn', role: 'alert' },
        h('p', {}, ms.length ? 'Deleting the role ends these assignments:' : 'The role has no assignments.'),
        ms.length ? h('ul', { id: 'role-delete-ends' }, ms.map((m) => h('li', {}, `user ${m.userId} in namespace ${m.namespace}`))) : null,
        h('div', { class: 'row' }, confirm, cancel)));
      confirm.addEventListener('click', () => busy(confirm, out, async () => {
        const r = await call('DELETE', `/v1/roles/${enc(id)}`);
        reset();
        toast(`Role deleted (revision ${r.revision})`);
        location.hash = '#/roles';
      }));
      confirm.focus();
    }));
    main.append(box);
  }
  return undefined;
}

function unassignButton(ns, user, roleId, after) {
  const b = h('button', { type: 'button', class: 'ghost small', hidden: true }, 'Unassign');
  can(assignPerm(ns), 4).then((ok) => { b.hidden = !ok; });
  b.addEventListener('click', () => busy(b, null, async () => {
    const r = await call('DELETE', `/v1/namespaces/${enc(ns)}/users/${enc(user)}/roles/${enc(roleId)}`);
    toast(`Unassigned (revision ${r.revision})`);
    after();
  }));
  return b;
}

// assignForm assigns a role (given, or chosen) to a user (given, or typed).
function assignForm({ roleId, ns, user, onDone }) {
  const userIn = h('input', { type: 'text', id: 'assign-user', value: user || '', autocomplete: 'off', spellcheck: 'false' });
  const [nsIn, dl] = nsInput('assign-namespace', ns || sessionNs());
  const inNs = h('input', { type: 'text', id: 'assign-in', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. foo, bar' });
  const nb = h('input', { type: 'datetime-local', id: 'assign-not-before' });
  const na = h('input', { type: 'datetime-local', id: 'assign-not-after' });
  const roleSel = h('select', { id: 'assign-role' }, h('option', { value: '' }, 'Choose a role…'));
  if (!roleId) allRoles().then((rs) => roleSel.append(...rs.map((r) => h('option', { value: r.roleId }, r.roleName))));
  const out = h('div');
  const warn = h('p', { class: 'notice warn', hidden: true, id: 'assign-denied' });
  const submit = h('button', { type: 'submit', id: 'assign-submit' }, 'Assign');
  const form = h('form', { class: 'card', id: 'assign-form' }, h('h2', {}, roleId ? 'Assign this role' : 'Assign a role'),
    roleId ? null : field('Role', roleSel),
    user ? null : field('User id', userIn),
    ns ? null : [field('Made in namespace', nsIn, 'The namespace the assignment is made in (the user\'s namespace).'), dl],
    field('Applies in namespaces', inNs, 'Comma-separated. Empty: the namespace it is made in.'),
    h('div', { class: 'two' }, field('Not before (optional)', nb), field('Not after (optional)', na, 'A time-bound assignment ends by itself.')),
    warn, submit, out);
  const gate = async () => {
    const n = (ns || nsIn.value.trim());
    if (!n) return;
    const ok = await can(assignPerm(n), 4);
    warn.hidden = ok;
    warn.textContent = ok ? '' : `Your credential may not assign roles in ${n} (it lacks ${assignPerm(n)} [Update]).`;
    submit.disabled = !ok;
  };
  nsIn.addEventListener('change', gate);
  gate();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, out, async () => {
      const n = ns || nsIn.value.trim();
      const u = user || userIn.value.trim();
      const rid = roleId || roleSel.value;
      if (!u || !n || !rid) throw Object.assign(new Error('a role, a user id and a namespace are needed'), { code: 'incomplete' });
      const body = { roleId: rid, assignedNamespaces: inNs.value.split(',').map((x) => x.trim()).filter(Boolean) };
      if (!body.assignedNamespaces.length) body.assignedNamespaces = [n];
      if (nb.value) body.notBefore = new Date(nb.value).toISOString();
      if (na.value) body.notAfter = new Date(na.value).toISOString();
      const r = await call('POST', `/v1/namespaces/${enc(n)}/users/${enc(u)}/roles`, body);
      out.replaceChildren(h('p', { class: 'notice ok', id: 'assign-done' }, `Assigned at revision ${r.revision}.`));
      if (onDone) onDone();
    });
  });
  return form;
}

// ---------------------------------------------------------------- users

async function usersPage(main, args, params) {
  const [nsIn, dl] = nsInput('user-namespace', params.get('ns') || sessionNs());
  const userIn = h('input', { type: 'text', id: 'user-id', value: params.get('user') || '', autocomplete: 'off', spellcheck: 'false' });
  const form = h('form', { class: 'card inline-form', id: 'user-form' }, field('Namespace', nsIn), dl, field('User id', userIn),
    h('button', { type: 'submit' }, 'Show'));
  const out = h('div', { id: 'user-out' });
  main.append(h('h1', {}, 'Users'), h('p', { class: 'muted' }, 'A user\'s roles and what they may do, with where each permission comes from.'), form, out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/users?ns=${enc(nsIn.value.trim())}&user=${enc(userIn.value.trim())}`;
  });
  const ns = params.get('ns');
  const user = params.get('user');
  if (!ns || !user) { out.append(empty('Enter a namespace and a user id.')); return; }
  const rolesBox = h('div', { id: 'user-roles' }, loading());
  const permBox = h('div', { id: 'user-perms' }, loading());
  out.append(h('section', { class: 'card' }, h('h2', {}, `Roles of ${user} in ${ns}`), rolesBox),
    h('section', { class: 'card' }, h('h2', {}, `What ${user} may do signed into ${ns}`), permBox),
    assignForm({ ns, user, onDone: () => { loadRoles(); loadPerms(); } }));
  const loadRoles = async () => {
    try {
      const page = await get(`/v1/namespaces/${enc(ns)}/users/${enc(user)}/roles`);
      const rows = page.data || [];
      replace(rolesBox, rows.length ? table([
        { label: 'Role', cell: (r) => h('a', { href: `#/roles/${enc(r.roleId)}` }, r.roleName) },
        { label: 'Applies in', cell: (r) => (r.assignedNamespaces || []).join(', ') || (r.isWildcard ? 'every namespace' : r.namespace) },
        { label: 'Window', cell: (r) => [r.notBefore ? `from ${time(r.notBefore)} ` : '', r.notAfter ? `until ${time(r.notAfter)}` : ''].join('') || 'always' },
        { label: 'Revision', cell: (r) => String(r.revision) },
        { label: '', cell: (r) => unassignButton(ns, user, r.roleId, () => { loadRoles(); loadPerms(); }) },
      ], rows) : empty(`${user} holds no role assigned in ${ns} (default roles of the namespace still apply).`));
    } catch (err) { replace(rolesBox, errorBox(err)); }
  };
  const loadPerms = async () => {
    try {
      const rows = await all(`/v1/namespaces/${enc(ns)}/subjects/user/${enc(user)}/permissions?limit=100`, 10);
      replace(permBox, rows.length ? table([
        { label: 'Resource', cell: (p) => h('code', {}, p.resource) },
        { label: 'Actions', cell: (p) => actionText(p.action) },
        { label: 'Through', cell: (p) => h('ul', { class: 'sources' }, (p.sources || []).map(sourceText)) },
      ], rows) : empty('No permission.'));
    } catch (err) { replace(permBox, errorBox(err)); }
  };
  loadRoles();
  loadPerms();
  return undefined;
}

function sourceText(s) {
  const via = {
    assignment: `role ${s.roleName}, assigned in ${s.assignmentNamespace}${s.assignedNamespaces ? ` for ${s.assignedNamespaces.join(', ')}` : ''}`,
    namespaceDefaultRole: `default role ${s.roleName} of namespace ${s.assignmentNamespace}`,
    tokenPermission: `the token's own permission`,
    clientPermission: 'the client\'s own permission',
    clientRole: `the client's role ${s.roleName}`,
  }[s.source] || `${s.source}${s.roleName ? ` ${s.roleName}` : ''}`;
  return h('li', {}, via, s.permission ? [' (', h('code', {}, s.permission.resource), ` ${actionText(s.permission.action)})`] : null);
}

// ---------------------------------------------------------------- namespaces

async function namespacesPage(main) {
  main.append(h('h1', {}, 'Namespaces'));
  const box = h('div', { id: 'ns-list' }, loading());
  main.append(box);
  const load = async () => {
    try {
      const [list, names] = await Promise.all([all('/v1/namespaces'), roleNames()]);
      replace(box, list.length ? table([
        { label: 'Namespace', cell: (n) => h('strong', {}, n.namespace) },
        { label: 'Parent studio', cell: (n) => n.parent || h('span', { class: 'muted' }, '—') },
        { label: 'Default roles', cell: (n) => (n.defaultRoles || []).map((r) => h('a', { href: `#/roles/${enc(r)}`, class: 'badge' }, names.get(r) || r)) },
        { label: 'Kind', cell: (n) => (n.explicit ? 'created' : 'implicit (used, not created)') },
        { label: 'Links', cell: (n) => [h('a', { href: `#/clients?ns=${enc(n.namespace)}` }, 'clients'), ' · ', h('a', { href: `#/tokens?ns=${enc(n.namespace)}` }, 'tokens')] },
      ], list) : empty('No namespaces yet.'));
    } catch (err) { replace(box, errorBox(err)); }
  };
  load();
  if (!(await can('ADMIN:NAMESPACE', 1))) { main.append(readOnlyNote('create namespaces', 'ADMIN:NAMESPACE [Create]')); return; }
  const name = h('input', { type: 'text', id: 'ns-name', autocomplete: 'off', spellcheck: 'false' });
  const [parent, dl] = nsInput('ns-parent', '');
  const useDefault = h('input', { type: 'checkbox', id: 'ns-default', checked: true });
  const roleBoxes = h('fieldset', { class: 'role-boxes', disabled: true }, h('legend', {}, 'Default roles'));
  allRoles().then((rs) => roleBoxes.append(...rs.map((r) => h('label', {}, h('input', { type: 'checkbox', value: r.roleId }), ` ${r.roleName}`))));
  useDefault.addEventListener('change', () => { roleBoxes.disabled = useDefault.checked; });
  const out = h('div');
  const submit = h('button', { type: 'submit' }, 'Create namespace');
  const f = h('form', { class: 'card', id: 'ns-create' }, h('h2', {}, 'Create a namespace'),
    field('Namespace', name, 'A studio, or a game under one.'), field('Parent studio (optional)', parent, 'Its grants cover this namespace.'), dl,
    h('label', { class: 'checks' }, useDefault, ' Use the default role (User)'), roleBoxes, submit, out);
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, out, async () => {
      const body = { namespace: name.value.trim() };
      if (parent.value.trim()) body.parent = parent.value.trim();
      if (!useDefault.checked) body.defaultRoles = [...roleBoxes.querySelectorAll('input:checked')].map((x) => x.value);
      const r = await call('POST', '/v1/namespaces', body);
      reset();
      out.replaceChildren(h('p', { class: 'notice ok' }, `Namespace ${r.namespace} created at revision ${r.revision}.`));
      load();
    });
  });
  main.append(f);
  return undefined;
}

// ---------------------------------------------------------------- namespace-scoped pages

function nsBar(main, title, route, ns, blurb) {
  const [nsIn, dl] = nsInput(`${route}-ns`, ns);
  const f = h('form', { class: 'card inline-form' }, field('Namespace', nsIn), dl, h('button', { type: 'submit' }, 'Show'));
  f.addEventListener('submit', (e) => { e.preventDefault(); location.hash = `#/${route}?ns=${enc(nsIn.value.trim())}`; });
  main.append(h('h1', {}, title), h('p', { class: 'muted' }, blurb), f);
}

async function clientsPage(main, args, params) {
  const ns = params.get('ns') || sessionNs();
  nsBar(main, 'IAM clients', 'clients', ns, 'Machine credentials of a namespace: an id and a secret (shown once), with permissions and roles.');
  const box = h('div', { id: 'client-list' }, loading());
  const out = h('div', { id: 'client-out', 'aria-live': 'polite' });
  main.append(out, h('section', { class: 'card' }, h('h2', {}, `Clients of ${ns}`), box));
  const perm = `ADMIN:NAMESPACE:${ns}:CLIENT`;
  const [mayCreate, mayDelete] = await Promise.all([can(perm, 1), can(perm, 8)]);
  const load = async () => {
    try {
      const list = await all(`/v1/namespaces/${enc(ns)}/clients`);
      replace(box, list.length ? table([
        { label: 'Name', cell: (c) => c.clientName },
        { label: 'Client id', cell: (c) => h('code', {}, c.clientId) },
        { label: 'Permissions', cell: (c) => permList(c.permissions) },
        { label: 'Roles', cell: (c) => String((c.roles || []).length) },
        { label: 'Created', cell: (c) => time(c.createdAt) },
        { label: '', cell: (c) => (mayDelete ? delClient(c) : '') },
      ], list) : empty(`No IAM clients in ${ns} yet.`));
    } catch (err) { replace(box, errorBox(err)); }
  };
  const delClient = (c) => {
    const b = h('button', { type: 'button', class: 'ghost small danger' }, 'Delete');
    b.addEventListener('click', () => busy(b, null, async () => {
      await call('DELETE', `/v1/namespaces/${enc(ns)}/clients/${enc(c.clientId)}`);
      toast(`Client ${c.clientName} deleted`);
      load();
    }));
    return b;
  };
  load();
  if (!mayCreate) { main.append(readOnlyNote(`create IAM clients in ${ns}`, `${perm} [Create]`)); return; }
  const name = h('input', { type: 'text', id: 'client-name', autocomplete: 'off' });
  const ed = permEditor([], { id: 'client-perm' });
  const roleBoxes = h('fieldset', { class: 'role-boxes' }, h('legend', {}, 'Roles (optional)'));
  allRoles().then((rs) => roleBoxes.append(...rs.map((r) => h('label', {}, h('input', { type: 'checkbox', value: r.roleId }), ` ${r.roleName}`))));
  const errs = h('div');
  const submit = h('button', { type: 'submit' }, 'Create client');
  const f = h('form', { class: 'card', id: 'client-create' }, h('h2', {}, 'Create an IAM client'), field('Client name', name),
    h('h3', {}, 'Permissions'), ed.el, roleBoxes, submit, errs);
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, errs, async () => {
      const r = await call('POST', `/v1/namespaces/${enc(ns)}/clients`, {
        clientName: name.value.trim(), permissions: ed.value(), roles: [...roleBoxes.querySelectorAll('input:checked')].map((x) => x.value),
      });
      out.replaceChildren(secretOnce(`Client ${r.clientId} created (revision ${r.revision}). Its secret:`, r.clientSecret));
      out.scrollIntoView({ block: 'start' });
      name.value = '';
      load();
    });
  });
  main.append(f);
  return undefined;
}

async function tokensPage(main, args, params) {
  const ns = params.get('ns') || sessionNs();
  nsBar(main, 'Tokens', 'tokens', ns, 'Scoped tokens of a namespace. A token never holds more than its owner, and only what you hold can be given.');
  const box = h('div', { id: 'token-list' }, loading());
  const out = h('div', { id: 'token-out', 'aria-live': 'polite' });
  main.append(out, h('section', { class: 'card' }, h('h2', {}, `Tokens of ${ns}`), box));
  const load = async () => {
    try {
      const list = await all(`/v1/namespaces/${enc(ns)}/tokens`);
      replace(box, list.length ? table([
        { label: 'Name', cell: (t) => h('strong', {}, t.name) },
        { label: 'Owner', cell: (t) => `${t.owner.type} ${t.owner.id}` },
        { label: 'Scopes / permissions', cell: (t) => [(t.scopes || []).map((s) => h('span', { class: 'badge' }, s)), permList(t.permissions)] },
        { label: 'Issued', cell: (t) => time(t.issuedAt) },
        { label: 'Expires', cell: (t) => (t.expired ? h('span', { class: 'badge bad' }, 'expired') : (t.expiresAt ? time(t.expiresAt) : 'never')) },
        { label: '', cell: (t) => revokeButton(t) },
      ], list, { rowAttrs: (t) => ({ dataset: { token: t.tokenId, name: t.name } }) }) : empty(`No tokens in ${ns}.`));
    } catch (err) { replace(box, errorBox(err)); }
  };
  const revokeButton = (t) => {
    const b = h('button', { type: 'button', class: 'ghost small danger', 'aria-label': `Revoke token ${t.name}`, hidden: true }, 'Revoke');
    can(`NAMESPACE:${ns}:USER:${t.owner.id}:TOKEN`, 8).then((ok) => { b.hidden = !ok; });
    b.addEventListener('click', () => busy(b, null, async () => {
      const r = await call('DELETE', `/v1/namespaces/${enc(ns)}/tokens/${enc(t.tokenId)}`);
      toast(`Token ${t.name} revoked (revision ${r.revision})`);
      load();
    }));
    return b;
  };
  load();

  // Issue: the scopes offered are those the caller holds (asked of the API).
  const name = h('input', { type: 'text', id: 'token-name', autocomplete: 'off' });
  const ownerType = h('select', { id: 'token-owner-type' }, h('option', { value: '' }, 'me (this credential\'s owner)'), h('option', { value: 'user' }, 'a user'));
  const ownerId = h('input', { type: 'text', id: 'token-owner-id', autocomplete: 'off', disabled: true });
  ownerType.addEventListener('change', () => { ownerId.disabled = !ownerType.value; });
  const exp = h('input', { type: 'datetime-local', id: 'token-expires' });
  const scopeBox = h('fieldset', { class: 'role-boxes', id: 'token-scopes' }, h('legend', {}, 'Scopes'), loading('Finding the scopes you hold…'));
  const ed = permEditor([], { id: 'token-perm' });
  const errs = h('div');
  const submit = h('button', { type: 'submit', id: 'token-issue-submit' }, 'Issue token');
  const f = h('form', { class: 'card', id: 'token-issue' }, h('h2', {}, 'Issue a token'), field('Token name', name),
    h('div', { class: 'two' }, field('Owner', ownerType), field('Owner user id', ownerId)), field('Expires (optional)', exp),
    scopeBox, h('h3', {}, 'Permissions (optional)'), ed.el, submit, errs);
  main.append(f);
  (async () => {
    let scopes = [];
    try { scopes = await all('/v1/scopes'); } catch { /* the caller may not read scopes */ }
    const uid = () => (ownerType.value ? ownerId.value.trim() : undefined);
    // A scope is offered when the caller holds each of its permissions
    // (bound to this namespace; a {userId} one is left to the API).
    const asks = [];
    for (const s of scopes) {
      for (const p of s.permissions) {
        const r = bind(p.resource, ns, uid());
        if (!r.includes('{')) asks.push({ scope: s.name, resource: r, action: p.action });
      }
    }
    const held = await holds(ns, asks);
    const lacking = new Set(held ? asks.filter((a, i) => !held[i]).map((a) => a.scope) : []);
    const offered = scopes.filter((s) => !lacking.has(s.name));
    replace(scopeBox, h('legend', {}, 'Scopes'),
      offered.length ? offered.map((s) => h('label', { title: s.description || '' }, h('input', { type: 'checkbox', value: s.name }), ` ${s.name}`))
        : h('p', { class: 'muted' }, scopes.length ? 'You hold none of the defined scopes.' : 'No scopes are defined (see the scope catalogs).'),
      held && scopes.length ? h('small', { class: 'hint scope-note' }, `Only the ${offered.length} of ${scopes.length} scopes you hold are offered.`) : null);
  })();
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, errs, async () => {
      const body = { name: name.value.trim(), scopes: [...scopeBox.querySelectorAll('input:checked')].map((x) => x.value), permissions: ed.value() };
      if (ownerType.value) body.owner = { type: 'user', id: ownerId.value.trim() };
      if (exp.value) body.expiresAt = new Date(exp.value).toISOString();
      if (!body.permissions.length) delete body.permissions;
      if (!body.scopes.length) delete body.scopes;
      if (body.permissions && !(await ed.markHeld(ns, ownerType.value ? ownerId.value.trim() : undefined))) {
        throw Object.assign(new Error('some permissions are more than you hold; remove them'), { code: 'exceedsCallerPermissions' });
      }
      const r = await call('POST', `/v1/namespaces/${enc(ns)}/tokens`, body);
      out.replaceChildren(secretOnce(`Token ${body.name} issued (id ${r.tokenId}, revision ${r.revision}). Its secret:`, r.token));
      out.scrollIntoView({ block: 'start' });
      name.value = '';
      load();
    });
  });
  return undefined;
}

// ---------------------------------------------------------------- audit

const AUDIT_LAST = 'grantlog.console.auditLast';

async function auditPage(main, args, params) {
  const nsF = h('input', { type: 'text', id: 'audit-ns', value: params.get('ns') || '', autocomplete: 'off', placeholder: 'all you may read' });
  const typeF = h('input', { type: 'text', id: 'audit-type', value: params.get('type') || '', autocomplete: 'off', placeholder: 'e.g. role.created.v1' });
  const from = h('input', { type: 'number', id: 'audit-from', min: '0', value: params.get('from') || '' });
  const text = h('input', { type: 'search', id: 'audit-filter', autocomplete: 'off', placeholder: 'filter what is shown' });
  const toggle = h('button', { type: 'submit', id: 'audit-toggle' }, 'Follow');
  const state = h('p', { class: 'muted', id: 'audit-state', 'aria-live': 'polite' }, 'Not following.');
  const feed = h('ol', { class: 'feed', id: 'audit-feed', reversed: true });
  const emptyNote = empty('No audit records yet. Follow the feed to see changes as they happen.');
  const saved = sessionStorage.getItem(AUDIT_LAST);
  const resume = saved ? h('label', { class: 'checks' }, h('input', { type: 'checkbox', id: 'audit-resume', checked: true }), ` Resume after revision ${saved} (where this tab stopped)`) : null;
  const f = h('form', { class: 'card inline-form', id: 'audit-form' },
    field('Namespaces', nsF, 'Comma-separated.'), field('Event types', typeF, 'Comma-separated.'), field('From revision', from), resume, toggle);
  main.append(h('h1', {}, 'Audit feed'),
    h('p', { class: 'muted' }, 'The live audit stream (GET /v1/audit/stream): every change, who made it and why. It resumes where it stopped after a disconnect.'),
    f, h('div', { class: 'card' }, h('div', { class: 'feed-head' }, state, field('Show only', text)), emptyNote, feed));
  let follower = null;
  const matches = (li) => !text.value || li.textContent.toLowerCase().includes(text.value.toLowerCase());
  text.addEventListener('input', () => { for (const li of feed.children) li.hidden = !matches(li); });
  const add = (rec) => {
    emptyNote.hidden = true;
    const actor = rec.actor ? `${rec.actor.type} ${rec.actor.id}` : '';
    const li = h('li', { class: 'rec', dataset: { type: rec.type, revision: String(rec.revision) } },
      h('div', { class: 'rec-head' }, h('span', { class: 'rev' }, `#${rec.revision}`), h('strong', {}, rec.type),
        h('span', {}, ` in ${rec.namespace}`), h('span', { class: 'muted' }, ` by ${actor} · ${time(rec.occurredAt)}`)),
      rec.reason ? h('div', { class: 'reason' }, `“${rec.reason}”`) : null,
      h('details', {}, h('summary', {}, 'Record'), h('pre', {}, JSON.stringify(rec.after || rec.payload || rec, null, 2))));
    li.hidden = !matches(li);
    feed.prepend(li);
    while (feed.children.length > 500) feed.lastChild.remove();
    sessionStorage.setItem(AUDIT_LAST, String(rec.revision));
  };
  const start = () => {
    const q = new URLSearchParams();
    for (const n of nsF.value.split(',').map((x) => x.trim()).filter(Boolean)) q.append('namespace', n);
    for (const t of typeF.value.split(',').map((x) => x.trim()).filter(Boolean)) q.append('type', t);
    if (from.value) q.set('fromRevision', from.value);
    const r = document.getElementById('audit-resume');
    const lastId = r && r.checked ? saved : '';
    follower = follow(`/v1/audit/stream?${q}`, {
      lastId,
      onRecord: add,
      onState: (s, bad) => { state.textContent = s; state.className = bad ? 'bad' : 'muted'; },
    });
    toggle.textContent = 'Stop';
  };
  const stop = () => {
    if (follower) follower.stop();
    follower = null;
    toggle.textContent = 'Follow';
    state.textContent = 'Stopped.';
    state.className = 'muted';
  };
  f.addEventListener('submit', (e) => { e.preventDefault(); if (follower) stop(); else start(); });
  if (params.get('follow') !== '0') start();
  return () => { if (follower) follower.stop(); };
}

// ---------------------------------------------------------------- playground

async function playgroundPage(main, args, params) {
  const subjType = h('select', { id: 'pg-subject-type' }, ['user', 'client', 'token'].map((t) => h('option', { value: t, selected: params.get('type') === t }, t)));
  const subj = h('input', { type: 'text', id: 'pg-subject', value: params.get('subject') || '', autocomplete: 'off', spellcheck: 'false' });
  const [nsIn, dl] = nsInput('pg-namespace', params.get('ns') || sessionNs());
  const res = h('input', { type: 'text', id: 'pg-resource', value: params.get('resource') || '', autocomplete: 'off', spellcheck: 'false', placeholder: 'NAMESPACE:foo:USER:777:ORDER' });
  const acts = h('fieldset', { class: 'crud-set', id: 'pg-actions' }, h('legend', {}, 'Action'),
    ACTIONS.map(([bit, n]) => h('label', { class: 'crud' }, h('input', { type: 'checkbox', value: bit, id: `pg-act-${n.toLowerCase()}`, checked: bit === 2 }), ` ${n}`)));
  const attrs = h('textarea', { id: 'pg-attributes', rows: '3', spellcheck: 'false', placeholder: '{"region": "eu"}' });
  const out = h('div', { id: 'pg-result', 'aria-live': 'polite' });
  const history = h('ol', { id: 'pg-history', class: 'history' });
  const submit = h('button', { type: 'submit', id: 'pg-check' }, 'Check');
  const subjLabel = field('User id', subj);
  subjType.addEventListener('change', () => {
    subjLabel.querySelector('label').textContent = { user: 'User id', client: 'Client id', token: 'Token (secret)' }[subjType.value];
    subj.type = subjType.value === 'token' ? 'password' : 'text';
  });
  const attrField = field('Attributes (optional JSON object)', attrs, 'For constraints, e.g. {"region": "eu"}.');
  const attrHint = attrField.querySelector('small');
  attrHint.dataset.orig = attrHint.textContent;
  const resField = field('Resource', res, 'A concrete tag: what the request touches.');
  resField.querySelector('small').dataset.orig = 'A concrete tag: what the request touches.';
  const parseAttrs = () => {
    const v = attrs.value.trim();
    if (!v) return undefined;
    const o = JSON.parse(v);
    if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error('attributes must be a JSON object');
    return o;
  };
  attrs.addEventListener('input', () => {
    try { parseAttrs(); attrs.removeAttribute('aria-invalid'); attrHint.textContent = attrHint.dataset.orig; attrHint.classList.remove('bad'); } catch (err) {
      attrs.setAttribute('aria-invalid', 'true'); attrHint.textContent = err.message; attrHint.classList.add('bad');
    }
  });
  res.addEventListener('input', () => {
    const err = tagError(res.value.trim());
    const hint = resField.querySelector('small');
    if (err && res.value) { res.setAttribute('aria-invalid', 'true'); hint.textContent = err; hint.classList.add('bad'); } else { res.removeAttribute('aria-invalid'); hint.textContent = hint.dataset.orig; hint.classList.remove('bad'); }
  });
  const f = h('form', { class: 'card', id: 'pg-form' },
    h('div', { class: 'two' }, field('Subject type', subjType), subjLabel),
    field('Namespace', nsIn, 'The namespace the subject is signed into.'), dl, resField, acts, attrField, submit);
  main.append(h('h1', {}, 'Check playground'),
    h('p', { class: 'muted' }, 'Ask a check as a service would (POST /v1/check with explain) and see why it was answered so.'),
    h('div', { class: 'split' }, f, h('div', {}, out, h('h2', { class: 'small-head' }, 'Earlier answers'), history)));
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, out, async () => {
      const action = [...acts.querySelectorAll('input:checked')].reduce((a, b) => a | Number(b.value), 0);
      if (!action) throw Object.assign(new Error('tick at least one action'), { code: 'invalidAction' });
      let attributes;
      try { attributes = parseAttrs(); } catch (err) { throw Object.assign(new Error(`attributes: ${err.message}`), { code: 'invalidAttributes' }); }
      const subject = subjType.value === 'token' ? { type: 'token', token: subj.value.trim() } : { type: subjType.value, id: subj.value.trim() };
      const ns = nsIn.value.trim();
      const body = { subject, namespace: ns, resource: res.value.trim(), action, explain: true };
      if (attributes) body.attributes = attributes;
      const r = await call('POST', '/v1/check', body);
      out.replaceChildren(verdict(r, subject, ns, r.allowed ? [] : await rolesCovering(r, subject, ns)));
      history.prepend(h('li', {}, h('span', { class: r.allowed ? 'ok' : 'bad' }, r.allowed ? 'allowed' : 'denied'),
        ` ${subjType.value === 'token' ? 'token' : `${subject.type} ${subject.id}`} · ${body.resource} ${actionText(action)} · revision ${r.revision}`));
    });
  });
  return undefined;
}

// rolesCovering lists the roles (the caller may read) one of whose
// permissions would cover the check's required permission for the subject.
async function rolesCovering(r, subject, ns) {
  const req = r.explanation && r.explanation.required;
  if (!req || subject.type !== 'user') return [];
  try {
    const rs = await allRoles();
    return rs.filter((role) => (role.permissions || []).some((p) => covers(p, req, ns, subject.id)));
  } catch {
    return [];
  }
}

function verdict(r, subject, ns, candidates = []) {
  const x = r.explanation || {};
  const grants = x.grants || [];
  const who = subject.type === 'token' ? 'the token' : `${subject.type} ${subject.id}`;
  let hint;
  if (r.allowed) {
    hint = grants.length
      ? `It would be denied if ${grants.map((g) => (g.source === 'assignment' ? `${who} lost role ${g.roleName} (unassign it in ${g.assignmentNamespace})`
        : g.source === 'namespaceDefaultRole' ? `role ${g.roleName} stopped being a default role of ${g.assignmentNamespace}`
          : g.roleName ? `role ${g.roleName} lost ${g.permission ? g.permission.resource : 'the permission'}` : `the ${g.source} were removed`)).join(', or ')}${grants.length > 1 ? ' (every one of them)' : ''}, or if the role's permission stopped covering ${x.required ? x.required.resource : 'it'}.`
      : 'Removing what grants it would deny it.';
  } else {
    const req = x.required ? `${x.required.resource} [${actionText(x.required.action)}]` : 'the permission';
    const assign = h('a', { href: `#/users?ns=${enc(ns)}&user=${enc(subject.id)}` }, `assign one to ${subject.id}`);
    hint = subject.type === 'user' && candidates.length
      ? [`It would be allowed if ${who} held one of these roles, applying in ${ns}: `,
        h('span', { id: 'pg-candidates' }, candidates.slice(0, 8).map((c, i) => [i ? ', ' : '', h('a', { href: `#/roles/${enc(c.roleId)}` }, c.roleName)])),
        candidates.length > 8 ? ` and ${candidates.length - 8} more` : '', ' (', assign, '), or if one of its roles gained a permission covering ', req, '.']
      : subject.type === 'user'
      ? [`It would be allowed if ${who} held a role whose permission covers ${req}, applying in ${ns}: no role does yet, so create one, then `,
        assign, ', or add such a permission to one of the roles it already holds.']
      : `It would be allowed if ${who} were given a permission covering ${req} (and, for a token, its owner held it too).`;
  }
  return h('div', { class: `card verdict ${r.allowed ? 'allowed' : 'denied'}`, id: 'pg-verdict', dataset: { allowed: String(r.allowed) } },
    h('p', { class: 'big' }, r.allowed ? 'Allowed' : 'Denied'),
    h('p', {}, `Evaluated at revision `, h('strong', { id: 'pg-revision' }, String(r.revision)), x.evaluatedAt ? ` (${time(x.evaluatedAt)})` : '',
      x.considered !== undefined ? ` · ${x.considered} assignment(s) considered` : ''),
    x.summary ? h('p', { class: 'summary' }, x.summary) : null,
    grants.length ? table([
      { label: 'Through', cell: (g) => sourceText(g) },
      { label: 'At revision', cell: (g) => (g.assignedAtRevision ? String(g.assignedAtRevision) : '') },
    ], grants) : null,
    x.changesAt ? h('p', {}, `The answer changes by itself at ${time(x.changesAt)}.`) : null,
    h('p', { class: 'hint-box' }, h('strong', {}, 'What would change it: '), hint));
}

export const pages = {
  roles: rolesPage,
  users: usersPage,
  namespaces: namespacesPage,
  clients: clientsPage,
  tokens: tokensPage,
  audit: auditPage,
  playground: playgroundPage,
};
