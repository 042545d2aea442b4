package query

import (
	"slices"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
)

// The subjects a what-if diffs (its candidates), in key order after a
// cursor: see Engine.WhatIf for which they are and what finding them
// costs.

// whatIfSmallFactor and whatIfSmallFloor bound the users a proposal may
// reach through roles and namespaces for its candidates to be listed in
// full on every page: max(whatIfSmallFactor·limit, whatIfSmallFloor).
// Beyond that they are read in order from the index (wiPlan.stream), so
// that paging through a large diff is linear in it. A test sets the floor
// to -1 (and the factor to 0) to take the ordered path always.
var (
	whatIfSmallFactor = 4
	whatIfSmallFloor  = 1024
)

// wiMode says how a wiSource finds its candidates.
type wiMode int

const (
	wiUndecided wiMode = iota
	wiSmall            // all listed at once (keys)
	wiStream           // read in order, a chunk at a time
)

// wiSource hands out the candidates of one page, in order, a chunk at a
// time, each chunk at the view it is given.
type wiSource struct {
	evs   []events.Event
	small int // see whatIfSmallFactor
	// from is the last candidate handed out (or the cursor), when begun.
	from  wiKey
	begun bool
	mode  wiMode
	keys  []wiKey // wiSmall: the candidates not handed out yet
}

// next returns up to most candidates after the last one handed out, at v
// (none: there are no more).
func (s *wiSource) next(v index.View, most int) ([]wiKey, error) {
	var out []wiKey
	switch s.mode {
	case wiUndecided:
		p := newWIPlan(v, s.evs)
		holders := map[string]bool{}
		if p.reachesHolders() {
			var ok bool
			var err error
			if holders, ok, err = p.holders(s.small); err != nil {
				return nil, err
			}
			if !ok {
				s.mode = wiStream
				return s.next(v, most)
			}
		}
		s.mode = wiSmall
		s.keys = p.allKeys(holders, s.from, s.begun)
		return s.next(v, most)
	case wiSmall:
		out = s.keys[:min(most, len(s.keys))]
		s.keys = s.keys[len(out):]
	case wiStream:
		var err error
		if out, err = newWIPlan(v, s.evs).stream(s.from, s.begun, most, ""); err != nil {
			return nil, err
		}
	}
	if len(out) > 0 {
		s.from, s.begun = out[len(out)-1], true
	}
	return out, nil
}

// withheldAfter reports whether a candidate after the last one handed out
// is in a namespace the caller may not check (canRead, called outside any
// view).
func (s *wiSource) withheldAfter(st *index.Store, canRead func(ns string) bool) (bool, error) {
	if s.mode == wiSmall {
		for _, k := range s.keys {
			if !canRead(k.ns) {
				return true, nil
			}
		}
		return false, nil
	}
	// The namespaces that may hold one.
	v := st.Acquire()
	nss := map[string]bool{}
	for _, ns := range v.AllNamespaces() {
		nss[ns] = true
	}
	for _, k := range newWIPlan(v, s.evs).fixedKeys(s.from, s.begun, "") {
		nss[k.ns] = true
	}
	v.Release()
	var hidden []string
	for ns := range nss {
		if (!s.begun || ns >= s.from.ns) && !canRead(ns) {
			hidden = append(hidden, ns)
		}
	}
	slices.Sort(hidden)
	v = st.Acquire()
	defer v.Release()
	p := newWIPlan(v, s.evs)
	for _, ns := range hidden {
		keys, err := p.stream(s.from, s.begun, 1, ns)
		if err != nil || len(keys) > 0 {
			return len(keys) > 0, err
		}
	}
	return false, nil
}

