package index

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// Client is an IAM client: a machine identity in a namespace holding
// permissions directly (and optionally roles).
type Client struct {
	ID          string
	Namespace   string
	Name        string
	SecretHash  string
	Permissions []perm.Permission
	Grants      []perm.Grant
	Set         *perm.GrantSet
	Roles       []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Revision    uint64
}

// Token is an API key issued in a namespace to an owner.
type Token struct {
	ID          string
	Namespace   string
	Name        string
	Owner       events.Actor
	Issuer      events.Actor
	Scopes      []string
	Permissions []perm.Permission
	Grants      []perm.Grant
	Set         *perm.GrantSet
	SecretHash  string
	NotBefore   time.Time
	ExpiresAt   time.Time
	IssuedAt    time.Time
	Revision    uint64
	// Bootstrap marks the bootstrap Super Admin credential (namespace
	// events.PlatformNamespace; see events.TokenIssued.Bootstrap).
	Bootstrap bool
	// RevokedRevision, on a bootstrap credential, is the revision that
	// revoked it (0: live). Revoked bootstrap credentials stay in the index
	// (not as tokens: they authenticate nothing) so that a stream that ever
	// had one is never given another from a file, and so that tokens they
	// issued stay dead. Cascaded lists the tokens that ended with it.
	RevokedRevision uint64
	Cascaded        []string
	hash            [32]byte
}

