package perm

import (
	"strconv"
	"strings"
)

// gseg is one compiled grant segment.
type gseg struct {
	kind segKind
	lit  string // the literal, for kindLiteral
	// afterNS is set when the previous grant segment is the literal NAMESPACE:
	// the studio rule then applies to this segment's (bound) value.
	afterNS bool
}

// Grant is a compiled granted permission, ready for allocation-free matching
// with [Grant.Covers]. The zero Grant covers nothing. A Grant is immutable and
// safe for concurrent use.
type Grant struct {
	perm Permission
	segs []gseg
	// nsCount is the number of {namespace} segments.
	nsCount int
	// starTail is the smallest k such that segs[k:] are all "*" (rule 4).
	starTail int
	// deeper is rule 3: the grant may cover longer required tags.
	deeper bool
	// cond holds the compiled conditions; nil for a plain permission.
	cond *condition
}

// CompileGrant validates p like [ValidatePermission] and compiles it. It
// accepts what an event written by an older version stores (a range bound
// that is not a number, which nothing satisfies).
func CompileGrant(p Permission) (Grant, error) {
	p, err := validatePermission(p, false, true)
	if err != nil {
		return Grant{}, err
	}
	parts := strings.Split(p.Resource, ":")
	g := Grant{perm: p, segs: make([]gseg, len(parts)), cond: compileCondition(&p)}
	for i, part := range parts {
		s := gseg{afterNS: i > 0 && g.segs[i-1].kind == kindLiteral && g.segs[i-1].lit == "NAMESPACE"}
		switch part {
		case "*":
			s.kind = kindStar
		case PlaceholderNamespace:
			s.kind = kindNamespace
			g.nsCount++
		case PlaceholderUserID:
			s.kind = kindUserID
		default:
			s.kind, s.lit = kindLiteral, part
		}
		g.segs[i] = s
	}
	n := len(g.segs)
	g.starTail = n
	for g.starTail > 0 && g.segs[g.starTail-1].kind == kindStar {
		g.starTail--
	}
	g.deeper = g.segs[n-1].kind == kindStar
	if n >= 2 {
		if prev := g.segs[n-2]; prev.kind == kindLiteral && (prev.lit == "NAMESPACE" || prev.lit == "USER") {
			g.deeper = false
		}
	}
	return g, nil
}

// Permission returns the canonical permission the grant was compiled from.
func (g *Grant) Permission() Permission { return g.perm }

// Action returns the granted action.
func (g *Grant) Action() Action { return g.perm.Action }

// Binding says how a grant's placeholders are bound at check time.
type Binding struct {
	// UserID is the value {userId} binds to. If empty, a {userId} segment
	// matches nothing.
	UserID string
	// Namespaces are the values {namespace} binds to, each in turn: an
	// assignment's namespaces, or the single context namespace for a wildcard
	// role or a client's own permissions. If empty, a {namespace} segment
	// matches nothing.
	Namespaces []string
}

// Covers reports whether g, with its placeholders bound by b, covers r: both
// the resource (see the package documentation) and the action. A nil b binds
// nothing. Covers does not allocate. A conditional grant (constraints,
// validity window, schedule) covers nothing through Covers: use Allows.
func (g *Grant) Covers(r *Required, b *Binding) bool {
	return g.cond == nil && g.perm.Action.Allows(r.action) && g.CoversResource(r, b)
}

// CoversResource is [Grant.Covers] ignoring actions.
func (g *Grant) CoversResource(r *Required, b *Binding) bool {
	n, m := len(g.segs), r.n
	switch {
	case n == 0 || m == 0:
		return false
	case n < m && !g.deeper: // rule 3
		return false
	case n > m && g.starTail > m: // rule 4
		return false
	}
	var uid string
	var nss []string
	if b != nil {
		uid, nss = b.UserID, b.Namespaces
	}
	k := min(n, m)
	if g.nsCount <= 1 {
		// Each position binds independently: one pass, trying every
		// namespace at the (at most one) {namespace} position.
		return g.matchPrefix(r, k, uid, nss)
	}
	// Several {namespace} segments must all bind to the same namespace.
	for i := range nss {
		if g.matchPrefix(r, k, uid, nss[i:i+1]) {
			return true
		}
	}
	return false
}

