package command

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Secret prefixes.
const (
	ClientSecretPrefix = "glc_"
	TokenPrefix        = "gltk_"
)

func newSecret(prefix string) (secret, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(h[:])
}

func invalidNamespace(field, ns string) error {
	return errorf(ErrInvalid, "invalidNamespace",
		"%s %q is not valid: use 1-64 letters, digits, '-' or '_', starting with a letter or digit", field, ns)
}

// CreateNamespace is the input of Service.CreateNamespace.
type CreateNamespace struct {
	Namespace string `json:"namespace"`
	// Parent is the studio namespace whose grants cover this one.
	Parent string `json:"parent,omitempty"`
	// DefaultRoles are role ids every user of the namespace holds with no
	// assignment of their own. Nil means the default "User" role (when it
	// exists); an empty list means none.
	DefaultRoles *[]string `json:"defaultRoles,omitempty"`
}

// DefaultUserRole names the role that is the default role of every
// explicitly created namespace unless told otherwise.
const DefaultUserRole = "User"

// CreateNamespace creates a namespace explicitly with its parent studio and
// default roles. It needs ADMIN:NAMESPACE Create; for a namespace that
// already exists implicitly (it has events, or something names it: see
// index.View.NamespaceReferenced) also
// ADMIN:NAMESPACE:{namespace}:NAMESPACE Update there, and for a parent the
// same in the parent.
func (s *Service) CreateNamespace(ctx context.Context, m Meta, in CreateNamespace) (events.NamespaceCreated, uint64, error) {
	if !events.ValidNamespace(in.Namespace) {
		return events.NamespaceCreated{}, 0, invalidNamespace("namespace", in.Namespace)
	}
	if in.Parent != "" && (!events.ValidNamespace(in.Parent) || in.Parent == in.Namespace) {
		return events.NamespaceCreated{}, 0, invalidNamespace("parent", in.Parent)
	}
	if err := s.authorize(ctx, &m, auth.PermNamespaces, perm.Create, in.Namespace); err != nil {
		return events.NamespaceCreated{}, 0, err
	}
	if err := validateMeta(&m); err != nil {
		return events.NamespaceCreated{}, 0, err
	}
	var ev events.NamespaceCreated
	rev, err := s.execute(ctx, in.Namespace, &m, req("CreateNamespace", in), func(v index.View) (decision, error) {
		if info, ok := v.Namespace(in.Namespace); ok && info.Explicit {
			return decision{}, errorf(ErrConflict, "namespaceExists", "namespace %s already exists", in.Namespace)
		}
		// Events of its own, or named by anything else: an assignment's
		// assignedNamespaces, a parent, a literal namespace in a permission.
		existed := v.NamespaceReferenced(in.Namespace)
		ev = events.NamespaceCreated{Namespace: in.Namespace, Parent: in.Parent, DefaultRoles: []string{}}
		var grants []roleGrant
		if in.DefaultRoles == nil {
			if r := v.RoleByName(DefaultUserRole); r != nil {
				ev.DefaultRoles = []string{r.ID}
			}
		} else {
			for _, id := range *in.DefaultRoles {
				r := v.Role(id)
				if r == nil {
					return decision{}, roleNotFound(id)
				}
				ev.DefaultRoles = append(ev.DefaultRoles, id)
				grants = append(grants, grantOf(r))
			}
		}
		return decision{kind: events.KindNamespace, aggregateID: in.Namespace, payload: ev, check: func() error {
			// A namespace that already exists implicitly (it has events:
			// assignments, clients, tokens; or others name it) has owners:
			// making it explicit sets its parent and default roles, which
			// needs rights in it, not only ADMIN:NAMESPACE Create.
			if existed {
				if err := s.authorize(ctx, &m, auth.PermNamespace(in.Namespace), perm.Update, in.Namespace); err != nil {
					return err
				}
			}
			// A parent studio's grants cover the namespace: attaching it
			// to a studio needs rights in the studio.
			if in.Parent != "" {
				if err := s.authorize(ctx, &m, auth.PermNamespace(in.Parent), perm.Update, in.Parent); err != nil {
					return err
				}
			}
			// Default roles apply to every user of the namespace.
			for _, g := range grants {
				if err := s.holds(ctx, &m, in.Namespace, g.perms, unbound, "default role "+g.name); err != nil {
					return err
				}
			}
			return nil
		}}, nil
	})
	return ev, rev, err
}

