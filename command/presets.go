package command

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/perm"
)

// PresetRole is the result of one role of ApplyPreset.
type PresetRole struct {
	RoleID   string `json:"roleId"`
	RoleName string `json:"roleName"`
	// Created is false when a role of that name already existed (it is left as it is).
	Created  bool   `json:"created"`
	Revision uint64 `json:"revision,omitempty"`
}

// PresetApplied is the answer of ApplyPreset.
type PresetApplied struct {
	Preset string       `json:"preset"`
	Roles  []PresetRole `json:"roles"`
}

// ApplyPreset creates the roles of the named role preset (see
// ListPresets) that do not exist yet, by name; existing roles are left
// untouched, so applying twice is harmless. Each role is a command of its
// own (m.CommandID is not used); m.Reason defaults to "preset <name>".
func (s *Service) ApplyPreset(ctx context.Context, m Meta, name string) (PresetApplied, error) {
	p, ok, err := catalogs.PresetByName(name)
	if err != nil {
		return PresetApplied{}, fmt.Errorf("command: presets: %w", err)
	}
	if !ok {
		return PresetApplied{}, errorf(ErrNotFound, "presetNotFound", "no preset %q; list them with GET /v1/presets", name)
	}
	if m.Reason == "" {
		m.Reason = "preset " + p.Name
	}
	roles, err := s.createRoles(ctx, m, presetRoles(p))
	return PresetApplied{Preset: p.Name, Roles: roles}, err
}

// PresetInfo names a preset and its roles.
type PresetInfo struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// ListPresets lists the role presets ApplyPreset knows.
func ListPresets() ([]PresetInfo, error) {
	ps, err := catalogs.Presets()
	if err != nil {
		return nil, fmt.Errorf("command: presets: %w", err)
	}
	out := make([]PresetInfo, 0, len(ps))
	for _, p := range ps {
		info := PresetInfo{Name: p.Name, Roles: []string{}}
		for _, r := range p.Roles {
			info.Roles = append(info.Roles, r.RoleName)
		}
		out = append(out, info)
	}
	return out, nil
}

// presetRoles is the one conversion of a preset's roles into commands.
func presetRoles(p catalogs.Preset) []CreateRole {
	roles := make([]CreateRole, 0, len(p.Roles))
	for _, r := range p.Roles {
		roles = append(roles, CreateRole{RoleName: r.RoleName, AdminRole: r.AdminRole,
			IsWildcard: r.IsWildcard, Description: r.Description, Permissions: r.Permissions})
	}
	return roles
}

// createRoles creates the roles that do not exist yet (by name).
func (s *Service) createRoles(ctx context.Context, m Meta, roles []CreateRole) ([]PresetRole, error) {
	out := make([]PresetRole, 0, len(roles))
	for _, r := range roles {
		rm := m
		rm.CommandID = "" // one command per role
		ev, rev, err := s.CreateRole(ctx, rm, r)
		var ce *Error
		switch {
		case err == nil:
			out = append(out, PresetRole{RoleID: ev.RoleID, RoleName: ev.RoleName, Created: true, Revision: rev})
		case errors.As(err, &ce) && ce.Code == "duplicateRoleName":
			v := s.state.Acquire()
			existing := v.RoleByName(r.RoleName)
			id := ""
			if existing != nil {
				id = existing.ID
			}
			v.Release()
			out = append(out, PresetRole{RoleID: id, RoleName: r.RoleName})
		default:
			return out, err
		}
	}
	return out, nil
}

// ScopesLoaded is the answer of LoadScopeCatalog.
type ScopesLoaded struct {
	Catalog  string `json:"catalog"`
	Scopes   int    `json:"scopes"`
	Revision uint64 `json:"revision"`
}