// matchPrefix applies rule 1 to the first k segments, binding {namespace} to
// any of nss at each position. A required namespace segment with a parent
// studio (see RequiredBinding.Parent) also matches as that parent.
//
// It compares from the last segment back: each position is independent of
// the others, and the last segments (the object) are where grants and
// required tags differ most, while their first segments
// (NAMESPACE:{namespace}:USER:{userId}) mostly agree.
func (g *Grant) matchPrefix(r *Required, k int, uid string, nss []string) bool {
	for i := k - 1; i >= 0; i-- {
		s := &g.segs[i]
		if s.kind == kindStar {
			continue
		}
		if g.segOK(s, r.segs[i], uid, nss) {
			continue
		}
		if r.nalt == 0 {
			return false
		}
		if alt := r.alt(i); alt == "" || !g.segOK(s, alt, uid, nss) {
			return false
		}
	}
	return true
}

// segOK matches one non-star grant segment against a required value.
func (g *Grant) segOK(s *gseg, req, uid string, nss []string) bool {
	switch s.kind {
	case kindLiteral:
		return segMatch(s.lit, req, s.afterNS)
	case kindUserID:
		return segMatch(uid, req, s.afterNS)
	case kindNamespace:
		for _, ns := range nss {
			if segMatch(ns, req, s.afterNS) {
				return true
			}
		}
	}
	return false
}

// segMatch compares a granted (or bound) value with a required segment,
// applying the studio rule when the grant segment follows the literal
// NAMESPACE. An empty value matches nothing.
func segMatch(val, req string, afterNS bool) bool {
	if val == "" {
		return false
	}
	return val == req ||
		afterNS && val[len(val)-1] == '-' && strings.HasPrefix(req, val)
}

// Required is a concrete required resource and action, parsed once per check
// by [ParseRequired]. It holds substrings of its inputs in a fixed array and
// so does not allocate. The zero Required is covered by nothing.
type Required struct {
	segs   [MaxSegments]string
	n      int
	action Action
	// Parent namespaces of namespace segments (RequiredBinding.Parent).
	alts   [maxAlts]string
	altPos [maxAlts]int8
	nalt   int8
	// key is candKey of the last segment and n: what a GrantSet looks its
	// candidates up by.
	key uint64
}

// maxAlts bounds how many namespace segments of one required tag get their
// parent looked up.
const maxAlts = 4

func (r *Required) alt(i int) string {
	for j := int8(0); j < r.nalt; j++ {
		if int(r.altPos[j]) == i {
			return r.alts[j]
		}
	}
	return ""
}

// RequiredBinding gives the values placeholders in a required tag bind to.
type RequiredBinding struct {
	Namespace string // value for {namespace}
	UserID    string // value for {userId}
	// Parent, when set, returns the parent studio of a namespace ("" for
	// none). Each namespace segment of the required tag (the one after a
	// literal NAMESPACE) then also matches as its parent: a grant on a
	// studio covers its games.
	Parent func(ns string) string
	// Unbound keeps placeholders in the required tag as they are, so that
	// only a grant "*" covers them. It asks whether a grant set holds a
	// permission template in every namespace or for every user.
	Unbound bool
}

// ParseRequired validates resource like [CanonicalTag] and action (1..15,
// else an error wrapping ErrInvalidAction), and binds placeholders in the
// resource: {namespace} to b.Namespace and {userId} to b.UserID. A
// placeholder whose value is empty, or whose value is not a literal segment
// (letters, digits, '_', '-', '.'), gives a *TagError. A "*" in resource is
// kept and matched as a literal. ParseRequired does not allocate unless it
// fails.
func ParseRequired(resource string, action Action, b RequiredBinding) (Required, error) {
	var r Required
	if err := r.Parse(resource, action, b); err != nil {
		return Required{}, err
	}
	return r, nil
}

// Parse is [ParseRequired] into r, which it overwrites: for a caller that
// keeps the Required in a larger structure, it saves copying it (a
// Required is some 600 bytes). On error r is the zero Required.
func (r *Required) Parse(resource string, action Action, b RequiredBinding) error {
	return r.parseAll(resource, action, b, nil, false)
}

