package index

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// View is a consistent read-only view of the index at one revision. It holds
// a read lock: Release it promptly, and do not use anything reached through
// it after Release.
//
// A View with an Overlay (View.With) answers Role, RoleByName, Namespace,
// Assignments, Client, Token, AllClients and AllTokens as if the overlay's
// staged events were applied.
type View struct {
	s  *Store
	ov *Overlay
}

// Acquire returns a View. Every Acquire must be paired with Release.
func (s *Store) Acquire() View {
	s.mu.RLock()
	return View{s: s}
}

// Release ends the view.
func (v View) Release() { v.s.mu.RUnlock() }

// Revision is the revision the view reflects.
func (v View) Revision() uint64 { return v.s.applied.Load() }

// RevisionTime is the occurredAt of the event at Revision; ok is false
// when the index does not know it (revision 0, or an index written before
// it was recorded).
func (v View) RevisionTime() (at time.Time, ok bool) {
	n := v.s.appliedAt.Load()
	if n == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, n).UTC(), true
}

// Role returns the role with id, or nil.
func (v View) Role(id string) *Role {
	if v.ov != nil {
		if r, ok := v.ov.roles[id]; ok {
			return r
		}
	}
	return v.s.mu.st.roles[id]
}

// RoleByName returns the role named name (case-insensitively), or nil.
func (v View) RoleByName(name string) *Role {
	if v.ov != nil {
		if r, ok := v.ov.names[strings.ToLower(name)]; ok {
			return r
		}
	}
	return v.s.mu.st.roleNames[strings.ToLower(name)]
}

// Roles returns every role sorted by name.
func (v View) Roles() []*Role {
	out := make([]*Role, 0, len(v.s.mu.st.roles))
	for _, r := range v.s.mu.st.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// Assignments returns the user's assignments across all namespaces, sorted
// by namespace, then role id: a copy, the caller's to keep. Checks use
// UserAssignments, which allocates nothing.
func (v View) Assignments(userID string) []Assignment {
	if v.ov != nil {
		return v.overlayAssignments(userID)
	}
	rec, ok := v.s.mu.st.users.lookup(userID)
	if !ok {
		return nil
	}
	out, _ := v.s.mu.st.assignmentsOf(rec, nil, nil)
	return out
}

// UserAssignments iterates over the user's assignments in the order of
// Assignments, without allocating (with an overlay, over its copy).
func (v View) UserAssignments(userID string) AssignmentIter {
	if v.ov != nil {
		return AssignmentIter{st: &v.s.mu.st, list: v.overlayAssignments(userID)}
	}
	user, body := recordBody(v.s.mu.st.users.get(userID))
	return AssignmentIter{st: &v.s.mu.st, user: user, body: body}
}

// overlayAssignments is Assignments with the overlay's staged events.
func (v View) overlayAssignments(userID string) []Assignment {
	if list, ok := v.ov.users[userID]; ok {
		return v.ov.assignments(list, false)
	}
	base, _ := v.s.mu.st.assignmentsOf(v.s.mu.st.users.get(userID), nil, nil)
	return v.ov.assignments(base, true)
}

// Namespace returns what the index knows of ns.
func (v View) Namespace(ns string) (NamespaceInfo, bool) {
	if v.ov != nil {
		if info, ok := v.ov.ns[ns]; ok {
			return *info, true
		}
	}
	info, ok := v.s.mu.st.ns[ns]
	if !ok {
		return NamespaceInfo{Name: ns}, false
	}
	return *info, true
}

// Members lists the holders of role roleID in namespace order, then user id
// order, starting after cursor (a value returned as next, or "" to start),
// at most limit of them (every one when limit <= 0). next is "" when the
// list is complete.
func (v View) Members(roleID, cursor string, limit int) (members []Member, next string, err error) {
	namespaces := make([]string, 0, len(v.s.mu.st.ns))
	for ns := range v.s.mu.st.ns {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	afterNS, afterUser, _ := strings.Cut(cursor, "/")
	for _, ns := range namespaces {
		if ns < afterNS {
			continue
		}
		lower := memberPrefix(ns, roleID)
		upper := prefixEnd(lower)
		if ns == afterNS && afterUser != "" {
			lower = append(memberKey(ns, roleID, afterUser), 0)
		}
		iter, err := v.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, "", fmt.Errorf("index: members: %w", err)
		}
		for iter.First(); iter.Valid(); iter.Next() {
			if limit > 0 && len(members) == limit {
				last := members[len(members)-1]
				_ = iter.Close()
				return members, last.Namespace + "/" + last.UserID, nil
			}
			pk, err := parseKey(iter.Key())
			if err != nil {
				_ = iter.Close()
				return nil, "", err
			}
			members = append(members, Member{Namespace: ns, UserID: pk.b})
		}
		if err := iter.Close(); err != nil {
			return nil, "", fmt.Errorf("index: members: %w", err)
		}
	}
	return members, "", nil
}