// DeleteNamespace deletes a namespace: it ends its assignments, clients and
// tokens.
func (s *Service) DeleteNamespace(ctx context.Context, m Meta, ns string) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	if err := s.authorize(ctx, &m, auth.PermNamespace(ns), perm.Delete, ns); err != nil {
		return 0, err
	}
	return s.execute(ctx, ns, &m, req("DeleteNamespace"), func(v index.View) (decision, error) {
		if _, ok := v.Namespace(ns); !ok {
			return decision{}, errorf(ErrNotFound, "namespaceNotFound", "namespace %s does not exist", ns)
		}
		return decision{kind: events.KindNamespace, aggregateID: ns, payload: events.NamespaceDeleted{Namespace: ns}}, nil
	})
}

// CreateClient is the input of Service.CreateClient.
type CreateClient struct {
	ClientName  string            `json:"clientName"`
	Permissions []perm.Permission `json:"permissions"`
	Roles       []string          `json:"roles,omitempty"`
}

// ClientCreated is what CreateClient returns: the secret is shown once.
type ClientCreated struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Revision     uint64 `json:"revision"`
}

func validateName(field, name string, maxLen int) error {
	if name == "" || len(name) > maxLen {
		return errorf(ErrInvalid, "invalidName", "%s must be 1-%d bytes", field, maxLen)
	}
	return validText("invalidName", field, name, maxLen, false)
}

// clientRoles copies the grants of role ids out of the view.
func clientRoles(v index.View, roles []string) ([]roleGrant, error) {
	out := make([]roleGrant, 0, len(roles))
	for _, rid := range roles {
		r := v.Role(rid)
		if r == nil {
			return nil, roleNotFound(rid)
		}
		out = append(out, grantOf(r))
	}
	return out, nil
}

// clientGrantsCheck requires the caller to hold what a client of ns with
// id would get from perms and roles.
func (s *Service) clientGrantsCheck(ctx context.Context, m *Meta, ns, id string, perms []perm.Permission, roles []roleGrant) error {
	if err := s.holds(ctx, m, ns, perms, perm.RequiredBinding{Namespace: ns, UserID: id}, "client "+id); err != nil {
		return err
	}
	for _, r := range roles {
		if err := s.holdsRole(ctx, m, r, []string{ns}, id); err != nil {
			return err
		}
	}
	return nil
}

// CreateClient creates an IAM client in namespace ns. Its secret is in the
// answer only; the event and the index keep a hash.
func (s *Service) CreateClient(ctx context.Context, m Meta, ns string, in CreateClient) (ClientCreated, error) {
	if !events.ValidNamespace(ns) {
		return ClientCreated{}, invalidNamespace("namespace", ns)
	}
	if err := s.authorize(ctx, &m, auth.PermClient(ns), perm.Create, ns); err != nil {
		return ClientCreated{}, err
	}
	if err := validateMeta(&m); err != nil {
		return ClientCreated{}, err
	}
	if err := validateName("clientName", in.ClientName, 128); err != nil {
		return ClientCreated{}, err
	}
	eps, err := validatePermissions(in.Permissions, false)
	if err != nil {
		return ClientCreated{}, err
	}
	id := uuid.NewString()
	secret, hash := newSecret(ClientSecretPrefix)
	roles := slices.Compact(slices.Sorted(slices.Values(in.Roles)))
	rev, err := s.execute(ctx, ns, &m, req("CreateClient", in.ClientName, eps, roles), func(v index.View) (decision, error) {
		grants, err := clientRoles(v, roles)
		if err != nil {
			return decision{}, err
		}
		return decision{kind: events.KindClient, aggregateID: id, payload: events.ClientCreated{
			ClientID: id, ClientName: in.ClientName, SecretHash: hash, Permissions: eps, Roles: roles,
		}, check: func() error {
			return s.clientGrantsCheck(ctx, &m, ns, id, index.FromEvent(eps), grants)
		}}, nil
	})
	if err != nil {
		return ClientCreated{}, err
	}
	return ClientCreated{ClientID: id, ClientSecret: secret, Revision: rev}, nil
}

// UpdateClient is the input of Service.UpdateClient; nil fields stay.
type UpdateClient struct {
	ClientName *string   `json:"clientName"`
	Roles      *[]string `json:"roles"`
}

func clientNotFound(ns, id string) error {
	return errorf(ErrNotFound, "clientNotFound", "namespace %s has no client %q", ns, id)
}

