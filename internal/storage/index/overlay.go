package index

import (
	"slices"
	"sort"
	"strings"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// Overlay holds the events a transaction (or a what-if) has staged and not
// yet appended, folded as far as a command's decision and an effective
// permission diff need them: the roles they create, change or delete, the
// namespaces they create or delete, the users' assignments they make or
// end (directly, by deleting a role or by deleting a namespace), and the
// clients and tokens they change, delete or revoke. A View with the
// overlay (View.With) answers Role, RoleByName, Namespace, Assignments,
// Client, Token, AllClients and AllTokens as if the events were applied;
// everything else it answers from the index as it is. The index itself
// never changes.
//
// An Overlay is used by one goroutine; the roles, assignments, clients and
// tokens it returns are its own copies (the index's are never modified).
type Overlay struct {
	roles map[string]*Role // nil: deleted in the overlay
	names map[string]*Role // by lower-cased name; nil: freed
	ns    map[string]*NamespaceInfo
	// users are the assignments of the users a staged event assigned or
	// unassigned (their whole list, as the index's would be). The roles
	// they point to are mapped to the overlay's on reading (remap).
	users map[string][]Assignment
	// endedNS are the namespaces a staged event deleted: the index's
	// assignments made in them are ended (users not in users).
	endedNS map[string]bool
	clients map[string]*Client // nil: deleted
	tokens  map[string]*Token  // nil: revoked
}

// NewOverlay returns an empty overlay.
func NewOverlay() *Overlay {
	return &Overlay{
		roles: map[string]*Role{}, names: map[string]*Role{}, ns: map[string]*NamespaceInfo{},
		users: map[string][]Assignment{}, endedNS: map[string]bool{},
		clients: map[string]*Client{}, tokens: map[string]*Token{},
	}
}

// With returns v answering with o's staged events applied.
func (v View) With(o *Overlay) View { v.ov = o; return v }

// Base returns v without its overlay: the index as it is.
func (v View) Base() View { v.ov = nil; return v }

// Stage folds ev (its Namespace, Data and OccurredAt set), decided against
// v.With(o), into o. A staged namespace keeps the index's LastRevision and
// LastHash: the revision an append to it expects, and the chain link of
// its first staged event (the transaction chains the others itself).
// Events that would change nothing when applied (an assignment of an
// unknown role, say) change nothing in o either, as Store.Apply skips them.
func (o *Overlay) Stage(v View, ev *events.Event) {
	v = v.With(o)
	switch p := ev.Data.(type) {
	case events.RoleCreated:
		if v.Role(p.RoleID) != nil || v.RoleByName(p.RoleName) != nil {
			return
		}
		r := &Role{ID: p.RoleID, Name: p.RoleName, Admin: p.AdminRole, Wildcard: p.IsWildcard,
			Description: p.Description, CreatedAt: ev.OccurredAt, UpdatedAt: ev.OccurredAt}
		ps, _ := FoldRolePermissions(nil, p)
		r.setPermissions(ps)
		o.putRole(nil, r)
	case events.RoleUpdated:
		if old := v.Role(p.RoleID); old != nil {
			if other := v.RoleByName(p.RoleName); other != nil && other.ID != old.ID {
				return
			}
			r := *old
			r.Name, r.Admin, r.Wildcard, r.Description = p.RoleName, p.AdminRole, p.IsWildcard, p.Description
			o.putRole(old, &r)
		}
	case events.RolePermissionsAdded, events.RolePermissionsRemoved, events.RolePermissionsReplaced:
		id := events.RoleOf(p)
		if old := v.Role(id); old != nil {
			r := *old
			ps, _ := FoldRolePermissions(old.Permissions, p)
			r.setPermissions(ps)
			o.putRole(old, &r)
		}
	case events.RoleDeleted:
		if old := v.Role(p.RoleID); old != nil {
			o.names[strings.ToLower(old.Name)] = nil
		}
		// Its assignments end: Assignments drops those of a deleted role.
		o.roles[p.RoleID] = nil
	case events.UserRoleAssigned:
		o.assign(v, ev, p)
	case events.UserRolesAssignedBatch:
		for _, a := range p.Assignments {
			o.assign(v, ev, a)
		}
	case events.UserRoleUnassigned:
		list := v.Assignments(p.UserID)
		o.users[p.UserID] = slices.DeleteFunc(slices.Clone(list), func(a Assignment) bool {
			return a.Namespace == ev.Namespace && a.role.ID == p.RoleID
		})
	case events.NamespaceCreated:
		info, _ := v.Namespace(ev.Namespace)
		info.Explicit, info.Parent, info.DefaultRoles = true, p.Parent, p.DefaultRoles
		o.ns[ev.Namespace] = &info
	case events.NamespaceDeleted:
		info, _ := v.Namespace(ev.Namespace)
		info.Explicit, info.Parent, info.DefaultRoles = false, "", nil
		o.ns[ev.Namespace] = &info
		o.endNamespace(v, ev.Namespace)
	case events.ClientCreated:
		if v.Client(p.ClientID) != nil {
			return
		}
		o.clients[p.ClientID] = clientFrom(ev.Namespace, clientRecord{ClientCreated: p, CreatedAt: ev.OccurredAt, UpdatedAt: ev.OccurredAt})
	case events.ClientUpdated:
		if old := v.Client(p.ClientID); old != nil && old.Namespace == ev.Namespace {
			c := *old
			c.Name, c.Roles = p.ClientName, p.Roles
			c.Permissions, c.Grants = compileAll(normalize(FromEvent(p.Permissions)))
			c.Set = perm.NewGrantSet(c.Grants)
			c.UpdatedAt = ev.OccurredAt
			o.clients[c.ID] = &c
		}
	case events.ClientDeleted:
		if old := v.Client(p.ClientID); old != nil && old.Namespace == ev.Namespace {
			o.clients[p.ClientID] = nil
		}
	case events.TokenRevoked:
		if t := v.Token(p.TokenID); t != nil && t.Namespace == ev.Namespace {
			o.tokens[p.TokenID] = nil
			if t.Bootstrap {
				for _, id := range v.BootstrapDependents(t.ID) {
					o.tokens[id] = nil
				}
			}
		}
	}
}

// assign stages one assignment made in ev's namespace.
func (o *Overlay) assign(v View, ev *events.Event, p events.UserRoleAssigned) {
	r := v.Role(p.RoleID)
	if r == nil {
		return
	}
	a := Assignment{Namespace: ev.Namespace, UserID: p.UserID, AssignedNamespaces: slices.Clone(p.AssignedNamespaces),
		Revision: ev.Revision, assignedAt: packTime(ev.OccurredAt), role: r, win: window{notBefore: fromOpt(p.NotBefore), notAfter: fromOpt(p.NotAfter)}}
	if len(a.AssignedNamespaces) == 0 {
		a.AssignedNamespaces = nil
	}
	list := slices.DeleteFunc(slices.Clone(v.Assignments(p.UserID)), func(o Assignment) bool {
		return o.Namespace == a.Namespace && o.role.ID == a.role.ID
	})
	list = append(list, a)
	// The order of View.Assignments: namespace, then role id.
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Namespace != list[j].Namespace {
			return list[i].Namespace < list[j].Namespace
		}
		return list[i].role.ID < list[j].role.ID
	})
	o.users[p.UserID] = list
}

