package query

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Authorizer decides whether a caller holds a permission ({namespace} in
// required bound to namespace); nil means allowed.
type Authorizer interface {
	Authorize(ctx context.Context, caller events.Caller, required perm.Permission, namespace string) error
}

// Config configures an Engine.
type Config struct {
	// MaxWait bounds how long a request with AtLeastRevision waits; default 5s.
	MaxWait time.Duration
	// Now is the clock checks are evaluated at (validity windows, schedules,
	// token expiry); default time.Now.
	Now func() time.Time
	// History, with JS set, answers checks at past revisions and
	// permission timelines (history.go); without, they are refused.
	History HistoryConfig
}

// Engine answers checks and reads. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	store *index.Store
	authz Authorizer
	hist  *history // nil: no history
}

// Index is the permission index an Engine reads: Grantlog's own index
// (internal/storage/index), which the server and client.Follower open and
// a projector keeps up to date. Checks read that index's compiled,
// in-memory form directly (no interface call, no allocation on the hot
// path), which is not part of the public API: that index is the only
// implementation, and New panics on any other.
type Index interface {
	// Applied is the revision the index has applied.
	Applied() uint64
	// WaitApplied blocks until the index has applied rev, or ctx is done.
	WaitApplied(ctx context.Context, rev uint64) error
}

// New returns an Engine over idx. authz guards the read endpoints
// (ListRoles, ...) and may be nil for trusted in-process use of Check.
func New(cfg Config, idx Index, authz Authorizer) *Engine {
	store, ok := idx.(*index.Store)
	if !ok {
		panic(fmt.Sprintf("query: New: %T is not Grantlog's index", idx))
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{cfg: cfg, store: store, authz: authz, hist: newHistory(cfg.History)}
}

// WaitFor waits, bounded by the engine's MaxWait, until the index has
// applied rev. It returns an *Error wrapping ErrNotYet when the bound passes.
func (e *Engine) WaitFor(ctx context.Context, rev uint64) error {
	if rev == 0 || e.store.Applied() >= rev {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, e.cfg.MaxWait)
	defer cancel()
	if err := e.store.WaitApplied(wctx, rev); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		applied := e.store.Applied()
		qe := errorf(ErrNotYet, "revisionNotYetApplied",
			"this replica has applied revision %d, not yet %d; retry shortly or ask another replica", applied, rev)
		qe.Revision = applied
		return qe
	}
	return nil
}

