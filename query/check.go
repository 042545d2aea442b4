package query

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

func invalid(code, format string, args ...any) *Error {
	return errorf(ErrInvalid, code, format, args...)
}

func validateCheck(req *CheckRequest) error {
	switch req.Subject.Type {
	case SubjectUser, SubjectClient:
		if !events.ValidID(req.Subject.ID) {
			return invalid("invalidSubject", "subject.id %q is not valid: use 1-128 letters, digits, '-' or '_'", req.Subject.ID)
		}
	case SubjectToken:
		if req.Subject.Token == "" || len(req.Subject.Token) > MaxTokenLen {
			return invalid("invalidSubject", "subject.token must be the token's secret (1-%d characters)", MaxTokenLen)
		}
	default:
		return invalid("invalidSubject", "subject.type %q is not supported: use \"user\", \"client\" or \"token\"", req.Subject.Type)
	}
	if !events.ValidNamespace(req.Namespace) {
		return invalid("invalidNamespace",
			"namespace %q is not valid: give the namespace the subject is signed into (1-64 letters, digits, '-' or '_')", req.Namespace)
	}
	if req.AtRevision != 0 || req.AsOf != nil {
		if err := validatePast(req); err != nil {
			return err
		}
	}
	if req.Endpoint != nil {
		if req.Resource != "" || req.Action != 0 {
			return invalid("invalidEndpoint", "give either endpoint, or resource and action, not both")
		}
		return validateEndpointRef(req.Endpoint)
	}
	return nil
}

func validateEndpointRef(ep *EndpointRef) error {
	raw := ep.Method != "" || ep.Path != ""
	switch {
	case raw && (ep.Name != "" || ep.Params != nil):
		return invalid("invalidEndpoint", "endpoint: give service and name (and params), or method and path (and optionally service), not both")
	case raw && (ep.Method == "" || ep.Path == ""):
		return invalid("invalidEndpoint", `endpoint: give both method and path of the request, e.g. {"method": "GET", "path": "/iam/v3/admin/namespaces/foo/clients/abc"}`)
	case raw && (len(ep.Method) > MaxEndpointMethod || len(ep.Path) > MaxEndpointPath):
		return invalid("invalidEndpoint", "endpoint: method is at most %d bytes and path at most %d", MaxEndpointMethod, MaxEndpointPath)
	case raw && ep.Path[0] != '/':
		return invalid("invalidEndpoint", "endpoint.path %q must start with '/' (the request path, without scheme and host)", ep.Path)
	case !raw && (ep.Service == "" || ep.Name == ""):
		return invalid("invalidEndpoint", "endpoint: give service and name of a catalog endpoint, or method and path of a request")
	}
	return nil
}

// Check answers req. Placeholders in the required resource bind to the
// check: {namespace} to req.Namespace and {userId} to the subject's user
// (a token's owner).
func (e *Engine) Check(ctx context.Context, req *CheckRequest) (CheckResult, error) {
	if err := validateCheck(req); err != nil {
		return CheckResult{}, err
	}
	if req.past() {
		return e.checkPast(ctx, req)
	}
	if err := e.WaitFor(ctx, req.AtLeastRevision); err != nil {
		return CheckResult{}, err
	}
	v := e.store.Acquire()
	defer v.Release()
	return e.checkAt(v, req)
}

// checkAt evaluates a validated req at view v (CheckBatch evaluates many
// checks at one view), with the whole explanation when req asks for one.
func (e *Engine) checkAt(v index.View, req *CheckRequest) (CheckResult, error) {
	res, x, err := e.evaluate(v, req)
	if x != nil {
		res.Explanation = x.finish(req)
	}
	return res, err
}

