package query

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/index"
	"github.com/grantlog/grantlog/internal/principal"
	"github.com/grantlog/grantlog/perm"
)

// Authorizer decides whether a caller holds a permission ({namespace} in
// required bound to namespace); nil means allowed.
type Authorizer interface {
	Authorize(ctx context.Context, caller principal.Caller, required perm.Permission, namespace string) error
}

// Config configures an Engine.
type Config struct {
	// MaxWait bounds how long a request with AtLeastRevision waits; default 5s.
	MaxWait time.Duration
}

// Engine answers checks and reads. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	store *index.Store
	authz Authorizer
}

// New returns an Engine over store. authz guards the read endpoints
// (ListRoles, ...) and may be nil for trusted in-process use of Check.
func New(cfg Config, store *index.Store, authz Authorizer) *Engine {
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 5 * time.Second
	}
	return &Engine{cfg: cfg, store: store, authz: authz}
}

// Subject is who a check is about.
type Subject struct {
	// Type is "user" (clients and tokens come with a later release).
	Type string `json:"type"`
	ID   string `json:"id"`
}

// CheckRequest asks whether Subject may do Action on Resource, signed into
// Namespace.
type CheckRequest struct {
	Subject   Subject     `json:"subject"`
	Namespace string      `json:"namespace"`
	Resource  string      `json:"resource"`
	Action    perm.Action `json:"action"`
	// AtLeastRevision, when set, makes the check wait (bounded) until the
	// index has applied this revision.
	AtLeastRevision uint64 `json:"atLeastRevision,omitempty"`
	// Explain asks for the explanation of the answer.
	Explain bool `json:"explain,omitempty"`
}

// CheckResult is a check's answer.
type CheckResult struct {
	Allowed     bool         `json:"allowed"`
	Revision    uint64       `json:"revision"`
	Explanation *Explanation `json:"explanation,omitempty"`
}

// Explanation says why a check was answered as it was.
type Explanation struct {
	// Required is the required permission after binding placeholders.
	Required perm.Permission `json:"required"`
	// Grants lists what allowed it (the first match), empty when denied.
	Grants []GrantReason `json:"grants,omitempty"`
	// Considered is how many of the subject's assignments were looked at.
	Considered int `json:"consideredAssignments"`
	// Summary says it in words.
	Summary string `json:"summary"`
}