// wiPlan is what one staging of the proposal reaches, at view v (w: v
// with the staged events).
type wiPlan struct {
	v, w    index.View
	ov      *index.Overlay
	roles   map[string]bool // created, changed or deleted
	everyNS map[string]bool // namespaces whose default roles may change
	users   map[string]bool // assigned or unassigned
	clients map[string]bool // created, changed or deleted
	tokens  map[string]bool // revoked
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func newWIPlan(v index.View, evs []events.Event) *wiPlan {
	ov := stage(v, evs)
	p := &wiPlan{v: v, w: v.With(ov), ov: ov, roles: setOf(ov.Roles()), everyNS: setOf(ov.Namespaces()),
		users: setOf(ov.Users()), clients: setOf(ov.Clients()), tokens: setOf(ov.Tokens())}
	// Namespaces created or deleted (which ends their assignments), and
	// those whose default roles change.
	if len(p.roles) > 0 {
		for _, info := range v.Namespaces() {
			if p.holdsChanged(info.DefaultRoles) {
				p.everyNS[info.Name] = true
			}
		}
	}
	return p
}

func (p *wiPlan) holdsChanged(ids []string) bool {
	for _, id := range ids {
		if p.roles[id] {
			return true
		}
	}
	return false
}

// reachesHolders reports whether the proposal reaches users through what
// they hold (a role, or assignments in a namespace), not only those it
// assigns or unassigns.
func (p *wiPlan) reachesHolders() bool { return len(p.roles) > 0 || len(p.everyNS) > 0 }

// reached reports whether user u is reached through what it holds: an
// assignment of a changed role, or made in a namespace of everyNS.
func (p *wiPlan) reached(u string) bool {
	it := p.v.UserAssignments(u)
	for a, ok := it.Next(); ok; a, ok = it.Next() {
		if p.roles[a.RoleID()] || p.everyNS[a.Namespace] {
			return true
		}
	}
	return false
}

// holders returns the users reached through what they hold, found from
// the index's role members and namespaces' users (or, when that is more
// index seeks than users / memberScanRatio, by a scan of every user in
// memory), unless there are more than most assignments to them (ok
// false).
func (p *wiPlan) holders(most int) (users map[string]bool, ok bool, err error) {
	users = map[string]bool{}
	if len(p.roles)*p.v.NamespaceCount()*memberScanRatio >= p.v.UserCount() {
		p.v.EachUser(func(u string, as []index.Assignment) {
			for i := range as {
				if a := &as[i]; p.roles[a.RoleID()] || p.everyNS[a.Namespace] {
					users[u] = true
					return
				}
			}
		})
		return users, len(users) <= most, nil
	}
	n := 0
	add := func(u string) bool {
		users[u] = true
		n++
		return n <= most
	}
	for _, id := range sortedSet(p.roles) {
		if err := p.v.EachMember(id, func(_, u string) bool { return add(u) }); err != nil {
			return nil, false, err
		}
		if n > most {
			return nil, false, nil
		}
	}
	for _, ns := range sortedSet(p.everyNS) {
		if err := p.v.NamespaceUsers(ns, "", add); err != nil {
			return nil, false, err
		}
		if n > most {
			return nil, false, nil
		}
	}
	return users, true, nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// clientReached reports whether client id is changed or deleted, or holds
// a changed role (before or after).
func (p *wiPlan) clientReached(id string) bool {
	if p.clients[id] {
		return true
	}
	if c := p.v.Client(id); c != nil && p.holdsChanged(c.Roles) {
		return true
	}
	c := p.w.Client(id)
	return c != nil && p.holdsChanged(c.Roles)
}

// tokenReached reports whether token t (of the index) is revoked, or its
// owner's permissions may change (reached: see reached, called only
// when reachesHolders).
func (p *wiPlan) tokenReached(t *index.Token, reached func(u string) bool) bool {
	if p.tokens[t.ID] {
		return true
	}
	switch t.Owner.Type {
	case events.ActorUser:
		return p.everyNS[t.Namespace] || p.users[t.Owner.ID] || reached(t.Owner.ID)
	case events.ActorClient:
		return p.clientReached(t.Owner.ID)
	}
	return false
}

// allKeys returns, sorted, every candidate after from (when begun), the
// users reached through what they hold being holders.
func (p *wiPlan) allKeys(holders map[string]bool, from wiKey, begun bool) []wiKey {
	var keys []wiKey
	add := func(ns, typ, id string) {
		k := wiKey{ns, typ, id}
		if !begun || wiCompare(k, from) > 0 {
			keys = append(keys, k)
		}
	}
	for ns := range p.everyNS {
		add(ns, SubjectUser, EveryUser)
	}
	users := map[string]bool{}
	for u := range p.users {
		users[u] = true
	}
	for u := range holders {
		users[u] = true
	}
	for u := range users {
		p.addUserKeys(u, add)
	}
	// Clients: changed, deleted, or holding a changed role.
	for _, view := range []index.View{p.v, p.w} {
		for _, cl := range view.AllClients() {
			if p.clientReached(cl.ID) {
				add(cl.Namespace, SubjectClient, cl.ID)
			}
		}
	}
	// Tokens: revoked, or whose owner's permissions may change.
	for _, t := range p.v.AllTokens() {
		if p.tokenReached(t, func(u string) bool { return users[u] }) {
			add(t.Namespace, SubjectToken, t.ID)
		}
	}
	slices.SortFunc(keys, wiCompare)
	return slices.Compact(keys)
}

// addUserKeys adds user u signed into each namespace its assignments are
// made in, before or after (the overlay only ends or remaps the index's,
// except for the users it assigns).
func (p *wiPlan) addUserKeys(u string, add func(ns, typ, id string)) {
	last := ""
	it := p.v.UserAssignments(u)
	for a, ok := it.Next(); ok; a, ok = it.Next() {
		if a.Namespace != last { // sorted by namespace
			add(a.Namespace, SubjectUser, u)
			last = a.Namespace
		}
	}
	if p.users[u] {
		after := p.w.Assignments(u)
		for i := range after {
			add(after[i].Namespace, SubjectUser, u)
		}
	}
}

// fixedKeys returns, sorted, the candidates after from (when begun; in
// namespace only, when set) that the proposal names rather than reaches
// through the index: every user of everyNS, the users it assigns or
// unassigns, and the clients it changes.
func (p *wiPlan) fixedKeys(from wiKey, begun bool, only string) []wiKey {
	var keys []wiKey
	add := func(ns, typ, id string) {
		k := wiKey{ns, typ, id}
		if (!begun || wiCompare(k, from) > 0) && (only == "" || ns == only) {
			keys = append(keys, k)
		}
	}
	for ns := range p.everyNS {
		add(ns, SubjectUser, EveryUser)
	}
	for u := range p.users {
		p.addUserKeys(u, add)
	}
	for id := range p.clients {
		for _, view := range []index.View{p.v, p.w} {
			if cl := view.Client(id); cl != nil {
				add(cl.Namespace, SubjectClient, id)
			}
		}
	}
	slices.SortFunc(keys, wiCompare)
	return slices.Compact(keys)
}

// stream returns up to most candidates after from (when begun; in
// namespace only, when set), in order, read from the index's ordered
// keys of each namespace's clients, tokens and users from from on (only
// when reachesHolders: otherwise allKeys is cheaper), merged with
// fixedKeys.
func (p *wiPlan) stream(from wiKey, begun bool, most int, only string) ([]wiKey, error) {
	var out []wiKey
	full := func() bool { return len(out) >= most }
	for _, ns := range p.v.AllNamespaces() {
		if (begun && ns < from.ns) || (only != "" && ns != only) {
			continue
		}
		for _, typ := range []string{SubjectClient, SubjectToken, SubjectUser} {
			after := ""
			if begun && ns == from.ns {
				if typ < from.typ {
					continue
				}
				if typ == from.typ {
					after = from.id
				}
			}
			var err error
			switch typ {
			case SubjectClient:
				err = p.v.NamespaceClients(ns, after, func(id string) bool {
					if c := p.v.Client(id); p.holdsChanged(c.Roles) {
						out = append(out, wiKey{ns, typ, id})
					}
					return !full()
				})
			case SubjectToken:
				err = p.v.NamespaceTokens(ns, after, func(id string) bool {
					if p.tokenReached(p.v.Token(id), p.reached) {
						out = append(out, wiKey{ns, typ, id})
					}
					return !full()
				})
			case SubjectUser:
				err = p.v.NamespaceUsers(ns, after, func(u string) bool {
					if p.reached(u) {
						out = append(out, wiKey{ns, typ, u})
					}
					return !full()
				})
			}
			if err != nil {
				return nil, err
			}
			if full() {
				break
			}
		}
		if full() {
			break
		}
	}
	fixed := p.fixedKeys(from, begun, only)
	if full() {
		// Past the last key read, the index's keys were not: the fixed
		// keys there wait for the next chunk.
		last := out[len(out)-1]
		fixed = slices.DeleteFunc(fixed, func(k wiKey) bool { return wiCompare(k, last) > 0 })
	}
	out = append(out, fixed...)
	slices.SortFunc(out, wiCompare)
	out = slices.Compact(out)
	return out[:min(len(out), most)], nil
}