// LoadScopeCatalog defines every scope of the named scope catalog
// ("hathora", "vastai"), included scopes before the scopes that include
// them. Each scope is a command of its own; m.Reason defaults to
// "catalog <name>".
func (s *Service) LoadScopeCatalog(ctx context.Context, m Meta, name string) (ScopesLoaded, error) {
	scopes, err := catalogs.Scopes(name)
	if err != nil {
		return ScopesLoaded{}, errorf(ErrNotFound, "catalogNotFound", "no scope catalog %q (try hathora or vastai)", name)
	}
	if m.Reason == "" {
		m.Reason = "catalog " + name
	}
	m.CommandID = "" // one command per scope
	out := ScopesLoaded{Catalog: name, Scopes: len(scopes)}
	done := make(map[string]bool, len(scopes))
	for len(done) < len(scopes) {
		progress := false
		for _, sc := range scopes {
			if done[sc.Name] || !allDone(sc.Includes, done) {
				continue
			}
			rev, err := s.DefineScope(ctx, m, sc.Name,
				DefineScope{Description: sc.Description, Permissions: sc.Permissions, Includes: sc.Includes})
			if err != nil {
				return out, err
			}
			out.Revision, done[sc.Name], progress = rev, true, true
		}
		if !progress {
			return out, fmt.Errorf("command: scope catalog %s: its includes form a cycle or name a scope it lacks", name)
		}
	}
	return out, nil
}

func allDone(names []string, done map[string]bool) bool {
	for _, n := range names {
		if !done[n] {
			return false
		}
	}
	return true
}

// EndpointsLoaded is the answer of LoadEndpointCatalog.
type EndpointsLoaded struct {
	Catalog   string `json:"catalog"`
	Endpoints int    `json:"endpoints"`
	Revision  uint64 `json:"revision"`
}

// LoadEndpointCatalog registers every endpoint of the named endpoint
// catalog ("accelbyte": AccelByte's whole published catalog, "hathora").
// The endpoints not already registered exactly so are registered in
// events of up to MaxEndpointBatch endpoints each (RegisterEndpoints): the
// 1,840 of accelbyte in 4 events, where one event per endpoint took
// seconds with fsync on every write. Each event is all or nothing; a load
// interrupted between two resumes where it stopped when run again, and a
// second load appends nothing. The whole catalog is validated, and the
// caller authorized, before the first event. m.Reason defaults to
// "catalog <name>".
func (s *Service) LoadEndpointCatalog(ctx context.Context, m Meta, name string) (EndpointsLoaded, error) {
	eps, err := catalogs.Endpoints(name)
	if err != nil {
		return EndpointsLoaded{}, errorf(ErrNotFound, "catalogNotFound", "no endpoint catalog %q (try accelbyte or hathora)", name)
	}
	if err := s.authorize(ctx, &m, auth.PermEndpoints, perm.Create|perm.Update, ""); err != nil {
		return EndpointsLoaded{}, err
	}
	if m.Reason == "" {
		m.Reason = "catalog " + name
	}
	m.CommandID = "" // one command per batch
	out := EndpointsLoaded{Catalog: name, Endpoints: len(eps)}
	todo := make([]CatalogEndpoint, 0, len(eps))
	v := s.state.Acquire()
	for _, e := range eps {
		in := RegisterEndpoint{Method: e.Method, Path: e.Path, Resource: e.Resource, Action: e.Action}
		want, err := ValidateEndpoint(in)
		if err != nil {
			v.Release()
			return out, fmt.Errorf("command: endpoint catalog %s: %s/%s: %w", name, e.Service, e.Name, err)
		}
		if have := v.Endpoint(e.Service, e.Name); have != nil && strings.EqualFold(have.Method, e.Method) &&
			have.Path == e.Path && have.Resource == want.Resource && have.Action == want.Action {
			out.Revision = max(out.Revision, have.Revision)
			continue
		}
		todo = append(todo, CatalogEndpoint{Service: e.Service, Name: e.Name, RegisterEndpoint: in})
	}
	v.Release()
	for len(todo) > 0 {
		n := min(len(todo), MaxEndpointBatch)
		rev, err := s.RegisterEndpoints(ctx, m, todo[:n])
		if err != nil {
			return out, err
		}
		out.Revision, todo = rev, todo[n:]
	}
	return out, nil
}
