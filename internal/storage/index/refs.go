package index

import (
	"strings"

	"github.com/grantlog/grantlog/perm"
)

// NamespaceReferenced reports whether namespace ns exists in any way: it has
// events of its own, or something else names it — an assignment's
// assignedNamespaces, another namespace's parent, or a literal namespace
// segment (the one after NAMESPACE) in a permission of a role, client,
// token, scope or catalog endpoint. A studio prefix (NAMESPACE:studio1-:*)
// names only the namespace spelled exactly so, not those it covers.
//
// Cost: O(1) for events and assignments (assignedIn is kept by apply and
// load); otherwise O(namespaces with a parent) plus one pass over the
// permissions of every role, client, live token, scope and endpoint, with
// no allocation. It is meant for rare commands (creating a namespace), not
// for checks.
func (v View) NamespaceReferenced(ns string) bool {
	st := &v.s.mu.st
	if _, ok := st.ns[ns]; ok {
		return true
	}
	if st.assignedCount(ns) > 0 {
		return true
	}
	for _, p := range st.parents {
		if p == ns {
			return true
		}
	}
	for _, r := range st.roles {
		if namesAny(r.Permissions, ns) {
			return true
		}
	}
	for _, c := range st.clients {
		if namesAny(c.Permissions, ns) {
			return true
		}
	}
	for _, t := range st.tokens {
		if namesAny(t.Permissions, ns) {
			return true
		}
	}
	for _, sc := range st.scopes {
		if namesAny(sc.Permissions, ns) {
			return true
		}
	}
	for _, e := range st.endpoints {
		if namesNamespace(e.Resource, ns) {
			return true
		}
	}
	return false
}

func namesAny(ps []perm.Permission, ns string) bool {
	for i := range ps {
		if namesNamespace(ps[i].Resource, ns) {
			return true
		}
	}
	return false
}

// namesNamespace reports whether resource has the literal segment ns right
// after a NAMESPACE segment.
func namesNamespace(resource, ns string) bool {
	prev := ""
	for rest := resource; ; {
		seg, tail, more := strings.Cut(rest, ":")
		if prev == "NAMESPACE" && seg == ns {
			return true
		}
		if !more {
			return false
		}
		prev, rest = seg, tail
	}
}

// refAssigned counts (delta +1) or uncounts (-1) one assignment naming
// the namespace of name id (names) in its assignedNamespaces.
func (st *state) refAssigned(id uint32, delta int32) {
	if int(id) >= len(st.assignedIn) {
		st.assignedIn = append(st.assignedIn, make([]int32, int(id)+1-len(st.assignedIn))...)
	}
	st.assignedIn[id] = max(st.assignedIn[id]+delta, 0)
}

// assignedCount is how many assignments name ns in their assignedNamespaces.
func (st *state) assignedCount(ns string) int32 {
	id, ok := st.names.ids[ns]
	if !ok || int(id) >= len(st.assignedIn) {
		return 0
	}
	return st.assignedIn[id]
}
