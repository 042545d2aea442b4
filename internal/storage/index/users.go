package index

import (
	"sort"
	"strings"
)

// A user's assignments are one []*Assignment (what View.Assignments
// returns) pointing into one []Assignment allocated with it: two
// allocations per user rather than one per assignment. Both are replaced,
// never modified, when the user's assignments change (copy on write), so a
// reader's list stays as it was.

// assignmentLess orders one user's assignments: by namespace, then role id.
func assignmentLess(x, y *Assignment) bool {
	if x.Namespace != y.Namespace {
		return x.Namespace < y.Namespace
	}
	return x.role.ID < y.role.ID
}

// pack returns pointers to the assignments of vals, which the list then owns.
func pack(vals []Assignment) []*Assignment {
	ptrs := make([]*Assignment, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return ptrs
}

// userKey returns the string to key userID by: the one the index already
// holds, or a copy (so that the key does not keep an event's buffer alive).
func userKey(list []*Assignment, userID string) string {
	if len(list) > 0 {
		return list[0].UserID
	}
	return strings.Clone(userID)
}

// putAssignment stores a in its user's list, replacing the user's
// assignment of the same role made in the same namespace.
func (st *state) putAssignment(a Assignment) {
	list := st.users[a.UserID]
	a.UserID = userKey(list, a.UserID)
	i := sort.Search(len(list), func(i int) bool { return !assignmentLess(list[i], &a) })
	rest := list[i:]
	n := len(list) + 1
	if i < len(list) && list[i].Namespace == a.Namespace && list[i].role.ID == a.role.ID {
		st.refAssigned(list[i].AssignedNamespaces, -1)
		rest = list[i+1:]
		n--
	}
	st.refAssigned(a.AssignedNamespaces, 1)
	vals := make([]Assignment, 0, n)
	for _, o := range list[:i] {
		vals = append(vals, *o)
	}
	vals = append(vals, a)
	for _, o := range rest {
		vals = append(vals, *o)
	}
	st.users[a.UserID] = pack(vals)
}

// removeAssignment removes userID's assignment of roleID made in ns, if any.
func (st *state) removeAssignment(ns, userID, roleID string) {
	list := st.users[userID]
	for i, a := range list {
		if a.Namespace != ns || a.role.ID != roleID {
			continue
		}
		st.refAssigned(a.AssignedNamespaces, -1)
		if len(list) == 1 {
			delete(st.users, userID)
			return
		}
		vals := make([]Assignment, 0, len(list)-1)
		for j, o := range list {
			if j != i {
				vals = append(vals, *o)
			}
		}
		st.users[list[0].UserID] = pack(vals)
		return
	}
}

// loadRun collects the assignments of one user that load reads one after
// the other (a user's assignments made in one namespace), so that each
// user's list is built once.
type loadRun struct {
	user []byte
	vals []Assignment
	// The namespace and role of the last assignment read.
	ns   string
	role *Role
	// rewrite stores a record again (a layout 1 record in binary, from
	// buf).
	rewrite func(key, value []byte) error
	buf     []byte
}

// flush adds the run to its user's list.
func (r *loadRun) flush(st *state) {
	if len(r.vals) == 0 {
		return
	}
	list := st.users[string(r.user)]
	var uid string
	if len(list) > 0 {
		uid = list[0].UserID
	} else {
		uid = string(r.user)
	}
	vals := make([]Assignment, 0, len(list)+len(r.vals))
	for _, o := range list {
		vals = append(vals, *o)
	}
	for _, a := range r.vals {
		a.UserID = uid
		st.refAssigned(a.AssignedNamespaces, 1)
		vals = append(vals, a)
	}
	// Key order is not assignmentLess order across namespaces ("n/foo-bar/"
	// sorts before "n/foo/"); lists are short.
	for i := 1; i < len(vals); i++ {
		for j := i; j > 0 && assignmentLess(&vals[j], &vals[j-1]); j-- {
			vals[j], vals[j-1] = vals[j-1], vals[j]
		}
	}
	st.users[uid] = pack(vals)
	clear(r.vals)
	r.vals = r.vals[:0]
}
