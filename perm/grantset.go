package perm

import (
	"hash/maphash"
	"slices"
)

// GrantSet indexes grants so that a check looks only at grants that can
// cover the required tag: grants of the required tag's length whose last
// segment equals the required last segment (or is not a literal), plus
// grants that can cover tags of other lengths (a trailing "*"). A role of
// twenty permissions typically leaves one to three candidates.
//
// A GrantSet is immutable and safe for concurrent use.
type GrantSet struct {
	grants []Grant
	// keys (sorted) are the candKey of the grants of exactly n segments
	// whose last segment is a literal; byKey[i] is the grant of keys[i].
	// A required tag's own key (computed once by ParseRequired) finds them
	// without hashing per set; keys are hashes, so a candidate is still
	// checked in full.
	keys  []uint64
	byKey []int32
	// keyAct[i] is the action of grant byKey[i] (CRUD for a conditional
	// grant, whose action varies): a grant not allowing the required
	// action is passed over without reading it.
	keyAct []Action
	// anyLast are the other grants that cover only tags of their own
	// length (anyLen[i] segments): their last segment is "*", a
	// placeholder or a studio prefix.
	anyLast []int32
	anyLen  []uint8
	// spanning are grants that may cover a required tag of another length
	// (rule 3: trailing "*" covering deeper tags; rule 4: extra "*" segments),
	// with what rules most of them out without reading the grant.
	spanning []span
	// conditional is set when a grant has conditions (see Conditional).
	conditional bool
}

// span is a spanning grant as a GrantSet keeps it: enough to pass over
// most grants that cannot cover a required tag without reading them.
type span struct {
	idx         int32
	act         Action // the granted action; CRUD for a conditional grant
	n, starTail uint8
	deeper      bool
	pos         int8   // a position whose literal lit a covered tag must hold, or -1
	lit         string // the literal at pos
}

// spanOf describes grant idx of gs.
func spanOf(g *Grant, idx int32) span {
	sp := span{idx: idx, act: g.perm.Action, n: uint8(len(g.segs)), starTail: uint8(g.starTail), deeper: g.deeper, pos: -1}
	if g.cond != nil {
		sp.act = CRUD
	}
	// The last literal before the "*" tail, unless it is a namespace
	// segment (the studio rule matches those by prefix): every tag the
	// grant covers holds it there (positions below starTail are compared
	// whatever the required length, see CoversResource).
	for i := g.starTail - 1; i >= 0; i-- {
		if s := g.segs[i]; s.kind == kindLiteral && !s.afterNS {
			sp.pos, sp.lit = int8(i), s.lit
			break
		}
	}
	return sp
}

// keySeed seeds candKey; keys live only in memory, so one seed per process
// does.
var keySeed = maphash.MakeSeed()

// candKey is the lookup key of a tag of n segments whose last segment is
// last: a hash of last, with n in the low bits.
func candKey(last string, n int) uint64 {
	return maphash.String(keySeed, last)&^0x3f | uint64(n)&0x3f
}

// NewGrantSet indexes gs (which it keeps; do not modify gs afterwards).
func NewGrantSet(gs []Grant) *GrantSet {
	s := &GrantSet{grants: gs}
	type keyed struct {
		key uint64
		idx int32
		act Action
	}
	var ks []keyed
	for i := range gs {
		g := &gs[i]
		n := len(g.segs)
		if n == 0 {
			continue
		}
		s.conditional = s.conditional || g.cond != nil
		idx := int32(i)
		if g.deeper || g.starTail < n {
			s.spanning = append(s.spanning, spanOf(g, idx))
			continue
		}
		last := g.segs[n-1]
		if last.kind != kindLiteral || last.afterNS && last.lit[len(last.lit)-1] == '-' {
			s.anyLast = append(s.anyLast, idx)
			s.anyLen = append(s.anyLen, uint8(n))
			continue
		}
		act := g.perm.Action
		if g.cond != nil {
			act = CRUD
		}
		ks = append(ks, keyed{candKey(last.lit, n), idx, act})
	}
	// Stable: grants of one key keep their order.
	slices.SortStableFunc(ks, func(a, b keyed) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	s.keys = make([]uint64, len(ks))
	s.byKey = make([]int32, len(ks))
	s.keyAct = make([]Action, len(ks))
	for i, k := range ks {
		s.keys[i], s.byKey[i], s.keyAct[i] = k.key, k.idx, k.act
	}
	return s
}

// Grants returns the grants of the set.
func (s *GrantSet) Grants() []Grant { return s.grants }

// Len is the number of grants.
func (s *GrantSet) Len() int { return len(s.grants) }

// Conditional reports whether some grant of the set has conditions
// (constraints, a validity window or a schedule): only then does Match
// read the Context.
func (s *GrantSet) Conditional() bool { return s.conditional }

// Match returns the index (into Grants) of a grant allowing r with b in c,
// or -1. It looks only at candidate grants and does not allocate. c is read
// only when the set is Conditional.
func (s *GrantSet) Match(r *Required, b *Binding, c *Context) int {
	m := r.n
	if m == 0 {
		return -1
	}
	if i := s.matchKey(r.key, r, b, c); i >= 0 {
		return i
	}
	// A required last segment may also match a literal through its parent
	// (studio) alternative, which only applies to namespace segments; those
	// are never last in practice, but stay exact: look them up too.
	if r.nalt > 0 {
		if alt := r.alt(m - 1); alt != "" {
			if i := s.matchKey(candKey(alt, m), r, b, c); i >= 0 {
				return i
			}
		}
	}
	for j, i := range s.anyLast {
		if int(s.anyLen[j]) == m && s.grants[i].Allows(r, b, c) {
			return int(i)
		}
	}
	for k := range s.spanning {
		sp := &s.spanning[k]
		n := int(sp.n)
		switch {
		case !sp.act.Allows(r.action),
			n < m && !sp.deeper,                                    // rule 3
			n > m && int(sp.starTail) > m,                          // rule 4
			sp.pos >= 0 && r.nalt == 0 && r.segs[sp.pos] != sp.lit: // rule 1 at pos
			continue
		}
		if s.grants[sp.idx].Allows(r, b, c) {
			return int(sp.idx)
		}
	}
	return -1
}

// matchKey returns the first grant of key allowing r, or -1.
func (s *GrantSet) matchKey(key uint64, r *Required, b *Binding, c *Context) int {
	keys := s.keys
	// Lower bound of key (binary search; linear for the last few).
	lo, hi := 0, len(keys)
	for hi-lo > 4 {
		mid := int(uint(lo+hi) >> 1)
		if keys[mid] < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for ; lo < len(keys) && keys[lo] <= key; lo++ {
		if keys[lo] == key && s.keyAct[lo].Allows(r.action) {
			if i := s.byKey[lo]; s.grants[i].Allows(r, b, c) {
				return int(i)
			}
		}
	}
	return -1
}