// Role is a role as reads return it.
type Role struct {
	RoleID      string            `json:"roleId"`
	RoleName    string            `json:"roleName"`
	AdminRole   bool              `json:"adminRole"`
	IsWildcard  bool              `json:"isWildcard"`
	Description string            `json:"description"`
	Permissions []perm.Permission `json:"permissions"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	// Revision is the revision of the role's last change.
	Revision uint64 `json:"revision"`
}

func roleOf(r *index.Role) Role {
	ps := append([]perm.Permission{}, r.Permissions...)
	return Role{
		RoleID: r.ID, RoleName: r.Name, AdminRole: r.Admin, IsWildcard: r.Wildcard,
		Description: r.Description, Permissions: ps, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Revision: r.Revision,
	}
}

// ReadOptions are common to reads.
type ReadOptions struct {
	Caller events.Caller
	// AtLeastRevision makes the read wait (bounded) for this revision.
	AtLeastRevision uint64
}

func (e *Engine) authorize(ctx context.Context, o ReadOptions, resource string, action perm.Action, ns string) error {
	if e.authz == nil {
		return nil
	}
	return e.authz.Authorize(ctx, o.Caller, perm.Permission{Resource: resource, Action: action}, ns)
}

// Page is one page of a list, with the revision it was read at.
type Page[T any] struct {
	Data     []T    `json:"data"`
	Next     string `json:"next,omitempty"`
	Revision uint64 `json:"revision"`
}

// Pagination limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

func clampLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultLimit, nil
	case limit < 0 || limit > MaxLimit:
		return 0, errorf(ErrInvalid, "invalidLimit", "limit %d is out of range: use 1 to %d", limit, MaxLimit)
	}
	return limit, nil
}

// GetRole returns one role.
func (e *Engine) GetRole(ctx context.Context, o ReadOptions, roleID string) (Role, uint64, error) {
	if err := e.authorize(ctx, o, auth.PermRoles, perm.Read, ""); err != nil {
		return Role{}, 0, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return Role{}, 0, err
	}
	v := e.store.Acquire()
	defer v.Release()
	r := v.Role(roleID)
	if r == nil {
		return Role{}, v.Revision(), errorf(ErrNotFound, "roleNotFound", "role %q does not exist; list roles with GET /v1/roles", roleID)
	}
	return roleOf(r), v.Revision(), nil
}

// ListRoles lists roles by name, starting after the role named by cursor.
func (e *Engine) ListRoles(ctx context.Context, o ReadOptions, cursor string, limit int) (Page[Role], error) {
	if err := e.authorize(ctx, o, auth.PermRoles, perm.Read, ""); err != nil {
		return Page[Role]{}, err
	}
	limit, err := clampLimit(limit)
	if err != nil {
		return Page[Role]{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return Page[Role]{}, err
	}
	v := e.store.Acquire()
	defer v.Release()
	roles := v.Roles()
	start := 0
	if cursor != "" {
		c := strings.ToLower(cursor)
		start = sort.Search(len(roles), func(i int) bool { return strings.ToLower(roles[i].Name) > c })
	}
	p := Page[Role]{Data: []Role{}, Revision: v.Revision()}
	for i := start; i < len(roles) && len(p.Data) < limit; i++ {
		p.Data = append(p.Data, roleOf(roles[i]))
	}
	if start+len(p.Data) < len(roles) && len(p.Data) > 0 {
		p.Next = p.Data[len(p.Data)-1].RoleName
	}
	return p, nil
}

// UserRole is one of a user's assignments.
type UserRole struct {
	RoleID             string   `json:"roleId"`
	RoleName           string   `json:"roleName"`
	IsWildcard         bool     `json:"isWildcard"`
	AdminRole          bool     `json:"adminRole"`
	Namespace          string   `json:"namespace"`
	AssignedNamespaces []string `json:"assignedNamespaces"`
	// NotBefore and NotAfter bound when the assignment is in force, when
	// it is bounded.
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
	Revision  uint64     `json:"revision"`
}

// UserRoles lists the roles assigned to userID within namespace ns.
func (e *Engine) UserRoles(ctx context.Context, o ReadOptions, ns, userID string) (Page[UserRole], error) {
	if !events.ValidNamespace(ns) {
		return Page[UserRole]{}, errorf(ErrInvalid, "invalidNamespace", "namespace %q is not valid", ns)
	}
	if !events.ValidID(userID) {
		return Page[UserRole]{}, errorf(ErrInvalid, "invalidUserId", "userId %q is not valid", userID)
	}
	if err := e.authorize(ctx, o, auth.PermAssignment(ns), perm.Read, ns); err != nil {
		return Page[UserRole]{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return Page[UserRole]{}, err
	}
	v := e.store.Acquire()
	defer v.Release()
	p := Page[UserRole]{Data: []UserRole{}, Revision: v.Revision()}
	as := v.Assignments(userID)
	for i := range as {
		a := &as[i]
		if a.Namespace != ns {
			continue
		}
		r := a.Role()
		p.Data = append(p.Data, UserRole{
			RoleID: r.ID, RoleName: r.Name, IsWildcard: r.Wildcard, AdminRole: r.Admin,
			Namespace: a.Namespace, AssignedNamespaces: append([]string{}, a.AssignedNamespaces...), Revision: a.Revision,
			NotBefore: optTime(a.NotBefore()), NotAfter: optTime(a.NotAfter()),
		})
	}
	sort.Slice(p.Data, func(i, j int) bool { return p.Data[i].RoleName < p.Data[j].RoleName })
	return p, nil
}

// RoleMembers lists the holders of a role, across namespaces.
func (e *Engine) RoleMembers(ctx context.Context, o ReadOptions, roleID, cursor string, limit int) (Page[index.Member], error) {
	if err := e.authorize(ctx, o, auth.PermRoles, perm.Read, ""); err != nil {
		return Page[index.Member]{}, err
	}
	limit, err := clampLimit(limit)
	if err != nil {
		return Page[index.Member]{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return Page[index.Member]{}, err
	}
	v := e.store.Acquire()
	defer v.Release()
	if v.Role(roleID) == nil {
		return Page[index.Member]{}, errorf(ErrNotFound, "roleNotFound", "role %q does not exist", roleID)
	}
	ms, next, err := v.Members(roleID, cursor, limit)
	if err != nil {
		return Page[index.Member]{}, err
	}
	if ms == nil {
		ms = []index.Member{}
	}
	return Page[index.Member]{Data: ms, Next: next, Revision: v.Revision()}, nil
}

// Revision returns the index's applied revision.
func (e *Engine) Revision() uint64 { return e.store.Applied() }