// endNamespace ends what deleting ns ends: the assignments made in it,
// and its clients and tokens.
func (o *Overlay) endNamespace(v View, ns string) {
	o.endedNS[ns] = true
	for u, list := range o.users {
		o.users[u] = slices.DeleteFunc(list, func(a Assignment) bool { return a.Namespace == ns })
	}
	for _, c := range v.AllClients() {
		if c.Namespace == ns {
			o.clients[c.ID] = nil
		}
	}
	for _, t := range v.AllTokens() {
		if t.Namespace == ns {
			o.tokens[t.ID] = nil
		}
	}
}

// putRole stages r, replacing old (nil for a new role).
func (o *Overlay) putRole(old, r *Role) {
	if old != nil {
		o.names[strings.ToLower(old.Name)] = nil
	}
	o.roles[r.ID] = r
	o.names[strings.ToLower(r.Name)] = r
}

// assignments returns list (the index's, or the overlay's own) as the
// overlay sees it: without assignments of deleted roles (and, for the
// index's, those made in deleted namespaces), with changed roles mapped
// to the overlay's copies.
func (o *Overlay) assignments(list []Assignment, fromIndex bool) []Assignment {
	changed := false
	for i := range list {
		a := &list[i]
		if _, ok := o.roles[a.role.ID]; ok || (fromIndex && o.endedNS[a.Namespace]) {
			changed = true
			break
		}
	}
	if !changed {
		return list
	}
	out := make([]Assignment, 0, len(list))
	for i := range list {
		a := list[i] // a copy: its role may be remapped
		if fromIndex && o.endedNS[a.Namespace] {
			continue
		}
		r, ok := o.roles[a.role.ID]
		switch {
		case !ok:
			out = append(out, a)
		case r != nil:
			a.role = r
			out = append(out, a)
		}
	}
	return out
}

// Users returns, sorted, the users whose assignments a staged event made
// or ended directly (assign, unassign).
func (o *Overlay) Users() []string {
	out := make([]string, 0, len(o.users))
	for u := range o.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// Roles returns, sorted, the ids of the roles staged events created,
// changed or deleted.
func (o *Overlay) Roles() []string {
	out := make([]string, 0, len(o.roles))
	for id := range o.roles {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Namespaces returns, sorted, the namespaces staged events created or
// deleted.
func (o *Overlay) Namespaces() []string {
	out := make([]string, 0, len(o.ns))
	for ns := range o.ns {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// Ended reports whether a staged event deleted namespace ns.
func (o *Overlay) Ended(ns string) bool { return o.endedNS[ns] }

// Clients returns, sorted, the ids of the clients staged events created,
// changed or deleted.
func (o *Overlay) Clients() []string { return sortedKeys(o.clients) }

// Tokens returns, sorted, the ids of the tokens staged events revoked.
func (o *Overlay) Tokens() []string { return sortedKeys(o.tokens) }

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
