package index

import "sort"

// AllClients returns every client of every namespace, sorted by id (a
// client may be checked signed into any namespace, so reverse lookups
// consider them all).
func (v View) AllClients() []*Client {
	out := make([]*Client, 0, len(v.s.mu.st.clients))
	for _, c := range v.s.mu.st.clients {
		if v.ov != nil {
			if _, staged := v.ov.clients[c.ID]; staged {
				continue
			}
		}
		out = append(out, c)
	}
	if v.ov != nil {
		for _, c := range v.ov.clients {
			if c != nil {
				out = append(out, c)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AllTokens returns every token of every namespace (revoked tokens are not
// in the index), sorted by id.
func (v View) AllTokens() []*Token {
	out := make([]*Token, 0, len(v.s.mu.st.tokens))
	for _, t := range v.s.mu.st.tokens {
		if v.ov != nil {
			if _, staged := v.ov.tokens[t.ID]; staged {
				continue
			}
		}
		out = append(out, t)
	}
	if v.ov != nil {
		for _, t := range v.ov.tokens {
			if t != nil {
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// UserCount returns how many users have assignments.
func (v View) UserCount() int { return v.s.mu.st.users.len() }

// NamespaceCount returns how many namespaces the index knows.
func (v View) NamespaceCount() int { return len(v.s.mu.st.ns) }

// EachUser calls fn with every user that has assignments and its
// assignments (as Assignments returns them), in no order. as is valid
// until fn returns (it is reused for the next user): copy what you keep.
// It reads memory only: a scan of every user, cheaper than many Members
// scans.
func (v View) EachUser(fn func(userID string, as []Assignment)) {
	st := &v.s.mu.st
	var as []Assignment
	var nss []string
	for u, rec := range st.users.all() {
		as, nss = st.assignmentsOf(rec, as[:0], nss[:0])
		fn(u, as)
	}
}

// EachRole calls fn with every role, in no order (Roles sorts them).
func (v View) EachRole(fn func(*Role)) {
	for _, r := range v.s.mu.st.roles {
		fn(r)
	}
}