// UpdateClient renames a client or replaces its roles.
func (s *Service) UpdateClient(ctx context.Context, m Meta, ns, id string, in UpdateClient) (uint64, error) {
	if in.ClientName == nil && in.Roles == nil {
		return 0, errorf(ErrInvalid, "emptyUpdate", "nothing to update: give clientName or roles")
	}
	if in.ClientName != nil {
		if err := validateName("clientName", *in.ClientName, 128); err != nil {
			return 0, err
		}
	}
	return s.changeClient(ctx, m, ns, id, req("UpdateClient", id, in), func(v index.View, c *index.Client, ev *events.ClientUpdated) (func() error, error) {
		if in.ClientName != nil {
			ev.ClientName = *in.ClientName
		}
		if in.Roles == nil {
			return nil, nil
		}
		ev.Roles = slices.Compact(slices.Sorted(slices.Values(*in.Roles)))
		grants, err := clientRoles(v, ev.Roles)
		if err != nil {
			return nil, err
		}
		return func() error { return s.clientGrantsCheck(ctx, &m, ns, id, nil, grants) }, nil
	})
}

// ChangeClientPermissions adds, removes or replaces a client's permissions.
func (s *Service) ChangeClientPermissions(ctx context.Context, m Meta, ns, id string, op PermissionOp, ps []perm.Permission) (uint64, error) {
	eps, err := validatePermissions(ps, op == RemovePermissions)
	if err != nil {
		return 0, err
	}
	if op != ReplacePermissions && len(eps) == 0 {
		return 0, errorf(ErrInvalid, "invalidPermission", "permissions must list at least one permission")
	}
	return s.changeClient(ctx, m, ns, id, req("ChangeClientPermissions", id, op, eps), func(_ index.View, c *index.Client, ev *events.ClientUpdated) (func() error, error) {
		var next []perm.Permission
		switch op {
		case AddPermissions:
			next = index.AddPermissions(c.Permissions, index.FromEvent(eps))
		case RemovePermissions:
			next = index.RemovePermissions(c.Permissions, index.FromEvent(eps))
		default:
			next = index.FromEvent(eps)
		}
		ev.Permissions = index.ToEvent(next)
		if op == RemovePermissions {
			return nil, nil
		}
		added := index.FromEvent(eps)
		return func() error {
			return s.holds(ctx, &m, ns, added, perm.RequiredBinding{Namespace: ns, UserID: id}, "client "+id)
		}, nil
	})
}

func (s *Service) changeClient(ctx context.Context, m Meta, ns, id string, rq request,
	change func(v index.View, c *index.Client, ev *events.ClientUpdated) (func() error, error),
) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	if err := s.authorize(ctx, &m, auth.PermClient(ns), perm.Update, ns); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	return s.execute(ctx, ns, &m, rq, func(v index.View) (decision, error) {
		c := v.Client(id)
		if c == nil || c.Namespace != ns {
			return decision{}, clientNotFound(ns, id)
		}
		ev := events.ClientUpdated{ClientID: c.ID, ClientName: c.Name, Permissions: index.ToEvent(c.Permissions), Roles: c.Roles, Before: clientState(c)}
		check, err := change(v, c, &ev)
		if err != nil {
			return decision{}, err
		}
		return decision{kind: events.KindClient, aggregateID: id, payload: ev, check: check}, nil
	})
}

// DeleteClient deletes a client.
func (s *Service) DeleteClient(ctx context.Context, m Meta, ns, id string) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	if err := s.authorize(ctx, &m, auth.PermClient(ns), perm.Delete, ns); err != nil {
		return 0, err
	}
	return s.execute(ctx, ns, &m, req("DeleteClient", id), func(v index.View) (decision, error) {
		c := v.Client(id)
		if c == nil || c.Namespace != ns {
			return decision{}, clientNotFound(ns, id)
		}
		return decision{kind: events.KindClient, aggregateID: id, payload: events.ClientDeleted{ClientID: id, Before: clientState(c)}}, nil
	})
}

// IssueToken is the input of Service.IssueToken.
type IssueToken struct {
	Name string `json:"name"`
	// Owner defaults to the caller (a token acts as its owner).
	Owner *events.Actor `json:"owner,omitempty"`
	// Scopes and Permissions (templates: constraints may use params "$1"...)
	// together make the token's permission set.
	Scopes      []string          `json:"scopes,omitempty"`
	Permissions []perm.Permission `json:"permissions,omitempty"`
	Params      []perm.Value      `json:"params,omitempty"`
	NotBefore   *time.Time        `json:"notBefore,omitempty"`
	ExpiresAt   *time.Time        `json:"expiresAt,omitempty"`
}

// TokenIssued is what IssueToken returns: the token is shown once.
type TokenIssued struct {
	TokenID     string            `json:"tokenId"`
	Token       string            `json:"token"`
	Owner       events.Actor      `json:"owner"`
	Scopes      []string          `json:"scopes,omitempty"`
	Permissions []perm.Permission `json:"permissions"`
	ExpiresAt   *time.Time        `json:"expiresAt,omitempty"`
	Revision    uint64            `json:"revision"`
}