// evaluate answers a validated req at view v. When req asks for an
// explanation it returns its explainer too, to finish (after redacting
// what the caller may not read, which needs the view released).
func (e *Engine) evaluate(v index.View, req *CheckRequest) (CheckResult, *explainer, error) {
	ev := evaluation{v: v, ns: req.Namespace, clock: e.cfg.Now}
	if len(req.Attributes) > 0 {
		a := perm.NewAttributes(req.Attributes)
		ev.c.Attrs = &a
	}
	var (
		tok    *index.Token
		client *index.Client
		userID string
	)
	switch req.Subject.Type {
	case SubjectUser:
		userID = req.Subject.ID
	case SubjectClient:
		client = v.Client(req.Subject.ID)
		userID = req.Subject.ID
	case SubjectToken:
		tok = v.TokenByHash(sha256.Sum256([]byte(req.Subject.Token)))
		if tok != nil {
			userID = tok.Owner.ID
		}
	}
	resource, action := req.Resource, req.Action
	bind := perm.RequiredBinding{Namespace: req.Namespace, UserID: userID}
	nparams := 0
	if req.Endpoint != nil {
		ep, n, err := ev.endpoint(req.Endpoint, &bind)
		if err != nil {
			return CheckResult{}, nil, err
		}
		resource, action = ep.Resource, ep.Action
		nparams = n
	}
	if v.HasParents() {
		bind.Parent = v.Parent
	}
	var err error
	if req.Endpoint != nil {
		err = ev.r.ParseEndpoint(resource, action, bind, ev.params[:nparams])
	} else {
		err = ev.r.Parse(resource, action, bind)
	}
	if err != nil {
		code := "invalidResource"
		if errors.Is(err, perm.ErrInvalidAction) {
			code = "invalidAction"
		}
		return CheckResult{}, nil, &Error{Kind: ErrInvalid, Code: code, Message: err.Error()}
	}
	res := CheckResult{Revision: v.Revision()}
	if req.Explain {
		ev.ex = &explainer{}
		ev.now()
	}
	switch {
	case req.Subject.Type == SubjectUser:
		res.Allowed = ev.user(userID)
	case client != nil:
		res.Allowed = ev.client(client)
	case tok != nil:
		res.Allowed = ev.token(tok)
	}
	if ev.ex == nil {
		return res, nil, nil
	}
	x := ev.ex
	x.required = perm.Permission{Resource: ev.r.String(), Action: ev.r.Action()}
	x.now, x.allowed = ev.c.Now, res.Allowed
	x.unknownClient = client == nil && req.Subject.Type == SubjectClient
	x.unknownToken = tok == nil && req.Subject.Type == SubjectToken
	return res, x, nil
}

// CheckAs is Check on behalf of caller, who must hold auth.PermCheck Read in
// the check's namespace. Its explanation shows only what the caller may
// read (see Explanation.Withheld); the answer is Check's.
func (e *Engine) CheckAs(ctx context.Context, caller events.Caller, req *CheckRequest) (CheckResult, error) {
	if err := validateCheck(req); err != nil {
		return CheckResult{}, err
	}
	if err := e.authorize(ctx, ReadOptions{Caller: caller}, auth.PermCheck, perm.Read, req.Namespace); err != nil {
		return CheckResult{}, err
	}
	if req.past() {
		if err := e.authorizePast(ctx, caller, req.Namespace); err != nil {
			return CheckResult{}, err
		}
		if !req.Explain {
			return e.checkPast(ctx, req)
		}
		res, x, err := e.evaluatePast(ctx, req)
		if err != nil {
			return CheckResult{}, err
		}
		x.redact(e.readable(ctx, caller))
		res.Explanation = x.finish(req)
		return res, nil
	}
	if !req.Explain {
		return e.Check(ctx, req)
	}
	if err := e.WaitFor(ctx, req.AtLeastRevision); err != nil {
		return CheckResult{}, err
	}
	v := e.store.Acquire()
	res, x, err := e.evaluate(v, req)
	v.Release()
	if err != nil {
		return CheckResult{}, err
	}
	x.redact(e.readable(ctx, caller))
	res.Explanation = x.finish(req)
	return res, nil
}

// evaluation is one check in progress.
type evaluation struct {
	v index.View
	r perm.Required // by value: a pointer would escape with the explainer
	// route and params hold a check by endpoint's match and path
	// parameters, in place.
	route  index.RouteMatch
	params [index.MaxRouteParams]perm.Param
	c      perm.Context // c.Now is read through now()
	ns     string
	ex     *explainer // nil on the fast path
	// clock is the engine's clock, read once, and only when the check
	// needs the instant (a bounded assignment, a token, a conditional
	// grant, an explanation): most checks do not.
	clock  func() time.Time
	nowSet bool
}

