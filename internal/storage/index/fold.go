package index

import (
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// FoldRolePermissions is the one fold of a role's permissions over the role
// events: given have, the role's permissions before event payload p, it
// returns the role's permissions after p (canonicalised, merged, sorted)
// and true, or have and false when p does not set a role's permissions
// (RoleUpdated, RoleDeleted and every other event). The index applies it
// to its roles; the audit effects feed folds it to compute what a role
// change grants and takes away, so the two never disagree.
func FoldRolePermissions(have []perm.Permission, p events.Payload) ([]perm.Permission, bool) {
	switch p := p.(type) {
	case events.RoleCreated:
		return normalize(FromEvent(p.Permissions)), true
	case events.RolePermissionsAdded:
		return AddPermissions(have, FromEvent(p.Permissions)), true
	case events.RolePermissionsRemoved:
		return RemovePermissions(have, FromEvent(p.Permissions)), true
	case events.RolePermissionsReplaced:
		return normalize(FromEvent(p.Permissions)), true
	}
	return have, false
}