// Limits on tokens.
const (
	MaxTokenPermissions = 200
	MaxScopesPerToken   = 50
)

// ownerOf resolves the default owner: the caller, a token's owner, or the
// bootstrap admin user for the bootstrap credential.
func ownerOf(v index.View, c events.Caller) (events.Actor, bool) {
	if c.Type == events.ActorToken {
		t := v.Token(c.ID)
		if t == nil {
			return events.Actor{}, false
		}
		return t.Owner, true
	}
	return c.Actor, true
}

// expandScopes returns the permissions of the named scopes and what they
// include.
func expandScopes(v index.View, names []string) ([]perm.Permission, error) {
	var out []perm.Permission
	seen := map[string]bool{}
	var walk func(name string, depth int) error
	walk = func(name string, depth int) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		sc := v.Scope(name)
		if sc == nil {
			return errorf(ErrInvalid, "unknownScope", "scope %q does not exist; define it with PUT /v1/scopes/%s or list them with GET /v1/scopes", name, name)
		}
		if depth > 16 {
			return errorf(ErrInvalid, "invalidScope", "scope %q includes scopes more than 16 deep", name)
		}
		out = append(out, sc.Permissions...)
		for _, inc := range sc.Includes {
			if err := walk(inc, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := walk(n, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// IssueToken issues a token (API key) in namespace ns. Its permissions are
// its scopes' and its own, with params filled; they can never exceed what
// the caller or the owner holds, and never change after issue.
func (s *Service) IssueToken(ctx context.Context, m Meta, ns string, in IssueToken) (TokenIssued, error) {
	if !events.ValidNamespace(ns) {
		return TokenIssued{}, invalidNamespace("namespace", ns)
	}
	if err := validateMeta(&m); err != nil {
		return TokenIssued{}, err
	}
	if err := validateName("name", in.Name, 128); err != nil {
		return TokenIssued{}, err
	}
	if len(in.Scopes) > MaxScopesPerToken {
		return TokenIssued{}, errorf(ErrInvalid, "tooManyScopes", "%d scopes; the limit is %d", len(in.Scopes), MaxScopesPerToken)
	}
	if len(in.Permissions) > MaxTokenPermissions {
		return TokenIssued{}, errorf(ErrInvalid, "tooManyPermissions", "%d permissions; the limit is %d", len(in.Permissions), MaxTokenPermissions)
	}
	if err := validateWindow(in.NotBefore, in.ExpiresAt); err != nil {
		return TokenIssued{}, err
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.cfg.Now()) {
		return TokenIssued{}, errorf(ErrInvalid, "invalidExpiry", "expiresAt %s is in the past", in.ExpiresAt.Format(time.RFC3339))
	}
	if in.Owner != nil {
		if (in.Owner.Type != events.ActorUser && in.Owner.Type != events.ActorClient) || !events.ValidID(in.Owner.ID) {
			return TokenIssued{}, errorf(ErrInvalid, "invalidOwner", `owner must be {"type": "user" or "client", "id": "..."}`)
		}
	}
	id := uuid.NewString()
	secret, hash := newSecret(TokenPrefix)
	var out TokenIssued
	rev, err := s.execute(ctx, ns, &m, req("IssueToken", in.Name, in.Owner, in.Scopes, in.Permissions, in.Params, utcPtr(in.NotBefore), utcPtr(in.ExpiresAt)), func(v index.View) (decision, error) {
		owner, ok := ownerOf(v, m.Caller)
		if in.Owner != nil {
			owner, ok = *in.Owner, true
		}
		if !ok {
			return decision{}, errorf(ErrInvalid, "invalidOwner", "the calling token no longer exists")
		}
		if owner.Type == events.ActorClient {
			if c := v.Client(owner.ID); c == nil || c.Namespace != ns {
				return decision{}, clientNotFound(ns, owner.ID)
			}
		}
		tmpl, err := expandScopes(v, in.Scopes)
		if err != nil {
			return decision{}, err
		}
		tmpl = append(tmpl, in.Permissions...)
		if len(tmpl) == 0 {
			return decision{}, errorf(ErrInvalid, "noPermissions", "give the token scopes or permissions")
		}
		ps := make([]perm.Permission, 0, len(tmpl))
		for i, p := range tmpl {
			vp, err := perm.ValidateTemplate(p)
			if err == nil {
				vp, err = perm.FillParams(vp, in.Params)
			}
			if err != nil {
				return decision{}, errorf(ErrInvalid, "invalidPermission", "permission %d (%s): %v", i, p.Resource, err)
			}
			ps = append(ps, vp)
		}
		out = TokenIssued{TokenID: id, Token: secret, Owner: owner, Scopes: in.Scopes, Permissions: ps, ExpiresAt: utcPtr(in.ExpiresAt)}
		return decision{kind: events.KindToken, aggregateID: id, payload: events.TokenIssued{
			TokenID: id, Name: in.Name, Owner: owner, Issuer: m.Caller.Actor, Scopes: in.Scopes,
			Permissions: index.ToEvent(ps), SecretHash: hash, NotBefore: utcPtr(in.NotBefore), ExpiresAt: utcPtr(in.ExpiresAt),
		}, check: func() error {
			if err := s.authorize(ctx, &m, auth.PermToken(ns, owner.ID), perm.Create, ns); err != nil {
				return err
			}
			bind := perm.RequiredBinding{Namespace: ns, UserID: owner.ID}
			// Never more than the issuer holds...
			if err := s.holds(ctx, &m, ns, ps, bind, "the token"); err != nil {
				return err
			}
			// ...nor more than the owner holds at issue.
			if err := s.authz.HoldsAll(ctx, events.Caller{Actor: owner}, ns, ps, bind, "the token (for its owner)"); err != nil {
				return err
			}
			return nil
		}}, nil
	})
	if err != nil {
		return TokenIssued{}, err
	}
	out.Revision = rev
	return out, nil
}

// RevokeToken revokes a token; every replica denies it once it applies the event.
func (s *Service) RevokeToken(ctx context.Context, m Meta, ns, id string) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	return s.execute(ctx, ns, &m, req("RevokeToken", id), func(v index.View) (decision, error) {
		t := v.Token(id)
		if t == nil || t.Namespace != ns {
			return decision{}, errorf(ErrNotFound, "tokenNotFound", "namespace %s has no token %q", ns, id)
		}
		owner := t.Owner.ID
		return decision{kind: events.KindToken, aggregateID: id, payload: events.TokenRevoked{TokenID: id, Before: tokenState(t)}, check: func() error {
			return s.authorize(ctx, &m, auth.PermToken(ns, owner), perm.Delete, ns)
		}}, nil
	})
}

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

// RegisterEndpoint is the input of Service.RegisterEndpoint.
type RegisterEndpoint struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	Resource string      `json:"resource"`
	Action   perm.Action `json:"action"`
}

func validIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !identByte(s[i]) {
			return false
		}
	}
	return true
}

