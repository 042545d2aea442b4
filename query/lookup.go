package query

import (
	"context"
	"encoding/base64"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Reverse lookups (issue #15 item 3): what a subject may do in a namespace
// (SubjectPermissions), and who may do something in a namespace
// (PermissionHolders). Both are answered from the index at one revision
// (each page says which), paginated with an opaque cursor that pins
// nothing: asked page after page while nothing changes, they are complete.
// Nothing is silently truncated: what the caller may not read is left out
// and the page says Withheld.
//
// Authorization: the caller needs ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK
// Read in the namespace, as a check does (a lookup answers many checks at
// once). Each source is then shown only when the caller may read it, by the
// rules an explained check redacts by: an assignment needs
// ADMIN:NAMESPACE:{ns}:ROLE:USER:* Read in the assignment's namespace, a
// default role ADMIN:NAMESPACE:{namespace}:NAMESPACE Read, a client's
// permissions and roles ADMIN:NAMESPACE:{ns}:CLIENT Read in the client's
// namespace, a token NAMESPACE:{ns}:USER:{owner}:TOKEN Read. An entry or a
// holder none of whose sources the caller may read is left out (a token's
// when its token source is unreadable), and its action counts only the
// sources shown.

// LookupSubject names the subject of SubjectPermissions.
type LookupSubject struct {
	// Type is "user", "client" or "token".
	Type string `json:"type"`
	// ID is the user id, client id or token id (never a token's secret).
	ID string `json:"id"`
}

// LookupSource is where (part of) a lookup entry comes from: the check's
// GrantReason (Permission is the permission as granted, placeholders
// unbound) and when it applies.
type LookupSource struct {
	GrantReason
	// Scopes are the token's scopes that carry the permission (token sources).
	Scopes []string `json:"scopes,omitempty"`
	// NotBefore and NotAfter bound when the source applies: an assignment's
	// window or a token's validity (NotAfter is its expiry). Assignments
	// that have ended and expired tokens are not sources.
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
	// Conditional says the permission has constraints, a validity window
	// or a schedule (see Permission): it applies only when they hold.
	Conditional bool `json:"conditional,omitempty"`
	// Owner marks, for a token, the sources through which its owner holds
	// it (a token allows only what its owner still holds).
	Owner bool `json:"owner,omitempty"`

	see seeRule
}

// SubjectPermission is one thing a subject may do: Resource (as granted,
// {namespace} and {userId} bound as a check binds them; it may keep
// wildcards) with Action, through Sources.
type SubjectPermission struct {
	Resource string         `json:"resource"`
	Action   perm.Action    `json:"action"`
	Sources  []LookupSource `json:"sources"`
}

// SubjectPermissionsPage is one page of SubjectPermissions, sorted by
// resource.
type SubjectPermissionsPage struct {
	Data []SubjectPermission `json:"data"`
	// Next, when set, is the cursor of the next page.
	Next     string `json:"next,omitempty"`
	Revision uint64 `json:"revision"`
	// Withheld says some entries or sources are left out: the caller may
	// not read them.
	Withheld bool `json:"withheld,omitempty"`
}

// Holder is one subject holding a permission.
type Holder struct {
	Subject LookupSubject `json:"subject"`
	// Namespace is a client's or token's own namespace.
	Namespace string `json:"namespace,omitempty"`
	// TokenOwner is a token's owner.
	TokenOwner *events.Actor  `json:"tokenOwner,omitempty"`
	Sources    []LookupSource `json:"sources"`
}

// HoldersPage is one page of PermissionHolders: users by id, then
// clients by id, then tokens by id.
type HoldersPage struct {
	// Resource is the required resource, {namespace} bound.
	Resource string      `json:"resource"`
	Action   perm.Action `json:"action"`
	// EveryUser, on the first page, lists the default roles of the
	// namespace that give the permission to every user signed into it
	// (whoever they are, listed or not); empty when none does.
	EveryUser []LookupSource `json:"everyUser,omitempty"`
	Data      []Holder       `json:"data"`
	Next      string         `json:"next,omitempty"`
	Revision  uint64         `json:"revision"`
	Withheld  bool           `json:"withheld,omitempty"`
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(c, kind string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), kind) {
		return "", errorf(ErrInvalid, "invalidCursor", "after %q is not a cursor of this list: pass the next of the previous page", c)
	}
	return string(b[len(kind):]), nil
}

func ended(notAfter, now time.Time) bool { return !notAfter.IsZero() && !now.Before(notAfter) }

func bindTag(res, ns, userID string) string {
	if strings.Contains(res, perm.PlaceholderNamespace) {
		res = strings.ReplaceAll(res, perm.PlaceholderNamespace, ns)
	}
	if strings.Contains(res, perm.PlaceholderUserID) {
		res = strings.ReplaceAll(res, perm.PlaceholderUserID, userID)
	}
	return res
}

func actionOf(p *perm.Permission) perm.Action { return p.Action | p.SchedAction }

// entries collects SubjectPermission entries by bound resource.
type entries map[string]*SubjectPermission

func (m entries) add(resource string, a perm.Action, srcs ...LookupSource) {
	e := m[resource]
	if e == nil {
		e = &SubjectPermission{Resource: resource}
		m[resource] = e
	}
	e.Action |= a
	for i := range srcs {
		s := &srcs[i]
		if !slices.ContainsFunc(e.Sources, func(o LookupSource) bool { return sameSource(&o, s) }) {
			e.Sources = append(e.Sources, *s)
		}
	}
}

// sorted returns the entries by resource.
func (m entries) sorted() []*SubjectPermission {
	out := make([]*SubjectPermission, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

func sameSource(a, b *LookupSource) bool {
	return a.Source == b.Source && a.RoleID == b.RoleID && a.AssignmentNamespace == b.AssignmentNamespace &&
		a.ClientID == b.ClientID && a.TokenID == b.TokenID && a.Owner == b.Owner && a.Permission.Key() == b.Permission.Key()
}

// grantSources adds the permissions of ps (granted through src), bound to
// each of nss and userID.
func (m entries) grantSources(ps []perm.Permission, nss []string, userID string, src LookupSource) {
	for _, p := range ps {
		s := src
		s.Permission = p
		s.Conditional = p.Conditional()
		if !strings.Contains(p.Resource, perm.PlaceholderNamespace) {
			m.add(bindTag(p.Resource, "", userID), actionOf(&p), s)
			continue
		}
		for _, ns := range nss {
			m.add(bindTag(p.Resource, ns, userID), actionOf(&p), s)
		}
	}
}

func assignmentSource(a *index.Assignment) LookupSource {
	r := a.Role()
	return LookupSource{GrantReason: GrantReason{Source: SourceAssignment, RoleID: r.ID, RoleName: r.Name, IsWildcard: r.Wildcard,
		AssignmentNamespace: a.Namespace, AssignedNamespaces: slices.Clone(a.AssignedNamespaces), AssignedAtRevision: a.Revision},
		NotBefore: optTime(a.NotBefore()), NotAfter: optTime(a.NotAfter()), see: seeAssignment(a.Namespace)}
}

func defaultRoleSource(r *index.Role, ns string) LookupSource {
	return LookupSource{GrantReason: GrantReason{Source: SourceDefaultRole, RoleID: r.ID, RoleName: r.Name, IsWildcard: r.Wildcard,
		AssignmentNamespace: ns}, see: seeDefaultRole(ns)}
}

func clientSource(cl *index.Client, r *index.Role) LookupSource {
	s := LookupSource{GrantReason: GrantReason{Source: SourceClient, ClientID: cl.ID}, see: seeClient(cl.Namespace)}
	if r != nil {
		s.Source, s.RoleID, s.RoleName, s.IsWildcard = SourceClientRole, r.ID, r.Name, r.Wildcard
	}
	return s
}

func tokenSource(t *index.Token) LookupSource {
	return LookupSource{GrantReason: GrantReason{Source: SourceToken, TokenID: t.ID},
		NotBefore: optTime(t.NotBefore), NotAfter: optTime(t.ExpiresAt), see: seeToken(t)}
}

// userEntries adds what userID holds signed into ns: its assignments (not
// ended), then the default roles of ns.
func userEntries(v index.View, m entries, ns, userID string, now time.Time) {
	ctxNS := []string{ns}
	as := v.Assignments(userID)
	for i := range as {
		a := &as[i]
		if ended(a.NotAfter(), now) {
			continue
		}
		role := a.Role()
		nss := a.AssignedNamespaces
		if role.Wildcard {
			nss = ctxNS
		} else if len(nss) == 0 {
			continue
		}
		m.grantSources(role.Permissions, nss, userID, assignmentSource(a))
	}
	if info, ok := v.Namespace(ns); ok {
		for _, id := range info.DefaultRoles {
			if role := v.Role(id); role != nil {
				m.grantSources(role.Permissions, ctxNS, userID, defaultRoleSource(role, ns))
			}
		}
	}
}

// clientEntries adds what cl holds signed into ns: its own permissions
// ({namespace} bound to its namespace), then its roles.
func clientEntries(v index.View, m entries, ns string, cl *index.Client) {
	own := []string{cl.Namespace}
	m.grantSources(cl.Permissions, own, cl.ID, clientSource(cl, nil))
	for _, id := range cl.Roles {
		role := v.Role(id)
		if role == nil {
			continue
		}
		nss := own
		if role.Wildcard {
			nss = []string{ns}
		}
		m.grantSources(role.Permissions, nss, cl.ID, clientSource(cl, role))
	}
}

// tokenScopes returns the token's scopes (with their includes) that carry
// a permission on resource.
func tokenScopes(v index.View, t *index.Token, resource string) []string {
	var out []string
	for _, name := range t.Scopes {
		seen := map[string]bool{}
		var has func(n string) bool
		has = func(n string) bool {
			s := v.Scope(n)
			if s == nil || seen[n] {
				return false
			}
			seen[n] = true
			for _, p := range s.Permissions {
				if p.Resource == resource {
					return true
				}
			}
			return slices.ContainsFunc(s.Includes, has)
		}
		if has(name) {
			out = append(out, name)
		}
	}
	return out
}

// covers reports whether granted (a bound resource, which may keep
// wildcards) covers all of required (another, its wildcards taken
// literally, so only a "*" covers them).
func covers(granted, required string, a perm.Action) bool {
	g, err := perm.CompileGrant(perm.Permission{Resource: granted, Action: a})
	if err != nil {
		return false
	}
	r, err := perm.ParseRequired(required, a, perm.RequiredBinding{Unbound: true})
	if err != nil {
		return false
	}
	return g.Covers(&r, nil)
}

// meet returns the resource both x and y cover, segment by segment, when
// they have as many segments and neither covers the other
// (NAMESPACE:g1:* and NAMESPACE:*:ORDER meet in NAMESPACE:g1:ORDER).
func meet(x, y string) (string, bool) {
	xs, ys := strings.Split(x, ":"), strings.Split(y, ":")
	if len(xs) != len(ys) {
		return "", false
	}
	for i := range xs {
		switch {
		case xs[i] == ys[i], ys[i] == "*":
		case xs[i] == "*":
			xs[i] = ys[i]
		default:
			return "", false
		}
	}
	return strings.Join(xs, ":"), true
}

// tokenEntries adds what t holds signed into ns: what its own permissions
// ({namespace} bound to its namespace, {userId} to its owner) and its
// owner (signed into ns) both hold. Where one's resource covers the
// other's, the entry is the narrower one with the actions both hold.
func tokenEntries(v index.View, m entries, ns string, t *index.Token, now time.Time) {
	if ended(t.ExpiresAt, now) {
		return
	}
	owner := entries{}
	switch t.Owner.Type {
	case events.ActorUser:
		userEntries(v, owner, ns, t.Owner.ID, now)
	case events.ActorClient:
		if cl := v.Client(t.Owner.ID); cl != nil {
			clientEntries(v, owner, ns, cl)
		}
	}
	own := entries{}
	src := tokenSource(t)
	for _, p := range t.Permissions {
		s := src
		s.Permission, s.Conditional = p, p.Conditional()
		s.Scopes = tokenScopes(v, t, p.Resource)
		own.add(bindTag(p.Resource, t.Namespace, t.Owner.ID), actionOf(&p), s)
	}
	for _, te := range own.sorted() {
		for _, oe := range owner.sorted() {
			a := te.Action & oe.Action
			if a == 0 {
				continue
			}
			res := ""
			switch {
			case covers(te.Resource, oe.Resource, a):
				res = oe.Resource
			case covers(oe.Resource, te.Resource, a):
				res = te.Resource
			default:
				m, ok := meet(te.Resource, oe.Resource)
				if !ok || !covers(te.Resource, m, a) || !covers(oe.Resource, m, a) {
					continue
				}
				res = m
			}
			m.add(res, a, te.Sources...)
			for i := range oe.Sources {
				s := oe.Sources[i]
				s.Owner = true
				m.add(res, 0, s)
			}
		}
	}
}

// SubjectPermissions lists what subject may do signed into namespace ns:
// each resource it holds (as granted, {namespace} and {userId} bound as a
// check binds them) with the actions and the sources: a user's role
// assignments (wildcard roles bound to ns, others to their assigned
// namespaces) and the default roles of ns; a client's own permissions and
// roles; a token's permissions narrowed to what its owner holds. Assignments
// with a window that has not ended and tokens not yet valid are included
// with their window (NotBefore, NotAfter). Entries are sorted by resource;
// the cursor is the last resource of the previous page.
//
// Cost: the subject's assignments (or client, or token and its owner's)
// and each role's permissions, all in memory, then sorting the entries:
// O(assignments × permissions × assigned namespaces) per page, no
// index scan.
func (e *Engine) SubjectPermissions(ctx context.Context, o ReadOptions, ns string, subject LookupSubject, cursor string, limit int) (SubjectPermissionsPage, error) {
	if err := validNS(ns); err != nil {
		return SubjectPermissionsPage{}, err
	}
	if err := validSubject(subject.Type, subject.ID); err != nil {
		return SubjectPermissionsPage{}, err
	}
	limit, err := clampLimit(limit)
	if err != nil {
		return SubjectPermissionsPage{}, err
	}
	after, err := decodeCursor(cursor, "p:")
	if err != nil {
		return SubjectPermissionsPage{}, err
	}
	if err := e.authorize(ctx, o, auth.PermCheck, perm.Read, ns); err != nil {
		return SubjectPermissionsPage{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return SubjectPermissionsPage{}, err
	}
	m := entries{}
	v := e.store.Acquire()
	rev := v.Revision()
	now := e.cfg.Now()
	var tokenRule *seeRule
	switch subject.Type {
	case SubjectUser:
		userEntries(v, m, ns, subject.ID, now)
	case SubjectClient:
		cl := v.Client(subject.ID)
		if cl == nil {
			v.Release()
			return SubjectPermissionsPage{}, errorf(ErrNotFound, "clientNotFound", "there is no client %q", subject.ID)
		}
		clientEntries(v, m, ns, cl)
	case SubjectToken:
		t := v.Token(subject.ID)
		if t == nil {
			v.Release()
			return SubjectPermissionsPage{}, errorf(ErrNotFound, "tokenNotFound", "there is no token %q (or it is revoked)", subject.ID)
		}
		r := seeToken(t)
		tokenRule = &r
		tokenEntries(v, m, ns, t, now)
	}
	v.Release()

	p := SubjectPermissionsPage{Data: []SubjectPermission{}, Revision: rev}
	visible := e.readable(ctx, o.Caller)
	if e.authz == nil {
		visible = func(seeRule) bool { return true }
	}
	list := make([]SubjectPermission, 0, len(m))
	if tokenRule != nil && !visible(*tokenRule) {
		p.Withheld = len(m) > 0
		m = nil
	}
	for _, en := range m {
		kept := en.Sources[:0]
		var a perm.Action
		for i := range en.Sources {
			s := &en.Sources[i]
			if !visible(s.see) {
				p.Withheld = true
				continue
			}
			kept = append(kept, *s)
			if !s.Owner {
				a |= actionOf(&s.Permission)
			}
		}
		if len(kept) == 0 {
			continue
		}
		en.Sources = kept
		if tokenRule == nil {
			en.Action = a
		}
		list = append(list, *en)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Resource < list[j].Resource })
	start := 0
	if cursor != "" {
		start = sort.Search(len(list), func(i int) bool { return list[i].Resource > after })
	}
	end := min(start+limit, len(list))
	p.Data = append(p.Data, list[start:end]...)
	if end < len(list) {
		p.Next = encodeCursor("p:" + list[end-1].Resource)
	}
	return p, nil
}

// holds reports whether grant g, bound by b, allows r: unconditionally, or
// (conditional) when its conditions hold, if they may.
func holds(g *perm.Grant, r *perm.Required, b *perm.Binding) (ok, conditional bool) {
	if !g.Conditional() {
		return g.Covers(r, b), false
	}
	p := g.Permission()
	return actionOf(&p).Allows(r.Action()) && g.CoversResource(r, b), true
}

// grantsHolding appends src for each grant of gs that, bound by b, allows r.
func grantsHolding(out []LookupSource, gs []perm.Grant, r *perm.Required, b *perm.Binding, src LookupSource) []LookupSource {
	for i := range gs {
		if ok, cond := holds(&gs[i], r, b); ok {
			s := src
			s.Permission, s.Conditional = gs[i].Permission(), cond
			out = append(out, s)
		}
	}
	return out
}

// defaultHolding returns the sources through which the default roles of
// ns allow r to userID ("" : to every user, {userId} then binding nothing).
func defaultHolding(v index.View, ns, userID string, r *perm.Required) []LookupSource {
	info, ok := v.Namespace(ns)
	if !ok {
		return nil
	}
	var out []LookupSource
	b := perm.Binding{UserID: userID, Namespaces: []string{ns}}
	for _, id := range info.DefaultRoles {
		if role := v.Role(id); role != nil {
			out = grantsHolding(out, role.Grants, r, &b, defaultRoleSource(role, ns))
		}
	}
	return out
}

// userHolding returns the sources through which userID, signed into ns,
// holds r (as a check evaluates it; assignments not ended count). Default
// role grants in every (those that hold for every user, listed as
// EveryUser) are left out.
func userHolding(v index.View, ns, userID string, r *perm.Required, now time.Time, every map[string]bool) []LookupSource {
	ctxNS := []string{ns}
	var out []LookupSource
	as := v.Assignments(userID)
	for i := range as {
		a := &as[i]
		if ended(a.NotAfter(), now) {
			continue
		}
		role := a.Role()
		b := perm.Binding{UserID: userID, Namespaces: a.AssignedNamespaces}
		if role.Wildcard {
			b.Namespaces = ctxNS
		} else if len(b.Namespaces) == 0 {
			continue
		}
		out = grantsHolding(out, role.Grants, r, &b, assignmentSource(a))
	}
	dflt := defaultHolding(v, ns, userID, r)
	for i := range dflt {
		if !every[dflt[i].RoleID+"\x00"+dflt[i].Permission.Key()] {
			out = append(out, dflt[i])
		}
	}
	return out
}

// everyKeys keys the sources of EveryUser.
func everyKeys(srcs []LookupSource) map[string]bool {
	m := make(map[string]bool, len(srcs))
	for i := range srcs {
		m[srcs[i].RoleID+"\x00"+srcs[i].Permission.Key()] = true
	}
	return m
}

func clientHolding(v index.View, ns string, cl *index.Client, r *perm.Required) []LookupSource {
	b := perm.Binding{UserID: cl.ID, Namespaces: []string{cl.Namespace}}
	out := grantsHolding(nil, cl.Grants, r, &b, clientSource(cl, nil))
	for _, id := range cl.Roles {
		role := v.Role(id)
		if role == nil {
			continue
		}
		rb := b
		if role.Wildcard {
			rb.Namespaces = []string{ns}
		}
		out = grantsHolding(out, role.Grants, r, &rb, clientSource(cl, role))
	}
	return out
}

func tokenHolding(v index.View, ns string, t *index.Token, r *perm.Required, now time.Time) []LookupSource {
	if ended(t.ExpiresAt, now) {
		return nil
	}
	b := perm.Binding{UserID: t.Owner.ID, Namespaces: []string{t.Namespace}}
	src := tokenSource(t)
	out := grantsHolding(nil, t.Grants, r, &b, src)
	if len(out) == 0 {
		return nil
	}
	for i := range out {
		out[i].Scopes = tokenScopes(v, t, out[i].Permission.Resource)
	}
	var owner []LookupSource
	switch t.Owner.Type {
	case events.ActorUser:
		owner = userHolding(v, ns, t.Owner.ID, r, now, nil)
	case events.ActorClient:
		if cl := v.Client(t.Owner.ID); cl != nil {
			owner = clientHolding(v, ns, cl, r)
		}
	}
	if len(owner) == 0 {
		return nil
	}
	for i := range owner {
		owner[i].Owner = true
	}
	return append(out, owner...)
}

// probe returns bindings that let a grant's placeholders match any
// segment of r: every placeholder binding that could make a grant cover r
// binds it to one of them. It is the role scan's filter.
func probe(r *perm.Required) (uids, nss []string) {
	for _, seg := range strings.Split(r.String(), ":") {
		uids = append(uids, seg)
		nss = append(nss, seg)
		for i := 0; i < len(seg); i++ {
			if seg[i] == '-' {
				nss = append(nss, seg[:i+1])
			}
		}
	}
	return uids, nss
}

// mayHold returns the grants of role that could allow r for some user in
// some namespaces (a superset: assignments are then evaluated exactly).
func mayHold(role *index.Role, r *perm.Required, probes []perm.Binding) []int {
	var out []int
	for i := range role.Grants {
		g := &role.Grants[i]
		p := g.Permission()
		if !actionOf(&p).Allows(r.Action()) {
			continue
		}
		for j := range probes {
			if g.CoversResource(r, &probes[j]) {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// assignedHolds reports whether one of the assignments as of userID (not
// ended) allows r through one of the grants of its role listed in grants.
func assignedHolds(userID string, as []index.Assignment, grants map[*index.Role][]int, r *perm.Required, ctxNS []string, now time.Time) bool {
	for i := range as {
		a := &as[i]
		gi, ok := grants[a.Role()]
		if !ok || ended(a.NotAfter(), now) {
			continue
		}
		role := a.Role()
		b := perm.Binding{UserID: userID, Namespaces: a.AssignedNamespaces}
		if role.Wildcard {
			b.Namespaces = ctxNS
		} else if len(b.Namespaces) == 0 {
			continue
		}
		for _, i := range gi {
			if ok, _ := holds(&role.Grants[i], r, &b); ok {
				return true
			}
		}
	}
	return false
}

// candidates returns, sorted, the users after after that hold r through an
// assignment (found among the members of the roles that may hold it, in
// every namespace, or by a scan of every user in memory when that is
// cheaper), and the users named by segments of r (a default role may bind
// {userId} to them).
func candidates(v index.View, ns string, r *perm.Required, after string, now time.Time) ([]string, error) {
	uids, nss := probe(r)
	set := map[string]struct{}{}
	for _, u := range uids {
		if events.ValidID(u) && u > after {
			set[u] = struct{}{}
		}
	}
	probes := make([]perm.Binding, len(uids))
	for i, u := range uids {
		probes[i] = perm.Binding{UserID: u, Namespaces: nss}
	}
	grants := map[*index.Role][]int{}
	v.EachRole(func(role *index.Role) {
		if gi := mayHold(role, r, probes); len(gi) > 0 {
			grants[role] = gi
		}
	})
	ctxNS := []string{ns}
	// A role's members are one index seek per namespace: when that is
	// more seeks than users / memberScanRatio, scan the users in memory.
	if len(grants)*v.NamespaceCount()*memberScanRatio < v.UserCount() {
		for role := range grants {
			ms, _, err := v.Members(role.ID, "", 0)
			if err != nil {
				return nil, err
			}
			for _, mb := range ms {
				if _, done := set[mb.UserID]; !done && mb.UserID > after &&
					assignedHolds(mb.UserID, v.Assignments(mb.UserID), grants, r, ctxNS, now) {
					set[mb.UserID] = struct{}{}
				}
			}
		}
	} else if len(grants) > 0 {
		v.EachUser(func(u string, as []index.Assignment) {
			if u > after && assignedHolds(u, as, grants, r, ctxNS, now) {
				set[u] = struct{}{}
			}
		})
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out, nil
}

// memberScanRatio is how many users an in-memory scan of every user
// reads in the time of one index seek of a role's members in a namespace
// (measured by BenchmarkLookups: a seek is some 20µs, a user 0.05-0.3µs).
var memberScanRatio = 64

// Holder stages, in cursor order.
const (
	stageUsers = iota
	stageClients
	stageTokens
)

// PermissionHolders lists every subject that, signed into namespace ns,
// holds resource ({namespace} bound to ns; {userId} cannot be bound: name
// the user) with action: users through their assignments or, when the
// grant binds {userId} to a user named in resource, a default role;
// clients; tokens (whose owner must hold it too). Default roles of ns
// that give it to every user are EveryUser on the first page, not a list
// of users (and a user is listed only when it holds it otherwise too;
// its sources then leave those out). Conditional grants (constraints,
// windows, schedules) count,
// marked Conditional; assignments with a window not ended count, with it.
// Users come first by id, then clients, then tokens.
//
// Cost, per page: every role's grants (in memory, a filter), then an index
// scan of the members of each role that may hold the permission in every
// namespace, a sort of those users after the cursor, and the exact
// evaluation of each until the page is full; then every client and every
// token once the users are done. A permission held through a role of many
// members costs those members on every page: page with large limits.
func (e *Engine) PermissionHolders(ctx context.Context, o ReadOptions, ns, resource string, action perm.Action, cursor string, limit int) (HoldersPage, error) {
	if err := validNS(ns); err != nil {
		return HoldersPage{}, err
	}
	if !action.Valid() {
		return HoldersPage{}, invalid("invalidAction", "action %d is not valid: use 1 to 15", action)
	}
	limit, err := clampLimit(limit)
	if err != nil {
		return HoldersPage{}, err
	}
	after, err := decodeCursor(cursor, "h:")
	if err != nil {
		return HoldersPage{}, err
	}
	stage, afterID := stageUsers, ""
	if after != "" {
		if len(after) < 2 || after[0] < '0'+stageUsers || after[0] > '0'+stageTokens || after[1] != ':' {
			return HoldersPage{}, errorf(ErrInvalid, "invalidCursor", "after %q is not a cursor of this list", cursor)
		}
		stage, afterID = int(after[0]-'0'), after[2:]
	}
	if err := e.authorize(ctx, o, auth.PermCheck, perm.Read, ns); err != nil {
		return HoldersPage{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return HoldersPage{}, err
	}
	p, err := e.holders(ns, resource, action, cursor == "", stage, afterID, limit)
	if err != nil {
		return HoldersPage{}, err
	}
	visible := e.readable(ctx, o.Caller)
	if e.authz == nil {
		return p, nil
	}
	kept := p.EveryUser[:0]
	for i := range p.EveryUser {
		if s := &p.EveryUser[i]; visible(s.see) {
			kept = append(kept, *s)
		} else {
			p.Withheld = true
		}
	}
	p.EveryUser = kept
	hs := p.Data[:0]
	for _, h := range p.Data {
		srcs := h.Sources[:0]
		tokenOK := h.Subject.Type != SubjectToken
		for i := range h.Sources {
			s := &h.Sources[i]
			if !visible(s.see) {
				p.Withheld = true
				continue
			}
			if s.Source == SourceToken {
				tokenOK = true
			}
			srcs = append(srcs, *s)
		}
		if len(srcs) == 0 || !tokenOK {
			p.Withheld = true
			continue
		}
		h.Sources = srcs
		hs = append(hs, h)
	}
	p.Data = hs
	return p, nil
}

// holders computes one page (before redaction) at one view.
func (e *Engine) holders(ns, resource string, action perm.Action, first bool, stage int, afterID string, limit int) (HoldersPage, error) {
	v := e.store.Acquire()
	defer v.Release()
	var r perm.Required
	bind := perm.RequiredBinding{Namespace: ns}
	if v.HasParents() {
		bind.Parent = v.Parent
	}
	if err := r.Parse(resource, action, bind); err != nil {
		return HoldersPage{}, invalid("invalidResource", "%s (holders are asked of a concrete resource: name the user instead of {userId})", err.Error())
	}
	now := e.cfg.Now()
	p := HoldersPage{Resource: r.String(), Action: action, Data: []Holder{}, Revision: v.Revision()}
	everyUser := defaultHolding(v, ns, "", &r)
	every := everyKeys(everyUser)
	if first {
		p.EveryUser = everyUser
	}
	type found struct {
		h     Holder
		stage int
	}
	var hs []found
	full := func() bool { return len(hs) > limit }
	if stage <= stageUsers {
		users, err := candidates(v, ns, &r, afterID, now)
		if err != nil {
			return HoldersPage{}, err
		}
		for _, u := range users {
			if full() {
				break
			}
			if srcs := userHolding(v, ns, u, &r, now, every); len(srcs) > 0 {
				hs = append(hs, found{Holder{Subject: LookupSubject{Type: SubjectUser, ID: u}, Sources: srcs}, stageUsers})
			}
		}
		afterID = ""
	}
	if stage <= stageClients && !full() {
		for _, cl := range v.AllClients() {
			if full() {
				break
			}
			if cl.ID <= afterID {
				continue
			}
			if srcs := clientHolding(v, ns, cl, &r); len(srcs) > 0 {
				hs = append(hs, found{Holder{Subject: LookupSubject{Type: SubjectClient, ID: cl.ID}, Namespace: cl.Namespace, Sources: srcs}, stageClients})
			}
		}
		afterID = ""
	}
	if !full() {
		for _, t := range v.AllTokens() {
			if full() {
				break
			}
			if t.ID <= afterID {
				continue
			}
			if srcs := tokenHolding(v, ns, t, &r, now); len(srcs) > 0 {
				owner := t.Owner
				hs = append(hs, found{Holder{Subject: LookupSubject{Type: SubjectToken, ID: t.ID}, Namespace: t.Namespace,
					TokenOwner: &owner, Sources: srcs}, stageTokens})
			}
		}
	}
	if full() {
		last := hs[limit-1]
		p.Next = encodeCursor("h:" + string(rune('0'+last.stage)) + ":" + last.h.Subject.ID)
		hs = hs[:limit]
	}
	for _, f := range hs {
		p.Data = append(p.Data, f.h)
	}
	return p, nil
}

// validSubject refuses a lookup subject that is not a user, client or
// token with a valid id.
func validSubject(typ, id string) error {
	switch typ {
	case SubjectUser, SubjectClient, SubjectToken:
	default:
		return invalid("invalidSubject", "subject type %q is not supported: use user, client or token", typ)
	}
	if !events.ValidID(id) {
		return invalid("invalidSubject", "subject id %q is not valid: use 1-128 letters, digits, '-' or '_'", id)
	}
	return nil
}