// Valid reports whether the token may be used at now (revoked tokens are
// not in the index at all).
func (t *Token) Valid(now time.Time) bool {
	return (t.NotBefore.IsZero() || !now.Before(t.NotBefore)) && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Scope is a named permission bundle.
type Scope struct {
	Name        string
	Description string
	Permissions []perm.Permission
	Includes    []string
	Revision    uint64
}

// Endpoint is a catalog entry: the permission an endpoint requires.
type Endpoint struct {
	Service, Name, Method, Path, Resource string
	Action                                perm.Action
	Revision                              uint64
	// params are the names of Path's parameters in order (ParseRoute);
	// routable is set when Path is a valid route (see MatchRoute).
	params   []string
	routable bool
}

// PathParams returns the names of the endpoint's path parameters in path
// order (nil when its path has none or is not a valid route). The slice
// must not be modified.
func (e *Endpoint) PathParams() []string { return e.params }

// Records as stored in Pebble: the event payload plus what the index adds.
type clientRecord struct {
	events.ClientCreated
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Revision  uint64    `json:"revision"`
}

type tokenRecord struct {
	events.TokenIssued
	IssuedAt time.Time `json:"issuedAt"`
	Revision uint64    `json:"revision"`
	// Bootstrap credentials only (see Token).
	RevokedRevision uint64   `json:"revokedRevision,omitempty"`
	Cascaded        []string `json:"cascaded,omitempty"`
}

type scopeRecord struct {
	events.ScopeDefined
	Revision uint64 `json:"revision"`
}

type endpointRecord struct {
	events.EndpointRegistered
	Revision uint64 `json:"revision"`
}

func clientFrom(ns string, rec clientRecord) *Client {
	c := &Client{
		ID: rec.ClientID, Namespace: ns, Name: rec.ClientName, SecretHash: rec.SecretHash, Roles: rec.Roles,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, Revision: rec.Revision,
	}
	c.Permissions, c.Grants = compileAll(normalize(FromEvent(rec.Permissions)))
	c.Set = perm.NewGrantSet(c.Grants)
	return c
}

func (c *Client) record() clientRecord {
	return clientRecord{
		ClientCreated: events.ClientCreated{
			ClientID: c.ID, ClientName: c.Name, SecretHash: c.SecretHash,
			Permissions: ToEvent(c.Permissions), Roles: c.Roles,
		},
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Revision: c.Revision,
	}
}

func tokenFrom(ns string, rec tokenRecord) *Token {
	t := &Token{
		ID: rec.TokenID, Namespace: ns, Name: rec.Name, Owner: rec.Owner, Issuer: rec.Issuer,
		Scopes: rec.Scopes, SecretHash: rec.SecretHash, NotBefore: fromOpt(rec.NotBefore),
		ExpiresAt: fromOpt(rec.ExpiresAt), IssuedAt: rec.IssuedAt, Revision: rec.Revision,
		Bootstrap: rec.Bootstrap, RevokedRevision: rec.RevokedRevision, Cascaded: rec.Cascaded,
	}
	_, _ = hex.Decode(t.hash[:], []byte(rec.SecretHash))
	// Token permissions are kept as issued (not merged): they are immutable.
	t.Permissions, t.Grants = compileAll(FromEvent(rec.Permissions))
	t.Set = perm.NewGrantSet(t.Grants)
	return t
}

func (st *state) loadPrincipal(pk parsedKey, raw []byte) error {
	switch pk.kind {
	case kindClient:
		var rec clientRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		st.clients[rec.ClientID] = clientFrom(pk.ns, rec)
	case kindToken:
		var rec tokenRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		t := tokenFrom(pk.ns, rec)
		if t.Bootstrap {
			st.bootstrap[t.ID] = t
			if t.RevokedRevision != 0 {
				st.deadIssuers[t.ID] = true
				for _, id := range t.Cascaded {
					st.deadIssuers[id] = true
				}
				return nil
			}
		}
		st.tokens[t.ID] = t
		st.tokenHash[t.hash] = t
	case kindScope:
		var rec scopeRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		st.scopes[rec.Name] = &Scope{Name: rec.Name, Description: rec.Description,
			Permissions: FromEvent(rec.Permissions), Includes: rec.Includes, Revision: rec.Revision}
	case kindEndpoint:
		var rec endpointRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		st.putEndpoint(endpointFrom(rec))
	}
	return nil
}

func endpointFrom(rec endpointRecord) *Endpoint {
	e := &Endpoint{Service: rec.Service, Name: rec.Name, Method: rec.Method, Path: rec.Path,
		Resource: rec.Resource, Action: perm.Action(rec.Action), Revision: rec.Revision}
	if params, err := ParseRoute(rec.Path); err == nil {
		e.params, e.routable = params, true
	}
	return e
}

// putEndpoint adds or replaces e in the catalog and its route table.
func (st *state) putEndpoint(e *Endpoint) {
	k := e.Service + "/" + e.Name
	if old := st.endpoints[k]; old != nil {
		st.routes.remove(old)
	}
	st.endpoints[k] = e
	st.routes.add(e)
}

// deleteEndpoint removes service's endpoint name.
func (st *state) deleteEndpoint(service, name string) {
	k := service + "/" + name
	if old := st.endpoints[k]; old != nil {
		st.routes.remove(old)
	}
	delete(st.endpoints, k)
}

func (s *Store) applyPrincipal(b *writer, ev *events.Event) error {
	st := &s.mu.st
	del := func(k []byte) error {
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("index: batch delete: %w", err)
		}
		return nil
	}
	switch p := ev.Data.(type) {
	case events.ClientCreated:
		if st.clients[p.ClientID] != nil {
			s.skip(ev, "client already exists")
			return nil
		}
		c := clientFrom(ev.Namespace, clientRecord{ClientCreated: p, CreatedAt: ev.OccurredAt, UpdatedAt: ev.OccurredAt, Revision: ev.Revision})
		st.clients[c.ID] = c
		return setJSON(b, clientKey(c.Namespace, c.ID), c.record())
	case events.ClientUpdated:
		c := st.clients[p.ClientID]
		if c == nil || c.Namespace != ev.Namespace {
			s.skip(ev, "unknown client")
			return nil
		}
		c.Name, c.Roles = p.ClientName, p.Roles
		c.Permissions, c.Grants = compileAll(normalize(FromEvent(p.Permissions)))
		c.Set = perm.NewGrantSet(c.Grants)
		c.UpdatedAt, c.Revision = ev.OccurredAt, ev.Revision
		return setJSON(b, clientKey(c.Namespace, c.ID), c.record())
	case events.ClientDeleted:
		c := st.clients[p.ClientID]
		if c == nil || c.Namespace != ev.Namespace {
			s.skip(ev, "unknown client")
			return nil
		}
		delete(st.clients, c.ID)
		return del(clientKey(c.Namespace, c.ID))
	case events.TokenIssued:
		return s.tokenIssued(b, ev, p)
	case events.TokenRevoked:
		t := st.tokens[p.TokenID]
		if t == nil || t.Namespace != ev.Namespace {
			s.skip(ev, "unknown token")
			return nil
		}
		if t.Bootstrap {
			return s.revokeBootstrap(b, ev, t)
		}
		delete(st.tokens, t.ID)
		delete(st.tokenHash, t.hash)
		return del(tokenKey(t.Namespace, t.ID))
	case events.ScopeDefined:
		st.scopes[p.Name] = &Scope{Name: p.Name, Description: p.Description,
			Permissions: FromEvent(p.Permissions), Includes: p.Includes, Revision: ev.Revision}
		return setJSON(b, scopeKey(p.Name), scopeRecord{ScopeDefined: p, Revision: ev.Revision})
	case events.ScopeDeleted:
		delete(st.scopes, p.Name)
		return del(scopeKey(p.Name))
	case events.EndpointRegistered:
		rec := endpointRecord{EndpointRegistered: p, Revision: ev.Revision}
		st.putEndpoint(endpointFrom(rec))
		return setJSON(b, endpointKey(p.Service, p.Name), rec)
	case events.EndpointsRegisteredBatch:
		for _, e := range p.Endpoints {
			rec := endpointRecord{EndpointRegistered: e, Revision: ev.Revision}
			st.putEndpoint(endpointFrom(rec))
			if err := setJSON(b, endpointKey(e.Service, e.Name), rec); err != nil {
				return err
			}
		}
		return nil
	case events.EndpointDeleted:
		st.deleteEndpoint(p.Service, p.Name)
		return del(endpointKey(p.Service, p.Name))
	}
	return nil
}

