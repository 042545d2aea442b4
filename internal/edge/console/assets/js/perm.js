// perm.js: the resource tag rules of package perm (perm/tag.go), so a tag is
// validated as it is typed. The API validates again: this is for the eye.

const MAX_TAG_BYTES = 512;
const MAX_SEGMENTS = 32;
const LITERAL = /^[A-Za-z0-9_.-]+$/;

// tagError returns why tag is not a valid permission resource, or ''.
export function tagError(tag) {
  if (!tag) return 'the tag is empty (write at least one segment, e.g. NAMESPACE:{namespace}:CLIENT)';
  if (new TextEncoder().encode(tag).length > MAX_TAG_BYTES) return `the tag is longer than ${MAX_TAG_BYTES} bytes`;
  const segs = tag.split(':');
  if (segs.length > MAX_SEGMENTS) return `more than ${MAX_SEGMENTS} segments`;
  let pos = 0;
  for (const seg of segs) {
    if (seg === '') return `empty segment at character ${pos} (segments are separated by single colons, none at the start or end)`;
    if (seg === '*') { pos += 2; continue; }
    if (seg.startsWith('{') && seg.endsWith('}')) {
      const name = seg.toLowerCase();
      if (name !== '{namespace}' && name !== '{userid}') return `unknown placeholder ${seg} (only {namespace} and {userId} are allowed)`;
      pos += seg.length + 1;
      continue;
    }
    if (!LITERAL.test(seg)) {
      const bad = [...seg].find((c) => !LITERAL.test(c));
      if (bad === '*') return `"*" must be a whole segment (write "A:*", not "A*")`;
      if (bad === '{' || bad === '}') return `"${bad}" is only allowed in a whole-segment placeholder {namespace} or {userId}`;
      return `invalid character "${bad}" in segment "${seg}" (literal segments may contain only letters, digits, '_', '-' and '.')`;
    }
    pos += seg.length + 1;
  }
  return '';
}

// bind fills {namespace} (and {userId} when given) as a check would.
export function bind(tag, namespace, userId) {
  return tag.split(':').map((seg) => {
    const l = seg.toLowerCase();
    if (l === '{namespace}') return namespace;
    if (l === '{userid}' && userId) return userId;
    return seg;
  }).join(':');
}

// covers approximates perm.Grant.Covers for a hint (the API decides): the
// grant's placeholders bound to namespace and userId, then rules 1-4 of
// package perm (a "*" segment; a shorter grant ending in "*" not after
// NAMESPACE or USER; a longer grant whose extra segments are all "*"), and
// the action bits. Conditions and the studio rule are left out.
export function covers(grant, required, namespace, userId) {
  if ((grant.action & required.action) !== required.action) return false;
  const g = grant.resource.split(':').map((seg) => {
    const l = seg.toLowerCase();
    if (l === '{namespace}') return { v: namespace, bound: true };
    if (l === '{userid}') return { v: userId, bound: true };
    return { v: seg, bound: false };
  });
  const r = required.resource.split(':');
  const n = Math.min(g.length, r.length);
  for (let i = 0; i < n; i++) {
    if (g[i].v === undefined) return false;
    if (!g[i].bound && g[i].v === '*') continue;
    if (g[i].v !== r[i]) return false;
  }
  if (g.length === r.length) return true;
  if (g.length < r.length) {
    const last = g[g.length - 1];
    const before = g.length > 1 ? g[g.length - 2] : null;
    return !last.bound && last.v === '*' && !(before && !before.bound && (before.v === 'NAMESPACE' || before.v === 'USER'));
  }
  return g.slice(r.length).every((s) => !s.bound && s.v === '*');
}