// RegisterEndpoint records which permission an endpoint requires.
func (s *Service) RegisterEndpoint(ctx context.Context, m Meta, service, name string, in RegisterEndpoint) (uint64, error) {
	if !validIdent(service) || !validIdent(name) {
		return 0, errorf(ErrInvalid, "invalidEndpoint", "service and endpoint names: use 1-64 letters, digits, '_' or '-'")
	}
	if err := s.authorize(ctx, &m, auth.PermEndpoints, perm.Create|perm.Update, ""); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	p, err := perm.ValidatePermission(perm.Permission{Resource: in.Resource, Action: in.Action})
	if err != nil {
		return 0, errorf(ErrInvalid, "invalidPermission", "%v", err)
	}
	if err := validText("invalidEndpoint", "method", in.Method, 16, false); err != nil {
		return 0, err
	}
	if err := validText("invalidEndpoint", "path", in.Path, 1024, false); err != nil {
		return 0, err
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("RegisterEndpoint", service, name, in.Method, in.Path, p), func(index.View) (decision, error) {
		return decision{kind: events.KindEndpoint, aggregateID: service + "." + name, payload: events.EndpointRegistered{
			Service: service, Name: name, Method: in.Method, Path: in.Path, Resource: p.Resource, Action: uint8(p.Action),
		}}, nil
	})
}

// DeleteEndpoint removes an endpoint from the catalog.
func (s *Service) DeleteEndpoint(ctx context.Context, m Meta, service, name string) (uint64, error) {
	if err := s.authorize(ctx, &m, auth.PermEndpoints, perm.Delete, ""); err != nil {
		return 0, err
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("DeleteEndpoint", service, name), func(v index.View) (decision, error) {
		if v.Endpoint(service, name) == nil {
			return decision{}, errorf(ErrNotFound, "endpointNotFound", "endpoint %s/%s is not in the catalog", service, name)
		}
		return decision{kind: events.KindEndpoint, aggregateID: service + "." + name, payload: events.EndpointDeleted{Service: service, Name: name}}, nil
	})
}