func (s *Store) tokenIssued(b *writer, ev *events.Event, p events.TokenIssued) error {
	st := &s.mu.st
	t := tokenFrom(ev.Namespace, tokenRecord{TokenIssued: p, IssuedAt: ev.OccurredAt, Revision: ev.Revision})
	switch {
	case st.tokens[p.TokenID] != nil || st.tokenHash[t.hash] != nil || st.bootstrap[p.TokenID] != nil:
		s.skip(ev, "token already exists")
		return nil
	case p.Bootstrap && ev.Namespace != events.PlatformNamespace:
		s.skip(ev, "a bootstrap credential outside namespace "+events.PlatformNamespace)
		return nil
	case !p.Bootstrap && p.Issuer.Type == events.ActorToken && st.deadIssuers[p.Issuer.ID]:
		// Issued by a revoked bootstrap credential (or a token that ended
		// with it) in the moment between its last authentication and its
		// revocation.
		s.skip(ev, "issued by a revoked bootstrap credential or a token that ended with it")
		return nil
	}
	st.tokens[t.ID] = t
	st.tokenHash[t.hash] = t
	if p.Bootstrap {
		st.bootstrap[t.ID] = t
	}
	if err := setJSON(b, tokenKey(t.Namespace, t.ID), tokenRecord{TokenIssued: p, IssuedAt: ev.OccurredAt, Revision: ev.Revision}); err != nil {
		return err
	}
	for _, id := range p.Replaces {
		old := st.tokens[id]
		if !p.Bootstrap || old == nil || !old.Bootstrap {
			s.skip(ev, "replaces "+id+", which is not a live bootstrap credential")
			continue
		}
		if err := s.revokeBootstrap(b, ev, old); err != nil {
			return err
		}
	}
	return nil
}

// legacyBootstrapIssuer is the issuer recorded on tokens issued by the
// bootstrap credential before it lived in the event log.
var legacyBootstrapIssuer = events.Actor{Type: events.ActorUser, ID: "grantlog-bootstrap-admin"}

// bootstrapDependents returns the ids of the live tokens that end with the
// bootstrap credential id: those it issued, those they issued, and so on,
// and those issued by the bootstrap credential before it lived in the log.
func (st *state) bootstrapDependents(id string) []string {
	dead := map[string]bool{id: true}
	var out []string
	for changed := true; changed; {
		changed = false
		for _, t := range st.tokens {
			if dead[t.ID] || t.Bootstrap {
				continue
			}
			if (t.Issuer.Type == events.ActorToken && dead[t.Issuer.ID]) || t.Issuer == legacyBootstrapIssuer {
				dead[t.ID] = true
				out = append(out, t.ID)
				changed = true
			}
		}
	}
	sort.Strings(out)
	return out
}

// revokeBootstrap ends the live bootstrap credential t and the tokens that
// depend on it (bootstrapDependents), keeping t's record as revoked.
func (s *Store) revokeBootstrap(b *writer, ev *events.Event, t *Token) error {
	st := &s.mu.st
	cascaded := st.bootstrapDependents(t.ID)
	for _, id := range cascaded {
		d := st.tokens[id]
		delete(st.tokens, id)
		delete(st.tokenHash, d.hash)
		st.deadIssuers[id] = true
		if err := b.Delete(tokenKey(d.Namespace, id), nil); err != nil {
			return fmt.Errorf("index: batch delete: %w", err)
		}
	}
	delete(st.tokens, t.ID)
	delete(st.tokenHash, t.hash)
	st.deadIssuers[t.ID] = true
	t.RevokedRevision, t.Cascaded = ev.Revision, cascaded
	return setJSON(b, tokenKey(t.Namespace, t.ID), t.record())
}

func (t *Token) record() tokenRecord {
	return tokenRecord{
		TokenIssued: events.TokenIssued{
			TokenID: t.ID, Name: t.Name, Owner: t.Owner, Issuer: t.Issuer, Scopes: t.Scopes,
			Permissions: ToEvent(t.Permissions), SecretHash: t.SecretHash,
			NotBefore: optTime(t.NotBefore), ExpiresAt: optTime(t.ExpiresAt), Bootstrap: t.Bootstrap,
		},
		IssuedAt: t.IssuedAt, Revision: t.Revision, RevokedRevision: t.RevokedRevision, Cascaded: t.Cascaded,
	}
}

