package index

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// Ordered scans of one namespace's users, clients and tokens, and of a
// role's members, read from the index's keys (see doc.go) so that a
// caller can resume after any id without reading everything before it:
// what-if (query) pages through the subjects a proposal may change this
// way. They read the index as it is: with an overlay, its staged events
// are not seen.

// AllNamespaces returns the name of every namespace the index knows
// (explicit or used, the platform namespace included), sorted.
func (v View) AllNamespaces() []string {
	out := make([]string, 0, len(v.s.mu.st.ns))
	for ns := range v.s.mu.st.ns {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// EachMember calls fn with every holder of role roleID: the namespace its
// assignment is made in and the user (user id order within a namespace,
// namespaces in no order). It stops when fn returns false. One index seek
// per namespace the index knows.
func (v View) EachMember(roleID string, fn func(ns, userID string) bool) error {
	for ns := range v.s.mu.st.ns {
		lower := memberPrefix(ns, roleID)
		more := true
		err := v.scan(lower, lower, func(rest []byte) bool {
			more = fn(ns, string(rest))
			return more
		})
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// NamespaceUsers calls fn with every user that has an assignment made in
// ns, in user id order (strings.Compare), starting after after ("" for
// all); it stops when fn returns false. The work is one index seek plus
// the keys of the users it passes (one per assignment made in ns).
func (v View) NamespaceUsers(ns, after string, fn func(userID string) bool) error {
	base := kindPrefix(ns, kindAssignment)
	lower := base
	if after != "" {
		// The users after after: those whose ids extend after with a '-'
		// (their keys sort before after's), then every key after after's.
		lower = append(append(bytes.Clone(base), after...), '-')
	}
	// Keys are <user>/<role>, so users come in the order of user+"/",
	// which is id order except that '-' (the one character of an id below
	// '/') sorts a user's ids extended with '-' before the user itself:
	// "a-b/…" < "a/…" while "a" < "a-b". So each user is preceded by those
	// of its prefixes ending before one of its '-' that are users of ns
	// (they are emitted early, and skipped when their keys come).
	early := map[string]bool{}
	var last []byte
	st := &v.s.mu.st
	stop := false
	emit := func(u string) bool {
		if u <= after {
			return true
		}
		stop = !fn(u)
		return !stop
	}
	err := v.scan(base, lower, func(rest []byte) bool {
		i := bytes.IndexByte(rest, '/')
		if i <= 0 {
			return true
		}
		u := rest[:i]
		if bytes.Equal(u, last) {
			return true // the user's next assignment
		}
		last = append(last[:0], u...)
		for j := 1; j < len(u); j++ {
			if u[j] != '-' {
				continue
			}
			p := string(u[:j])
			if p <= after || early[p] || !st.hasAssignmentIn(p, ns) {
				continue
			}
			early[p] = true
			if !emit(p) {
				return false
			}
		}
		if early[string(u)] {
			delete(early, string(u))
			return true
		}
		return emit(string(u))
	})
	if stop {
		return nil
	}
	return err
}

// hasAssignmentIn reports whether user has an assignment made in ns.
func (st *state) hasAssignmentIn(user, ns string) bool {
	_, body := recordBody(st.users.get(user))
	for i := 0; i < len(body); {
		h := readHead(body, i)
		if st.names.list[h.ns] == ns {
			return true
		}
		i = skipIDs(body, h.nss, h.n)
	}
	return false
}

// NamespaceClients calls fn with the id of every client of ns, in id
// order, starting after after ("" for all); it stops when fn returns
// false.
func (v View) NamespaceClients(ns, after string, fn func(id string) bool) error {
	return v.scanIDs(kindPrefix(ns, kindClient), after, func(id string) bool {
		if c := v.s.mu.st.clients[id]; c == nil || c.Namespace != ns {
			return true
		}
		return fn(id)
	})
}

// NamespaceTokens calls fn with the id of every token of ns (revoked
// tokens are not in the index), in id order, starting after after (""
// for all); it stops when fn returns false.
func (v View) NamespaceTokens(ns, after string, fn func(id string) bool) error {
	return v.scanIDs(kindPrefix(ns, kindToken), after, func(id string) bool {
		if t := v.s.mu.st.tokens[id]; t == nil || t.Namespace != ns {
			return true // a revoked bootstrap credential's record
		}
		return fn(id)
	})
}

// scanIDs calls fn with the last part of every key under prefix (an id:
// id order is key order), after after.
func (v View) scanIDs(prefix []byte, after string, fn func(id string) bool) error {
	lower := prefix
	if after != "" {
		lower = append(append(bytes.Clone(prefix), after...), 0)
	}
	return v.scan(prefix, lower, func(rest []byte) bool { return fn(string(rest)) })
}

// scan calls fn with the rest of every key under prefix from lower on, in
// key order, until fn returns false.
func (v View) scan(prefix, lower []byte, fn func(rest []byte) bool) error {
	iter, err := v.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("index: scan: %w", err)
	}
	for iter.First(); iter.Valid(); iter.Next() {
		if !fn(iter.Key()[len(prefix):]) {
			break
		}
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("index: scan: %w", err)
	}
	return nil
}
