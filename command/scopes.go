package command

import (
	"context"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// DefineScope is the input of Service.DefineScope.
type DefineScope struct {
	Description string            `json:"description"`
	Permissions []perm.Permission `json:"permissions"`
	Includes    []string          `json:"includes,omitempty"`
}

func identByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func validScopeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !identByte(c) && c != ':' {
			return false
		}
	}
	return true
}

// DefineScope creates or replaces a named permission bundle. Scopes grant
// nothing by themselves: a token issued with one is checked then.
func (s *Service) DefineScope(ctx context.Context, m Meta, name string, in DefineScope) (uint64, error) {
	if !validScopeName(name) {
		return 0, errorf(ErrInvalid, "invalidScope", "scope name %q: use 1-64 letters, digits, '_', '-' or ':'", name)
	}
	if err := s.authorize(ctx, &m, auth.PermScopes, perm.Create|perm.Update, ""); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	if err := validDescription(in.Description); err != nil {
		return 0, err
	}
	if len(in.Permissions) > MaxPermissionsPerCmd {
		return 0, errorf(ErrInvalid, "tooManyPermissions", "%d permissions; the limit is %d", len(in.Permissions), MaxPermissionsPerCmd)
	}
	ps := make([]perm.Permission, 0, len(in.Permissions))
	for i, p := range in.Permissions {
		vp, err := perm.ValidateTemplate(p)
		if err != nil {
			return 0, errorf(ErrInvalid, "invalidPermission", "permissions[%d]: %v", i, err)
		}
		ps = append(ps, vp)
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("DefineScope", name, in.Description, ps, in.Includes), func(v index.View) (decision, error) {
		for _, inc := range in.Includes {
			if inc == name {
				return decision{}, errorf(ErrInvalid, "invalidScope", "scope %s cannot include itself", name)
			}
			if v.Scope(inc) == nil {
				return decision{}, errorf(ErrInvalid, "unknownScope", "included scope %q does not exist; define it first", inc)
			}
			// No cycles: the included scope must not reach this one.
			reach, _ := expandScopeNames(v, inc)
			if reach[name] {
				return decision{}, errorf(ErrInvalid, "invalidScope", "including %s would make a cycle back to %s", inc, name)
			}
		}
		return decision{kind: events.KindScope, aggregateID: name, payload: events.ScopeDefined{
			Name: name, Description: in.Description, Permissions: index.ToEvent(ps), Includes: in.Includes,
		}}, nil
	})
}

func expandScopeNames(v index.View, name string) (map[string]bool, error) {
	seen := map[string]bool{}
	var walk func(n string)
	walk = func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		if sc := v.Scope(n); sc != nil {
			for _, inc := range sc.Includes {
				walk(inc)
			}
		}
	}
	walk(name)
	return seen, nil
}

// DeleteScope deletes a scope (tokens issued with it keep their permissions).
func (s *Service) DeleteScope(ctx context.Context, m Meta, name string) (uint64, error) {
	if err := s.authorize(ctx, &m, auth.PermScopes, perm.Delete, ""); err != nil {
		return 0, err
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("DeleteScope", name), func(v index.View) (decision, error) {
		if v.Scope(name) == nil {
			return decision{}, errorf(ErrNotFound, "scopeNotFound", "scope %q does not exist", name)
		}
		return decision{kind: events.KindScope, aggregateID: name, payload: events.ScopeDeleted{Name: name}}, nil
	})
}
