package index

import (
	"sort"
	"time"

	"github.com/grantlog/grantlog/perm"
)

// Role is a role as the index holds it. Fields are read-only for readers.
type Role struct {
	ID          string
	Name        string
	Admin       bool
	Wildcard    bool
	Description string
	// Permissions are canonical, unique by resource, sorted by resource.
	Permissions []perm.Permission
	// Grants are the compiled Permissions, index for index.
	Grants    []perm.Grant
	CreatedAt time.Time
	UpdatedAt time.Time
	// Revision is the revision of the role's last change.
	Revision uint64
}

// Assignment is role RoleID given to UserID, made within Namespace.
type Assignment struct {
	Namespace          string
	UserID             string
	RoleID             string
	AssignedNamespaces []string
	AssignedAt         time.Time
	Revision           uint64
	role               *Role
}

// Role returns the assigned role.
func (a *Assignment) Role() *Role { return a.role }

// NamespaceInfo is what the index knows of a namespace.
type NamespaceInfo struct {
	Name         string   `json:"namespace"`
	Explicit     bool     `json:"explicit"`
	Parent       string   `json:"parent,omitempty"`
	DefaultRoles []string `json:"defaultRoles,omitempty"`
	// LastRevision is the revision of the namespace's last event: the value
	// a command appending to the namespace expects.
	LastRevision uint64 `json:"lastRevision"`
}

// Member is one holder of a role.
type Member struct {
	Namespace string `json:"namespace"`
	UserID    string `json:"userId"`
}

type roleRecord struct {
	RoleID      string            `json:"roleId"`
	RoleName    string            `json:"roleName"`
	AdminRole   bool              `json:"adminRole"`
	IsWildcard  bool              `json:"isWildcard"`
	Description string            `json:"description,omitempty"`
	Permissions []perm.Permission `json:"permissions"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Revision    uint64            `json:"revision"`
}

type assignmentRecord struct {
	AssignedNamespaces []string  `json:"assignedNamespaces"`
	AssignedAt         time.Time `json:"assignedAt"`
	Revision           uint64    `json:"revision"`
}

func (r *Role) record() roleRecord {
	return roleRecord{
		RoleID: r.ID, RoleName: r.Name, AdminRole: r.Admin, IsWildcard: r.Wildcard,
		Description: r.Description, Permissions: r.Permissions,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Revision: r.Revision,
	}
}

func roleFromRecord(rec roleRecord) *Role {
	r := &Role{
		ID: rec.RoleID, Name: rec.RoleName, Admin: rec.AdminRole, Wildcard: rec.IsWildcard,
		Description: rec.Description, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
		Revision: rec.Revision,
	}
	r.setPermissions(rec.Permissions)
	return r
}

// setPermissions stores ps (canonicalised, merged by resource, sorted) and
// compiles them. Permissions that fail to compile are dropped: commands
// validate every permission, so this only guards against a corrupt log.
func (r *Role) setPermissions(ps []perm.Permission) {
	r.Permissions = normalize(ps)
	r.Grants = make([]perm.Grant, 0, len(r.Permissions))
	kept := r.Permissions[:0]
	for _, p := range r.Permissions {
		g, err := perm.CompileGrant(p)
		if err != nil {
			continue
		}
		kept = append(kept, p)
		r.Grants = append(r.Grants, g)
	}
	r.Permissions = kept
}

// normalize merges permissions by canonical resource (OR of actions) and sorts
// them by resource. Invalid permissions are dropped.
func normalize(ps []perm.Permission) []perm.Permission {
	byRes := make(map[string]perm.Action, len(ps))
	for _, p := range ps {
		vp, err := perm.ValidatePermission(p)
		if err != nil {
			continue
		}
		byRes[vp.Resource] |= vp.Action
	}
	out := make([]perm.Permission, 0, len(byRes))
	for res, act := range byRes {
		out = append(out, perm.Permission{Resource: res, Action: act})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// AddPermissions returns ps merged into have (actions OR-ed by resource).
func AddPermissions(have, add []perm.Permission) []perm.Permission {
	return normalize(append(append([]perm.Permission(nil), have...), add...))
}

// RemovePermissions returns have without rm: an rm entry with action 0
// removes its resource, otherwise it clears those action bits (dropping the
// resource when none is left).
func RemovePermissions(have, rm []perm.Permission) []perm.Permission {
	drop := make(map[string]perm.Action, len(rm))
	for _, p := range rm {
		res, err := perm.CanonicalTag(p.Resource)
		if err != nil {
			continue
		}
		if p.Action == 0 {
			drop[res] = perm.CRUD
		} else {
			drop[res] |= p.Action
		}
	}
	out := make([]perm.Permission, 0, len(have))
	for _, p := range have {
		if c, ok := drop[p.Resource]; ok {
			p.Action &^= c
			if p.Action == 0 {
				continue
			}
		}
		out = append(out, p)
	}
	return normalize(out)
}