// endpoint finds the catalog endpoint ref names, binds {namespace} and
// {userId} into b and leaves its n path parameters in e.params (see
// EndpointRef).
func (e *evaluation) endpoint(ref *EndpointRef, b *perm.RequiredBinding) (*index.Endpoint, int, error) {
	params := e.params[:0]
	var ep *index.Endpoint
	if ref.Path != "" {
		m := &e.route
		if !e.v.MatchRoute(ref.Method, ref.Path, ref.Service, m) {
			of := ""
			if ref.Service != "" {
				of = " of service " + ref.Service
			}
			return nil, 0, errorf(ErrNotFound, "endpointNotFound",
				"no endpoint%s in the catalog serves %s %s; load a catalog (POST /v1/catalogs/endpoints/accelbyte) or register it with PUT /v1/endpoints/{service}/{endpoint}",
				of, ref.Method, ref.Path)
		}
		ep = m.Endpoint
		params = m.Params(params)
	} else {
		ep = e.v.Endpoint(ref.Service, ref.Name)
		if ep == nil {
			return nil, 0, errorf(ErrNotFound, "endpointNotFound",
				"endpoint %s/%s is not in the catalog; register it with PUT /v1/endpoints/%s/%s",
				ref.Service, ref.Name, ref.Service, ref.Name)
		}
		for _, n := range ep.PathParams() {
			if len(params) < cap(params) {
				params = append(params, perm.Param{Name: n, Value: ref.Params[n]})
			}
		}
		// A parameter the path does not have still binds {namespace} and
		// {userId}, as before paths were parsed.
		if p := ref.Params["namespace"]; p != "" {
			b.Namespace = p
		}
		if p := ref.Params["userId"]; p != "" {
			b.UserID = p
		}
	}
	for _, p := range params {
		switch {
		case p.Value == "":
		case strings.EqualFold(p.Name, "namespace"):
			b.Namespace = p.Value
		case strings.EqualFold(p.Name, "userId"):
			b.UserID = p.Value
		}
	}
	return ep, len(params), nil
}

// now returns the instant the check is evaluated at, reading the clock on
// first use.
func (e *evaluation) now() time.Time {
	if !e.nowSet {
		e.c.Now, e.nowSet = e.clock(), true
	}
	return e.c.Now
}

// match returns the index of a grant of set allowing the check, or -1. On
// the fast path it asks the set's index; explaining, it scans every grant
// and notes when conditional grants covering the resource change.
func (e *evaluation) match(set *perm.GrantSet, b *perm.Binding) int {
	if e.ex == nil {
		if set.Conditional() {
			e.now()
		}
		return set.Match(&e.r, b, &e.c)
	}
	gs := set.Grants()
	hit := -1
	for i := range gs {
		g := &gs[i]
		if e.ex != nil && g.Conditional() && g.CoversResource(&e.r, b) {
			// A fresh copy of the instant, so that e does not escape.
			if t, ok := g.NextChange(time.Unix(0, e.c.Now.UnixNano()).UTC()); ok {
				e.ex.at(t, e.c.Now)
			}
		}
		if hit < 0 && g.Allows(&e.r, b, &e.c) {
			hit = i
		}
	}
	return hit
}

// user evaluates a user: its assignments in force, then the default roles
// of the context namespace.
func (e *evaluation) user(userID string) bool {
	ctxNS := [1]string{e.ns}
	allowed := false
	for it := e.v.UserAssignments(userID); ; {
		a, more := it.Next()
		if !more {
			break
		}
		if e.ex != nil {
			e.ex.considered = append(e.ex.considered, seeAssignment(a.Namespace))
			e.ex.at(a.NotBefore(), e.c.Now)
			e.ex.at(a.NotAfter(), e.c.Now)
		}
		if a.Bounded() && !a.InForce(e.now()) {
			continue
		}
		role := a.Role()
		b := perm.Binding{UserID: userID, Namespaces: it.AssignedNamespaces()}
		if role.Wildcard {
			b.Namespaces = ctxNS[:]
		} else if len(b.Namespaces) == 0 {
			// A non-wildcard role applies only in its assigned namespaces;
			// an assignment made while the role was a wildcard role has none.
			continue
		}
		if i := e.match(role.Set, &b); i >= 0 {
			if e.ex == nil {
				return true
			}
			if !allowed {
				e.ex.grant(GrantReason{
					Source: SourceAssignment, RoleID: role.ID, RoleName: role.Name, IsWildcard: role.Wildcard,
					AssignmentNamespace: a.Namespace, AssignedNamespaces: slices.Clone(it.AssignedNamespaces()),
					Permission: role.Grants[i].Permission(), AssignedAtRevision: a.Revision,
				}, seeAssignment(a.Namespace))
			}
			allowed = true
		}
	}
	info, ok := e.v.Namespace(e.ns)
	if !ok {
		return allowed
	}
	for _, id := range info.DefaultRoles {
		role := e.v.Role(id)
		if role == nil {
			continue
		}
		if e.ex != nil {
			e.ex.considered = append(e.ex.considered, seeDefaultRole(e.ns))
		}
		b := perm.Binding{UserID: userID, Namespaces: ctxNS[:]}
		if i := e.match(role.Set, &b); i >= 0 {
			if e.ex == nil {
				return true
			}
			if !allowed {
				e.ex.grant(GrantReason{
					Source: SourceDefaultRole, RoleID: role.ID, RoleName: role.Name, IsWildcard: role.Wildcard,
					AssignmentNamespace: strings.Clone(e.ns), Permission: role.Grants[i].Permission(),
				}, seeDefaultRole(strings.Clone(e.ns)))
			}
			allowed = true
		}
	}
	return allowed
}