// GrantReason names the role, assignment and permission that granted a check.
type GrantReason struct {
	RoleID              string          `json:"roleId"`
	RoleName            string          `json:"roleName"`
	IsWildcard          bool            `json:"isWildcard"`
	AssignmentNamespace string          `json:"assignmentNamespace"`
	AssignedNamespaces  []string        `json:"assignedNamespaces,omitempty"`
	Permission          perm.Permission `json:"permission"`
	AssignedAtRevision  uint64          `json:"assignedAtRevision"`
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

func validateCheck(req *CheckRequest) error {
	if req.Subject.Type != events.ActorUser {
		return errorf(ErrInvalid, "invalidSubject", "subject.type %q is not supported: use \"user\"", req.Subject.Type)
	}
	if !events.ValidID(req.Subject.ID) {
		return errorf(ErrInvalid, "invalidSubject", "subject.id %q is not valid: use 1-128 letters, digits, '-' or '_'", req.Subject.ID)
	}
	if !events.ValidNamespace(req.Namespace) {
		return errorf(ErrInvalid, "invalidNamespace",
			"namespace %q is not valid: give the namespace the subject is signed into (1-64 letters, digits, '-' or '_')", req.Namespace)
	}
	return nil
}

// Check answers req. Placeholders in the required resource are bound too:
// {namespace} to req.Namespace and {userId} to the subject's id.
func (e *Engine) Check(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	if err := validateCheck(req); err != nil {
		return CheckResult{}, err
	}
	r, err := perm.ParseRequired(req.Resource, req.Action, perm.RequiredBinding{Namespace: req.Namespace, UserID: req.Subject.ID})
	if err != nil {
		code := "invalidResource"
		if errors.Is(err, perm.ErrInvalidAction) {
			code = "invalidAction"
		}
		return CheckResult{}, &Error{Kind: ErrInvalid, Code: code, Message: err.Error()}
	}
	if err := e.WaitFor(ctx, req.AtLeastRevision); err != nil {
		return CheckResult{}, err
	}
	v := e.store.Acquire()
	defer v.Release()
	res := CheckResult{Revision: v.Revision()}
	if !req.Explain {
		a, _ := check(v, req.Subject.ID, req.Namespace, &r)
		res.Allowed = a != nil
		return res, nil
	}
	res.Explanation = explain(v, req, &r)
	res.Allowed = len(res.Explanation.Grants) > 0
	return res, nil
}

// CheckResource is the meta-permission a caller needs to ask checks about
// subjects signed into a namespace ({namespace} binds to the check's namespace).
const CheckResource = "ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK"

// CheckAs is Check on behalf of caller, who must hold CheckResource Read in
// the check's namespace.
func (e *Engine) CheckAs(ctx context.Context, caller principal.Caller, req *CheckRequest) (CheckResult, error) {
	if err := validateCheck(req); err != nil {
		return CheckResult{}, err
	}
	if err := e.authorize(ctx, ReadOptions{Caller: caller}, CheckResource, perm.Read, req.Namespace); err != nil {
		return CheckResult{}, err
	}
	return e.Check(ctx, req)
}

// check returns the first assignment and grant covering r, or nils.
func check(v index.View, userID, ns string, r *perm.Required) (*index.Assignment, *perm.Grant) {
	ctxNS := [1]string{ns}
	for _, a := range v.Assignments(userID) {
		role := a.Role()
		b := perm.Binding{UserID: userID, Namespaces: a.AssignedNamespaces}
		if role.Wildcard {
			b.Namespaces = ctxNS[:]
		} else if len(b.Namespaces) == 0 {
			// A non-wildcard role applies only in its assigned namespaces;
			// an assignment made while the role was a wildcard role has none.
			continue
		}
		for i := range role.Grants {
			if role.Grants[i].Covers(r, &b) {
				return a, &role.Grants[i]
			}
		}
	}
	return nil, nil
}

func explain(v index.View, req *CheckRequest, r *perm.Required) *Explanation {
	ex := &Explanation{
		Required:   perm.Permission{Resource: r.String(), Action: r.Action()},
		Considered: len(v.Assignments(req.Subject.ID)),
	}
	a, g := check(v, req.Subject.ID, req.Namespace, r)
	if a == nil {
		if ex.Considered == 0 {
			ex.Summary = "denied: user " + req.Subject.ID + " has no roles"
		} else {
			ex.Summary = "denied: no permission of the user's roles covers " + ex.Required.Resource + " with action " + r.Action().String()
		}
		return ex
	}
	role := a.Role()
	ex.Grants = []GrantReason{{
		RoleID: role.ID, RoleName: role.Name, IsWildcard: role.Wildcard,
		AssignmentNamespace: a.Namespace, AssignedNamespaces: a.AssignedNamespaces,
		Permission: g.Permission(), AssignedAtRevision: a.Revision,
	}}
	where := "in namespaces " + strings.Join(a.AssignedNamespaces, ", ")
	if role.Wildcard {
		where = "in every namespace ({namespace} = " + req.Namespace + ")"
	}
	ex.Summary = "allowed: role " + role.Name + ", assigned to " + req.Subject.ID + " in namespace " + a.Namespace +
		" to apply " + where + ", grants " + g.Permission().Resource + " with action " + g.Action().String()
	return ex
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
	Caller principal.Caller
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
	if err := e.authorize(ctx, o, "ADMIN:ROLE", perm.Read, ""); err != nil {
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
	if err := e.authorize(ctx, o, "ADMIN:ROLE", perm.Read, ""); err != nil {
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
	Revision           uint64   `json:"revision"`
}

// UserRoles lists the roles assigned to userID within namespace ns.
func (e *Engine) UserRoles(ctx context.Context, o ReadOptions, ns, userID string) (Page[UserRole], error) {
	if !events.ValidNamespace(ns) {
		return Page[UserRole]{}, errorf(ErrInvalid, "invalidNamespace", "namespace %q is not valid", ns)
	}
	if !events.ValidID(userID) {
		return Page[UserRole]{}, errorf(ErrInvalid, "invalidUserId", "userId %q is not valid", userID)
	}
	if err := e.authorize(ctx, o, "ADMIN:NAMESPACE:"+ns+":ROLE:USER:*", perm.Read, ns); err != nil {
		return Page[UserRole]{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return Page[UserRole]{}, err
	}
	v := e.store.Acquire()
	defer v.Release()
	p := Page[UserRole]{Data: []UserRole{}, Revision: v.Revision()}
	for _, a := range v.Assignments(userID) {
		if a.Namespace != ns {
			continue
		}
		r := a.Role()
		p.Data = append(p.Data, UserRole{
			RoleID: r.ID, RoleName: r.Name, IsWildcard: r.Wildcard, AdminRole: r.Admin,
			Namespace: a.Namespace, AssignedNamespaces: append([]string{}, a.AssignedNamespaces...), Revision: a.Revision,
		})
	}
	sort.Slice(p.Data, func(i, j int) bool { return p.Data[i].RoleName < p.Data[j].RoleName })
	return p, nil
}

// RoleMembers lists the holders of a role, across namespaces.
func (e *Engine) RoleMembers(ctx context.Context, o ReadOptions, roleID, cursor string, limit int) (Page[index.Member], error) {
	if err := e.authorize(ctx, o, "ADMIN:ROLE", perm.Read, ""); err != nil {
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

// Allows reports whether user userID, signed into namespace ns, holds
// resource with action. It is the authorization primitive for the service's
// own API: it does not validate ns (platform operations pass "") and binds
// {namespace} in resource to ns.
func (e *Engine) Allows(userID, ns, resource string, action perm.Action) (bool, uint64, error) {
	r, err := perm.ParseRequired(resource, action, perm.RequiredBinding{Namespace: ns, UserID: userID})
	if err != nil {
		return false, 0, err
	}
	v := e.store.Acquire()
	defer v.Release()
	a, _ := check(v, userID, ns, &r)
	return a != nil, v.Revision(), nil
}

// Revision returns the index's applied revision.
func (e *Engine) Revision() uint64 { return e.store.Applied() }
