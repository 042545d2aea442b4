package query

import (
	"context"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Namespace is a namespace as reads return it.
type Namespace struct {
	Namespace    string   `json:"namespace"`
	Explicit     bool     `json:"explicit"`
	Parent       string   `json:"parent,omitempty"`
	DefaultRoles []string `json:"defaultRoles"`
	LastRevision uint64   `json:"lastRevision"`
}

func namespaceOf(info index.NamespaceInfo) Namespace {
	return Namespace{Namespace: info.Name, Explicit: info.Explicit, Parent: info.Parent,
		DefaultRoles: append([]string{}, info.DefaultRoles...), LastRevision: info.LastRevision}
}

// read runs fn on a view after authorizing and waiting for the revision.
func (e *Engine) read(ctx context.Context, o ReadOptions, resource string, action perm.Action, ns string, fn func(v index.View) error) error {
	if err := e.authorize(ctx, o, resource, action, ns); err != nil {
		return err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return err
	}
	v := e.store.Acquire()
	defer v.Release()
	return fn(v)
}

func validNS(ns string) error {
	if !events.ValidNamespace(ns) {
		return errorf(ErrInvalid, "invalidNamespace", "namespace %q is not valid", ns)
	}
	return nil
}

// ListNamespaces lists the namespaces the index knows (explicit or used).
func (e *Engine) ListNamespaces(ctx context.Context, o ReadOptions) (Page[Namespace], error) {
	var p Page[Namespace]
	err := e.read(ctx, o, auth.PermNamespaces, perm.Read, "", func(v index.View) error {
		p = Page[Namespace]{Data: []Namespace{}, Revision: v.Revision()}
		for _, info := range v.Namespaces() {
			p.Data = append(p.Data, namespaceOf(info))
		}
		return nil
	})
	return p, err
}

// GetNamespace returns one namespace.
func (e *Engine) GetNamespace(ctx context.Context, o ReadOptions, ns string) (Namespace, error) {
	if err := validNS(ns); err != nil {
		return Namespace{}, err
	}
	var out Namespace
	err := e.read(ctx, o, auth.PermNamespace(ns), perm.Read, ns, func(v index.View) error {
		info, ok := v.Namespace(ns)
		if !ok {
			return errorf(ErrNotFound, "namespaceNotFound", "namespace %s does not exist", ns)
		}
		out = namespaceOf(info)
		return nil
	})
	return out, err
}

// Client is an IAM client as reads return it (never its secret).
type Client struct {
	ClientID    string            `json:"clientId"`
	Namespace   string            `json:"namespace"`
	ClientName  string            `json:"clientName"`
	Permissions []perm.Permission `json:"permissions"`
	Roles       []string          `json:"roles"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Revision    uint64            `json:"revision"`
}

func clientOf(c *index.Client) Client {
	return Client{ClientID: c.ID, Namespace: c.Namespace, ClientName: c.Name,
		Permissions: append([]perm.Permission{}, c.Permissions...), Roles: append([]string{}, c.Roles...),
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Revision: c.Revision}
}

// ListClients lists the clients of ns.
func (e *Engine) ListClients(ctx context.Context, o ReadOptions, ns string) (Page[Client], error) {
	if err := validNS(ns); err != nil {
		return Page[Client]{}, err
	}
	var p Page[Client]
	err := e.read(ctx, o, auth.PermClient(ns), perm.Read, ns, func(v index.View) error {
		p = Page[Client]{Data: []Client{}, Revision: v.Revision()}
		for _, c := range v.Clients(ns) {
			p.Data = append(p.Data, clientOf(c))
		}
		return nil
	})
	return p, err
}

// GetClient returns one client.
func (e *Engine) GetClient(ctx context.Context, o ReadOptions, ns, id string) (Client, error) {
	if err := validNS(ns); err != nil {
		return Client{}, err
	}
	var out Client
	err := e.read(ctx, o, auth.PermClient(ns), perm.Read, ns, func(v index.View) error {
		c := v.Client(id)
		if c == nil || c.Namespace != ns {
			return errorf(ErrNotFound, "clientNotFound", "namespace %s has no client %q", ns, id)
		}
		out = clientOf(c)
		return nil
	})
	return out, err
}

// Token is a token as reads return it (never its secret).
type Token struct {
	TokenID     string            `json:"tokenId"`
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Owner       events.Actor      `json:"owner"`
	Issuer      events.Actor      `json:"issuer"`
	Scopes      []string          `json:"scopes,omitempty"`
	Permissions []perm.Permission `json:"permissions"`
	NotBefore   *time.Time        `json:"notBefore,omitempty"`
	ExpiresAt   *time.Time        `json:"expiresAt,omitempty"`
	IssuedAt    time.Time         `json:"issuedAt"`
	Expired     bool              `json:"expired"`
	Revision    uint64            `json:"revision"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ListTokens lists the tokens of ns the caller may see: each needs the
// owner's token permission (NAMESPACE:{ns}:USER:{owner}:TOKEN Read).
func (e *Engine) ListTokens(ctx context.Context, o ReadOptions, ns string) (Page[Token], error) {
	if err := validNS(ns); err != nil {
		return Page[Token]{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return Page[Token]{}, err
	}
	v := e.store.Acquire()
	tokens := v.Tokens(ns)
	now := e.cfg.Now()
	p := Page[Token]{Data: []Token{}, Revision: v.Revision()}
	var list []Token
	for _, t := range tokens {
		list = append(list, Token{TokenID: t.ID, Namespace: t.Namespace, Name: t.Name, Owner: t.Owner, Issuer: t.Issuer,
			Scopes: t.Scopes, Permissions: append([]perm.Permission{}, t.Permissions...),
			NotBefore: optTime(t.NotBefore), ExpiresAt: optTime(t.ExpiresAt), IssuedAt: t.IssuedAt,
			Expired: !t.Valid(now), Revision: t.Revision})
	}
	v.Release()
	for i := range list {
		if e.authorize(ctx, o, auth.PermToken(ns, list[i].Owner.ID), perm.Read, ns) == nil {
			p.Data = append(p.Data, list[i])
		}
	}
	return p, nil
}

// Scope is a scope as reads return it.
type Scope struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Permissions []perm.Permission `json:"permissions"`
	Includes    []string          `json:"includes"`
	Revision    uint64            `json:"revision"`
}

func scopeOf(s *index.Scope) Scope {
	return Scope{Name: s.Name, Description: s.Description, Permissions: append([]perm.Permission{}, s.Permissions...),
		Includes: append([]string{}, s.Includes...), Revision: s.Revision}
}

// ListScopes lists the scope catalog.
func (e *Engine) ListScopes(ctx context.Context, o ReadOptions) (Page[Scope], error) {
	var p Page[Scope]
	err := e.read(ctx, o, auth.PermScopes, perm.Read, "", func(v index.View) error {
		p = Page[Scope]{Data: []Scope{}, Revision: v.Revision()}
		for _, s := range v.Scopes() {
			p.Data = append(p.Data, scopeOf(s))
		}
		return nil
	})
	return p, err
}

// GetScope returns one scope.
func (e *Engine) GetScope(ctx context.Context, o ReadOptions, name string) (Scope, error) {
	var out Scope
	err := e.read(ctx, o, auth.PermScopes, perm.Read, "", func(v index.View) error {
		s := v.Scope(name)
		if s == nil {
			return errorf(ErrNotFound, "scopeNotFound", "scope %q does not exist", name)
		}
		out = scopeOf(s)
		return nil
	})
	return out, err
}

// Endpoint is a catalog entry as reads return it.
type Endpoint struct {
	Service  string      `json:"service"`
	Name     string      `json:"name"`
	Method   string      `json:"method,omitempty"`
	Path     string      `json:"path,omitempty"`
	Resource string      `json:"resource"`
	Action   perm.Action `json:"action"`
	Revision uint64      `json:"revision"`
}

// ListEndpoints lists the endpoint catalog.
func (e *Engine) ListEndpoints(ctx context.Context, o ReadOptions) (Page[Endpoint], error) {
	var p Page[Endpoint]
	err := e.read(ctx, o, auth.PermEndpoints, perm.Read, "", func(v index.View) error {
		p = Page[Endpoint]{Data: []Endpoint{}, Revision: v.Revision()}
		for _, ep := range v.Endpoints() {
			p.Data = append(p.Data, Endpoint{Service: ep.Service, Name: ep.Name, Method: ep.Method, Path: ep.Path,
				Resource: ep.Resource, Action: ep.Action, Revision: ep.Revision})
		}
		return nil
	})
	return p, err
}
