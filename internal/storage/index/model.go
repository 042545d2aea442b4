package index

import (
	"math"
	"sort"
	"time"

	"github.com/grantlog/grantlog/events"
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
	// Grants are the compiled Permissions, index for index; Set indexes them
	// for checks.
	Grants    []perm.Grant
	Set       *perm.GrantSet
	CreatedAt time.Time
	UpdatedAt time.Time
	// Revision is the revision of the role's last change.
	Revision uint64
	// num numbers the role in its index's assignment records (users.go).
	num uint32
}

// Assignment is role RoleID() given to UserID, made within Namespace.
//
// The index does not hold Assignments: it holds each user's assignments
// encoded in one string (users.go) and decodes them into Assignments for
// readers (View.Assignments, View.UserAssignments). Strings are shared
// (UserID with the index's key of the user, namespace names with the
// index's table of names). Never modify AssignedNamespaces.
type Assignment struct {
	Namespace          string
	UserID             string
	AssignedNamespaces []string
	Revision           uint64
	assignedAt         int64 // packTime
	role               *Role
	win                window // zero: unbounded, as most are
}

// RoleID returns the id of the assigned role.
func (a *Assignment) RoleID() string { return a.role.ID }

// window bounds when an assignment is in force (a zero time: no bound).
type window struct{ notBefore, notAfter time.Time }

// NotBefore returns when the assignment comes into force (zero: unbounded).
func (a *Assignment) NotBefore() time.Time { return a.win.notBefore }

// NotAfter returns when the assignment ends, exclusive (zero: unbounded).
func (a *Assignment) NotAfter() time.Time { return a.win.notAfter }

// AssignedAt returns when the assignment was made (UTC).
func (a *Assignment) AssignedAt() time.Time { return unpackTime(a.assignedAt) }

// InForce reports whether the assignment applies at now.
func (a *Assignment) InForce(now time.Time) bool {
	w := &a.win
	return (w.notBefore.IsZero() || !now.Before(w.notBefore)) && (w.notAfter.IsZero() || now.Before(w.notAfter))
}

// Bounded reports whether the assignment has a validity window at all
// (most do not, and checks skip the time comparisons for them).
func (a *Assignment) Bounded() bool { return !a.win.notBefore.IsZero() || !a.win.notAfter.IsZero() }

// Role returns the assigned role.
func (a *Assignment) Role() *Role { return a.role }

// noTime is packTime of the zero time.
const noTime = math.MinInt64

// packTime returns t as Unix nanoseconds, clamped to the years 1678-2262
// that fit (assignment times are when commands were accepted); noTime for
// the zero time.
func packTime(t time.Time) int64 {
	switch {
	case t.IsZero():
		return noTime
	case t.Before(minPacked):
		return minPacked.UnixNano()
	case t.After(maxPacked):
		return maxPacked.UnixNano()
	}
	return t.UnixNano()
}

var (
	minPacked = time.Unix(0, math.MinInt64+1)
	maxPacked = time.Unix(0, math.MaxInt64)
)

func unpackTime(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// NamespaceInfo is what the index knows of a namespace.
type NamespaceInfo struct {
	Name         string   `json:"namespace"`
	Explicit     bool     `json:"explicit"`
	Parent       string   `json:"parent,omitempty"`
	DefaultRoles []string `json:"defaultRoles,omitempty"`
	// LastRevision is the revision of the namespace's last event: the value
	// a command appending to the namespace expects.
	LastRevision uint64 `json:"lastRevision"`
	// LastHash is the hex SHA-256 of the raw bytes of the namespace's last
	// accepted event (that event, unless the projector refused it): the
	// PrevHash the namespace's next event carries (the audit hash chain).
	LastHash string `json:"lastHash,omitempty"`
	// Chained says LastHash was recorded by a binary that keeps the chain
	// ("" then means the namespace has no accepted event); false in
	// indexes written before, whose LastHash may be missing.
	Chained bool `json:"chained,omitempty"`
}

// Member is one holder of a role. It is the public events.RoleMember, so
// that the read and audit APIs (query.Engine.RoleMembers, audit.Effect)
// can return members without exposing this package.
type Member = events.RoleMember

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
	AssignedNamespaces []string   `json:"assignedNamespaces"`
	NotBefore          *time.Time `json:"notBefore,omitempty"`
	NotAfter           *time.Time `json:"notAfter,omitempty"`
	AssignedAt         time.Time  `json:"assignedAt"`
	Revision           uint64     `json:"revision"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromOpt(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
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

// setPermissions stores ps (canonicalised, merged, sorted) and compiles them.
func (r *Role) setPermissions(ps []perm.Permission) {
	r.Permissions, r.Grants = compileAll(normalize(ps))
	r.Set = perm.NewGrantSet(r.Grants)
}

// normalize merges permissions that differ only in their actions (OR of
// actions; for plain permissions, those with the same canonical resource)
// and sorts them by resource. Invalid permissions are dropped.
func normalize(ps []perm.Permission) []perm.Permission {
	byKey := make(map[string]int, len(ps))
	out := make([]perm.Permission, 0, len(ps))
	for _, p := range ps {
		vp, err := perm.ValidatePermission(p)
		if err != nil {
			continue
		}
		k := vp.Key()
		if i, ok := byKey[k]; ok {
			out[i].Action |= vp.Action
			out[i].SchedAction |= vp.SchedAction
			continue
		}
		byKey[k] = len(out)
		out = append(out, vp)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// AddPermissions returns ps merged into have (actions OR-ed by resource).
func AddPermissions(have, add []perm.Permission) []perm.Permission {
	return normalize(append(append([]perm.Permission(nil), have...), add...))
}

// RemovePermissions returns have without rm: an rm entry with action 0
// removes its resource (every permission on it), otherwise it clears those
// action bits (dropping a permission when none is left).
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
