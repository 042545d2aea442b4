package refmodel

import (
	"regexp"
	"sort"
	"strings"
)

// Role is a role in the model.
type Role struct {
	ID       string
	Name     string
	Wildcard bool
	// Perms maps canonical resource → action bits.
	Perms map[string]uint8
}

// Assignment is a role given to a user within a namespace.
type Assignment struct {
	Namespace, UserID, RoleID string
	Namespaces                []string
}

// Model holds roles and assignments.
type Model struct {
	Roles   map[string]*Role
	Assigns map[[3]string]*Assignment // {ns, user, role}
}

// New returns an empty model.
func New() *Model {
	return &Model{Roles: map[string]*Role{}, Assigns: map[[3]string]*Assignment{}}
}

var (
	nsPH   = regexp.MustCompile(`(?i)\{namespace\}`)
	userPH = regexp.MustCompile(`(?i)\{userid\}`)
)

// Canonical normalises placeholder spelling.
func Canonical(res string) string {
	return userPH.ReplaceAllString(nsPH.ReplaceAllString(res, "{namespace}"), "{userId}")
}

// RoleByName finds a role by case-insensitive name.
func (m *Model) RoleByName(name string) *Role {
	for _, r := range m.Roles {
		if strings.EqualFold(r.Name, name) {
			return r
		}
	}
	return nil
}

// AddPerms ORs perms into the role.
func (r *Role) AddPerms(res []string, acts []uint8) {
	for i := range res {
		r.Perms[Canonical(res[i])] |= acts[i]
	}
}

// RemovePerms clears action bits (0: the whole resource).
func (r *Role) RemovePerms(res []string, acts []uint8) {
	for i := range res {
		c := Canonical(res[i])
		if acts[i] == 0 {
			delete(r.Perms, c)
			continue
		}
		r.Perms[c] &^= acts[i]
		if r.Perms[c] == 0 {
			delete(r.Perms, c)
		}
	}
}

// DeleteRole deletes a role and its assignments.
func (m *Model) DeleteRole(id string) {
	delete(m.Roles, id)
	for k := range m.Assigns {
		if k[2] == id {
			delete(m.Assigns, k)
		}
	}
}

// Assign records an assignment (replacing one of the same key).
func (m *Model) Assign(ns, user, role string, namespaces []string) {
	nss := append([]string(nil), namespaces...)
	sort.Strings(nss)
	m.Assigns[[3]string{ns, user, role}] = &Assignment{Namespace: ns, UserID: user, RoleID: role, Namespaces: nss}
}

// Unassign removes an assignment, reporting whether it existed.
func (m *Model) Unassign(ns, user, role string) bool {
	k := [3]string{ns, user, role}
	_, ok := m.Assigns[k]
	delete(m.Assigns, k)
	return ok
}

// Check answers whether user, signed into ctxNS, may do action on resource.
func (m *Model) Check(user, ctxNS, resource string, action uint8) bool {
	req := strings.ReplaceAll(strings.ReplaceAll(Canonical(resource), "{namespace}", ctxNS), "{userId}", user)
	for _, a := range m.Assigns {
		if a.UserID != user {
			continue
		}
		r := m.Roles[a.RoleID]
		if r == nil {
			continue
		}
		nss := a.Namespaces
		if r.Wildcard {
			nss = []string{ctxNS}
		}
		for res, act := range r.Perms {
			if act&action != action {
				continue
			}
			for _, ns := range nss {
				g := strings.ReplaceAll(strings.ReplaceAll(res, "{namespace}", ns), "{userId}", user)
				if ResourceAllowed(g, req) {
					return true
				}
			}
		}
	}
	return false
}

// ResourceAllowed is AccelByte's matching of a granted tag against a
// required one, both already bound.
func ResourceAllowed(granted, required string) bool {
	g := strings.Split(granted, ":")
	r := strings.Split(required, ":")
	n := min(len(g), len(r))
	for i := 0; i < n; i++ {
		if g[i] == r[i] || g[i] == "*" {
			continue
		}
		if strings.HasSuffix(g[i], "-") && i > 0 && g[i-1] == "NAMESPACE" && strings.HasPrefix(r[i], g[i]) {
			continue
		}
		return false
	}
	switch {
	case len(g) == len(r):
		return true
	case len(g) < len(r):
		if g[len(g)-1] != "*" {
			return false
		}
		if len(g) < 2 {
			return true
		}
		return g[len(g)-2] != "NAMESPACE" && g[len(g)-2] != "USER"
	default:
		for _, s := range g[len(r):] {
			if s != "*" {
				return false
			}
		}
		return true
	}
}
