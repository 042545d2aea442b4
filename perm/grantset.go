package perm

// GrantSet indexes grants so that a check looks only at grants that can
// cover the required tag: grants of the required tag's length whose last
// segment equals the required last segment (or is not a literal), plus
// grants that can cover tags of other lengths (a trailing "*"). A role of
// twenty permissions typically leaves one to three candidates.
//
// A GrantSet is immutable and safe for concurrent use.
type GrantSet struct {
	grants []Grant
	// byLen[n] indexes the grants of exactly n segments whose last segment
	// is a literal, by that literal; anyLast[n] the others of n segments.
	byLen   [MaxSegments + 1]map[string][]int32
	anyLast [MaxSegments + 1][]int32
	// spanning are grants that may cover a required tag of another length
	// (rule 3: trailing "*" covering deeper tags; rule 4: extra "*" segments).
	spanning []int32
}

// NewGrantSet indexes gs (which it keeps; do not modify gs afterwards).
func NewGrantSet(gs []Grant) *GrantSet {
	s := &GrantSet{grants: gs}
	for i := range gs {
		g := &gs[i]
		n := len(g.segs)
		if n == 0 {
			continue
		}
		idx := int32(i)
		if g.deeper || g.starTail < n {
			s.spanning = append(s.spanning, idx)
			continue
		}
		last := g.segs[n-1]
		if last.kind != kindLiteral || last.afterNS && last.lit[len(last.lit)-1] == '-' {
			s.anyLast[n] = append(s.anyLast[n], idx)
			continue
		}
		if s.byLen[n] == nil {
			s.byLen[n] = map[string][]int32{}
		}
		s.byLen[n][last.lit] = append(s.byLen[n][last.lit], idx)
	}
	return s
}

// Grants returns the grants of the set.
func (s *GrantSet) Grants() []Grant { return s.grants }

// Len is the number of grants.
func (s *GrantSet) Len() int { return len(s.grants) }

// Match returns the index (into Grants) of a grant allowing r with b in c,
// or -1. It looks only at candidate grants and does not allocate.
func (s *GrantSet) Match(r *Required, b *Binding, c *Context) int {
	m := r.n
	if m == 0 {
		return -1
	}
	if idxs := s.byLen[m][r.segs[m-1]]; idxs != nil {
		for _, i := range idxs {
			if s.grants[i].Allows(r, b, c) {
				return int(i)
			}
		}
	}
	// A required last segment may also match a literal through its parent
	// (studio) alternative, which only applies to namespace segments; those
	// are never last in practice, but stay exact: look them up too.
	if r.nalt > 0 {
		if alt := r.alt(m - 1); alt != "" {
			for _, i := range s.byLen[m][alt] {
				if s.grants[i].Allows(r, b, c) {
					return int(i)
				}
			}
		}
	}
	for _, i := range s.anyLast[m] {
		if s.grants[i].Allows(r, b, c) {
			return int(i)
		}
	}
	for _, i := range s.spanning {
		if s.grants[i].Allows(r, b, c) {
			return int(i)
		}
	}
	return -1
}