// client evaluates a client: its own permissions ({namespace} bound to the
// client's namespace), then its roles.
func (e *evaluation) client(cl *index.Client) bool {
	own := [1]string{cl.Namespace}
	ctxNS := [1]string{e.ns}
	b := perm.Binding{UserID: cl.ID, Namespaces: own[:]}
	allowed := false
	if i := e.match(cl.Set, &b); i >= 0 {
		if e.ex == nil {
			return true
		}
		e.ex.grant(GrantReason{Source: SourceClient, ClientID: cl.ID, Permission: cl.Grants[i].Permission()}, seeClient(cl.Namespace))
		allowed = true
	}
	for _, id := range cl.Roles {
		role := e.v.Role(id)
		if role == nil {
			continue
		}
		if e.ex != nil {
			e.ex.considered = append(e.ex.considered, seeClient(cl.Namespace))
		}
		rb := b
		if role.Wildcard {
			rb.Namespaces = ctxNS[:]
		}
		if i := e.match(role.Set, &rb); i >= 0 {
			if e.ex == nil {
				return true
			}
			if !allowed {
				e.ex.grant(GrantReason{Source: SourceClientRole, ClientID: cl.ID,
					RoleID: role.ID, RoleName: role.Name, IsWildcard: role.Wildcard, Permission: role.Grants[i].Permission()}, seeClient(cl.Namespace))
			}
			allowed = true
		}
	}
	return allowed
}

// token evaluates a token: valid now, its own permissions ({namespace}
// bound to the token's namespace, {userId} to its owner) allow it, and its
// owner still holds it.
func (e *evaluation) token(t *index.Token) bool {
	if e.ex != nil {
		e.ex.at(t.NotBefore, e.c.Now)
		e.ex.at(t.ExpiresAt, e.c.Now)
	}
	if !t.Valid(e.now()) {
		if e.ex != nil {
			e.ex.notes = append(e.ex.notes, explainNote{"token " + t.ID + " is expired or not yet valid", "the token is expired or not yet valid", seeToken(t)})
		}
		return false
	}
	own := [1]string{t.Namespace}
	b := perm.Binding{UserID: t.Owner.ID, Namespaces: own[:]}
	i := e.match(t.Set, &b)
	if i < 0 {
		if e.ex != nil {
			e.ex.notes = append(e.ex.notes, explainNote{"no permission of token " + t.ID + " covers it", "no permission of the token covers it", seeToken(t)})
		}
		return false
	}
	if e.ex != nil {
		e.ex.grant(GrantReason{Source: SourceToken, TokenID: t.ID, Permission: t.Grants[i].Permission()}, seeToken(t))
	}
	var ok bool
	switch t.Owner.Type {
	case events.ActorUser:
		ok = e.user(t.Owner.ID)
	case events.ActorClient:
		if cl := e.v.Client(t.Owner.ID); cl != nil {
			ok = e.client(cl)
		}
	}
	if !ok && e.ex != nil {
		e.ex.notes = append(e.ex.notes, explainNote{"the token's owner " + t.Owner.Type + " " + t.Owner.ID + " no longer holds it",
			"the token's owner no longer holds it", seeToken(t)})
	}
	return ok
}
