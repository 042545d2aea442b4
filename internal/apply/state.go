package apply

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/grantlog/grantlog/client"
)

// State is what a server holds, read through the SDK.
type State struct {
	// Set is the state in the documents' format (sorted): what export
	// writes.
	Set Set
	// RoleIDs maps role names to ids.
	RoleIDs map[string]string
	// Members are the (namespace, user) pairs assigned each role (by
	// name), sorted.
	Members map[string][]Member
	// Implicit are namespaces that exist without having been created.
	Implicit map[string]bool
	// Revision is the highest revision the reads answered at.
	Revision uint64
}

// Member is a user assigned a role within a namespace.
type Member struct {
	Namespace string `json:"namespace"`
	UserID    string `json:"userId"`
}

type page[T any] struct {
	Data   []T `json:"data"`
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
	Revision uint64 `json:"revision"`
}

// all reads every page of a list operation.
func all[T any](ctx context.Context, cl *client.Client, op string, fields map[string]any, rev *uint64) ([]T, error) {
	var out []T
	after := ""
	for {
		f := map[string]any{}
		for k, v := range fields {
			f[k] = v
		}
		if after != "" {
			f["after"] = after
		}
		var p page[T]
		if err := cl.Do(ctx, op, f, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Data...)
		*rev = max(*rev, p.Revision)
		if p.Paging.Next == "" || p.Paging.Next == after {
			return out, nil
		}
		after = p.Paging.Next
	}
}

func permsOf(ps []client.Permission) []Permission {
	out := make([]Permission, 0, len(ps))
	for _, p := range ps {
		out = append(out, Permission{Resource: p.Resource, Action: Action(p.Action)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

type scopeJSON struct {
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Permissions []client.Permission `json:"permissions"`
	Includes    []string            `json:"includes"`
}

type endpointJSON struct {
	Service  string `json:"service"`
	Name     string `json:"name"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Resource string `json:"resource"`
	Action   int    `json:"action"`
}

type namespaceJSON struct {
	Namespace    string   `json:"namespace"`
	Explicit     bool     `json:"explicit"`
	Parent       string   `json:"parent"`
	DefaultRoles []string `json:"defaultRoles"`
}

type userRoleJSON struct {
	RoleID             string     `json:"roleId"`
	RoleName           string     `json:"roleName"`
	AssignedNamespaces []string   `json:"assignedNamespaces"`
	NotBefore          *time.Time `json:"notBefore"`
	NotAfter           *time.Time `json:"notAfter"`
}

// Read reads the server's state: every role, explicit namespace, scope,
// endpoint and assignment (through each role's members, then each member's
// roles). The caller needs the rights to read them all.
func Read(ctx context.Context, cl *client.Client) (*State, error) {
	st := &State{RoleIDs: map[string]string{}, Members: map[string][]Member{}, Implicit: map[string]bool{}}
	roles, err := all[client.Role](ctx, cl, "role.list", map[string]any{"limit": 1000}, &st.Revision)
	if err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	names := map[string]string{} // id -> name
	for i := range roles {
		r := &roles[i]
		st.RoleIDs[r.RoleName] = r.RoleID
		names[r.RoleID] = r.RoleName
		st.Set.Roles = append(st.Set.Roles, Role{Name: r.RoleName, AdminRole: r.AdminRole, IsWildcard: r.IsWildcard,
			Description: r.Description, Permissions: permsOf(r.Permissions)})
	}
	sort.Slice(st.Set.Roles, func(i, j int) bool { return st.Set.Roles[i].Name < st.Set.Roles[j].Name })

	nss, err := all[namespaceJSON](ctx, cl, "namespace.list", nil, &st.Revision)
	if err != nil {
		return nil, fmt.Errorf("read namespaces: %w", err)
	}
	for _, n := range nss {
		if !n.Explicit {
			st.Implicit[n.Namespace] = true
			continue
		}
		drs := []string{}
		for _, id := range n.DefaultRoles {
			if name, ok := names[id]; ok {
				drs = append(drs, name)
			}
		}
		slices.Sort(drs)
		st.Set.Namespaces = append(st.Set.Namespaces, Namespace{Name: n.Namespace, Parent: n.Parent, DefaultRoles: &drs})
	}
	sort.Slice(st.Set.Namespaces, func(i, j int) bool { return st.Set.Namespaces[i].Name < st.Set.Namespaces[j].Name })

	scopes, err := all[scopeJSON](ctx, cl, "scope.list", nil, &st.Revision)
	if err != nil {
		return nil, fmt.Errorf("read scopes: %w", err)
	}
	for _, s := range scopes {
		st.Set.Scopes = append(st.Set.Scopes, Scope{Name: s.Name, Description: s.Description,
			Permissions: permsOf(s.Permissions), Includes: nilIfEmpty(sortedCopy(s.Includes))})
	}
	sort.Slice(st.Set.Scopes, func(i, j int) bool { return st.Set.Scopes[i].Name < st.Set.Scopes[j].Name })

	eps, err := all[endpointJSON](ctx, cl, "endpoint.list", nil, &st.Revision)
	if err != nil {
		return nil, fmt.Errorf("read endpoints: %w", err)
	}
	for _, e := range eps {
		st.Set.Endpoints = append(st.Set.Endpoints, Endpoint{Service: e.Service, Name: e.Name, Method: e.Method, Path: e.Path,
			Resource: e.Resource, Action: Action(e.Action)})
	}
	sort.Slice(st.Set.Endpoints, func(i, j int) bool {
		return endpointKey(st.Set.Endpoints[i]) < endpointKey(st.Set.Endpoints[j])
	})

	// Assignments: the members of every role, then each member's roles
	// (assignedNamespaces and window).
	users := map[Member]bool{}
	for i := range roles {
		r := &roles[i]
		ms, err := all[Member](ctx, cl, "role.members", map[string]any{"roleId": r.RoleID, "limit": 1000}, &st.Revision)
		if err != nil {
			return nil, fmt.Errorf("read members of role %s: %w", r.RoleName, err)
		}
		sort.Slice(ms, func(i, j int) bool { return memberLess(ms[i], ms[j]) })
		st.Members[r.RoleName] = ms
		for _, m := range ms {
			users[m] = true
		}
	}
	for m := range users {
		urs, err := all[userRoleJSON](ctx, cl, "user.roles", map[string]any{"namespace": m.Namespace, "userId": m.UserID}, &st.Revision)
		if err != nil {
			return nil, fmt.Errorf("read roles of user %s in %s: %w", m.UserID, m.Namespace, err)
		}
		for _, ur := range urs {
			st.Set.Assignments = append(st.Set.Assignments, Assignment{Namespace: m.Namespace, User: m.UserID, Role: ur.RoleName,
				AssignedNamespaces: nilIfEmpty(sortedCopy(ur.AssignedNamespaces)), NotBefore: utc(ur.NotBefore), NotAfter: utc(ur.NotAfter)})
		}
	}
	sort.Slice(st.Set.Assignments, func(i, j int) bool {
		return assignmentKey(st.Set.Assignments[i]) < assignmentKey(st.Set.Assignments[j])
	})
	return st, nil
}

func memberLess(a, b Member) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.UserID < b.UserID
}

func nilIfEmpty(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	return ss
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func endpointKey(e Endpoint) string     { return e.Service + "/" + e.Name }
func assignmentKey(a Assignment) string { return a.Namespace + "/" + a.User + "/" + a.Role }
