package index

import (
	"strings"

	"github.com/grantlog/grantlog/events"
)

// Overlay holds the events a transaction has staged and not yet appended,
// folded as far as a command's decision needs them: the roles they create,
// change or delete, the namespaces they create or delete, and each touched
// namespace's chain head. A View with the overlay (View.With) answers Role,
// RoleByName and Namespace as if the events were applied; everything else
// it answers from the index as it is. The index itself never changes.
//
// An Overlay is used by one goroutine; the roles it returns are its own
// copies (the index's are never modified).
type Overlay struct {
	roles map[string]*Role // nil: deleted in the overlay
	names map[string]*Role // by lower-cased name; nil: freed
	ns    map[string]*NamespaceInfo
}

// NewOverlay returns an empty overlay.
func NewOverlay() *Overlay {
	return &Overlay{roles: map[string]*Role{}, names: map[string]*Role{}, ns: map[string]*NamespaceInfo{}}
}

// With returns v answering with o's staged events applied.
func (v View) With(o *Overlay) View { v.ov = o; return v }

// Stage folds ev (its Namespace, Data and OccurredAt set), decided against
// v.With(o), into o. A staged namespace keeps the index's LastRevision and
// LastHash: the revision an append to it expects, and the chain link of
// its first staged event (the transaction chains the others itself).
func (o *Overlay) Stage(v View, ev *events.Event) {
	v = v.With(o)
	switch p := ev.Data.(type) {
	case events.RoleCreated:
		r := &Role{ID: p.RoleID, Name: p.RoleName, Admin: p.AdminRole, Wildcard: p.IsWildcard,
			Description: p.Description, CreatedAt: ev.OccurredAt, UpdatedAt: ev.OccurredAt}
		ps, _ := FoldRolePermissions(nil, p)
		r.setPermissions(ps)
		o.putRole(nil, r)
	case events.RoleUpdated:
		if old := v.Role(p.RoleID); old != nil {
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
		o.roles[p.RoleID] = nil
	case events.NamespaceCreated:
		info, _ := v.Namespace(ev.Namespace)
		info.Explicit, info.Parent, info.DefaultRoles = true, p.Parent, p.DefaultRoles
		o.ns[ev.Namespace] = &info
	case events.NamespaceDeleted:
		info, _ := v.Namespace(ev.Namespace)
		info.Explicit, info.Parent, info.DefaultRoles = false, "", nil
		o.ns[ev.Namespace] = &info
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