// ParseEndpoint is [Required.Parse] for the required template of an
// endpoint (see [ValidateEndpointTemplate]): resource may then also hold any
// placeholder {name}, bound to the Value of the params entry of that Name
// (compared case-insensitively); a placeholder with no entry, or whose
// value is empty or not a literal segment, gives a *TagError. {namespace}
// and {userId} bind to b.Namespace and b.UserID as always: the caller
// decides whether those come from the path. It does not allocate unless it
// fails (params is only read).
func (r *Required) ParseEndpoint(resource string, action Action, b RequiredBinding, params []Param) error {
	return r.parseAll(resource, action, b, params, true)
}

func (r *Required) parseAll(resource string, action Action, b RequiredBinding, params []Param, endpoint bool) error {
	r.n, r.nalt = 0, 0
	if err := r.parse(resource, b, params, endpoint); err != nil {
		*r = Required{}
		return err
	}
	if !action.Valid() {
		*r = Required{}
		return actionError(action)
	}
	r.action = action
	return nil
}

// literalByte[c] is isLiteralByte(c).
var literalByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = isLiteralByte(byte(c))
	}
	return t
}()

func (r *Required) parse(s string, b RequiredBinding, params []Param, endpoint bool) error {
	if err := checkWhole(s); err != nil {
		return err
	}
	for start := 0; ; {
		if r.n == MaxSegments {
			return tooManySegments(s, start)
		}
		// Most segments are plain literals: scan them in one pass, and
		// classify (validate) only the others.
		end := start
		for end < len(s) && literalByte[s[end]] {
			end++
		}
		kind := kindLiteral
		if end == start || end < len(s) && s[end] != ':' {
			if i := strings.IndexByte(s[end:], ':'); i < 0 {
				end = len(s)
			} else {
				end += i
			}
			var err *TagError
			if kind, err = classify(s, start, end, endpoint); err != nil {
				return err
			}
		}
		var err *TagError
		seg := s[start:end]
		switch {
		case b.Unbound:
		case kind == kindNamespace:
			if seg, err = bindValue(s, start, PlaceholderNamespace, "namespace", b.Namespace); err != nil {
				return err
			}
		case kind == kindUserID:
			if seg, err = bindValue(s, start, PlaceholderUserID, "user id", b.UserID); err != nil {
				return err
			}
		case kind == kindParam:
			val, ok := lookupParam(params, seg[1:len(seg)-1])
			if !ok {
				return tagErr(s, start, "placeholder "+seg+at(start)+" cannot be bound (the endpoint's path parameters do not include "+
					seg[1:len(seg)-1]+"; give its value)")
			}
			if seg, err = bindValue(s, start, seg, "path parameter "+seg[1:len(seg)-1], val); err != nil {
				return err
			}
		}
		r.segs[r.n] = seg
		if b.Parent != nil && r.n > 0 && r.segs[r.n-1] == "NAMESPACE" && r.nalt < maxAlts && seg != "*" {
			if p := b.Parent(seg); p != "" {
				r.alts[r.nalt], r.altPos[r.nalt] = p, int8(r.n)
				r.nalt++
			}
		}
		r.n++
		if end == len(s) {
			r.key = candKey(seg, r.n)
			return nil
		}
		start = end + 1
	}
}

func bindValue(tag string, pos int, placeholder, what, val string) (string, *TagError) {
	if val == "" {
		return "", tagErr(tag, pos, "placeholder "+placeholder+at(pos)+" cannot be bound (the check has no "+what+"; pass one or use a concrete value)")
	}
	for i := 0; i < len(val); i++ {
		if !isLiteralByte(val[i]) {
			return "", tagErr(tag, pos, "placeholder "+placeholder+at(pos)+" cannot be bound to "+strconv.Quote(val)+
				" (a "+what+" may contain only letters, digits, '_', '-' and '.')")
		}
	}
	return val, nil
}

// Action returns the required action.
func (r *Required) Action() Action { return r.action }

// String returns the bound required tag. It allocates.
func (r *Required) String() string { return strings.Join(r.segs[:r.n], ":") }