// deleteNamespacePrincipals ends the clients and tokens of ns.
func (s *Store) deleteNamespacePrincipals(b *writer, ns string) error {
	st := &s.mu.st
	for id, c := range st.clients {
		if c.Namespace == ns {
			delete(st.clients, id)
			if err := b.Delete(clientKey(ns, id), nil); err != nil {
				return fmt.Errorf("index: batch delete: %w", err)
			}
		}
	}
	for id, t := range st.tokens {
		if t.Namespace == ns {
			delete(st.tokens, id)
			delete(st.tokenHash, t.hash)
			if err := b.Delete(tokenKey(ns, id), nil); err != nil {
				return fmt.Errorf("index: batch delete: %w", err)
			}
		}
	}
	return nil
}

// Client returns the client with id, or nil.
func (v View) Client(id string) *Client {
	if v.ov != nil {
		if c, ok := v.ov.clients[id]; ok {
			return c
		}
	}
	return v.s.mu.st.clients[id]
}

func (o *Overlay) token(v View, id string) *Token {
	if t, ok := o.tokens[id]; ok {
		return t
	}
	return v.s.mu.st.tokens[id]
}

// Clients returns the clients of ns sorted by name, then id.
func (v View) Clients(ns string) []*Client {
	var out []*Client
	for _, c := range v.s.mu.st.clients {
		if c.Namespace == ns {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Token returns the token with id, or nil.
func (v View) Token(id string) *Token {
	if v.ov != nil {
		return v.ov.token(v, id)
	}
	return v.s.mu.st.tokens[id]
}

// TokenByHash returns the token whose secret's SHA-256 is hash, or nil.
func (v View) TokenByHash(hash [32]byte) *Token { return v.s.mu.st.tokenHash[hash] }

// Tokens returns the tokens of ns sorted by issue revision.
func (v View) Tokens(ns string) []*Token {
	var out []*Token
	for _, t := range v.s.mu.st.tokens {
		if t.Namespace == ns {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out
}

// BootstrapCredentials returns every bootstrap credential the stream has
// had, live (RevokedRevision 0) or revoked, in issue order.
func (v View) BootstrapCredentials() []*Token {
	out := make([]*Token, 0, len(v.s.mu.st.bootstrap))
	for _, t := range v.s.mu.st.bootstrap {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out
}

// HadBootstrap reports whether the stream ever had a bootstrap credential.
func (v View) HadBootstrap() bool { return len(v.s.mu.st.bootstrap) > 0 }

// LiveBootstrap returns the live bootstrap credentials (at most one unless
// the log was written otherwise), in issue order.
func (v View) LiveBootstrap() []*Token {
	var out []*Token
	for _, t := range v.BootstrapCredentials() {
		if t.RevokedRevision == 0 {
			out = append(out, t)
		}
	}
	return out
}

// BootstrapDependents returns the ids of the tokens that would end with
// the live bootstrap credential id (see events.TokenIssued.Bootstrap).
func (v View) BootstrapDependents(id string) []string { return v.s.mu.st.bootstrapDependents(id) }

// Scope returns the scope named name, or nil.
func (v View) Scope(name string) *Scope { return v.s.mu.st.scopes[name] }

// Scopes returns every scope sorted by name.
func (v View) Scopes() []*Scope {
	out := make([]*Scope, 0, len(v.s.mu.st.scopes))
	for _, sc := range v.s.mu.st.scopes {
		out = append(out, sc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Endpoint returns the catalog entry of service's endpoint name, or nil.
func (v View) Endpoint(service, name string) *Endpoint {
	return v.s.mu.st.endpoints[service+"/"+name]
}

// Endpoints returns every catalog entry sorted by service and name.
func (v View) Endpoints() []*Endpoint {
	out := make([]*Endpoint, 0, len(v.s.mu.st.endpoints))
	for _, e := range v.s.mu.st.endpoints {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Parent returns the parent studio of namespace ns, or "".
func (v View) Parent(ns string) string { return v.s.mu.st.parents[ns] }

// HasParents reports whether any namespace has a parent studio.
func (v View) HasParents() bool { return len(v.s.mu.st.parents) > 0 }

// Namespaces returns the namespaces the index knows (explicit or used), sorted,
// without the platform namespace.
func (v View) Namespaces() []NamespaceInfo {
	out := make([]NamespaceInfo, 0, len(v.s.mu.st.ns))
	for name, info := range v.s.mu.st.ns {
		if name == events.PlatformNamespace {
			continue
		}
		out = append(out, *info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
