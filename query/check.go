package query

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Subject types.
const (
	SubjectUser   = "user"
	SubjectClient = "client"
	SubjectToken  = "token"
)

// Subject is who a check is about: a user or client by id, or a token by
// its secret.
type Subject struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	Token string `json:"token,omitempty"`
}

// EndpointRef names a catalog endpoint instead of a resource and action.
// Params bind the endpoint's placeholders ({namespace} falls back to the
// check's namespace, {userId} to the subject's user).
type EndpointRef struct {
	Service string            `json:"service"`
	Name    string            `json:"name"`
	Params  map[string]string `json:"params,omitempty"`
}

// CheckRequest asks whether Subject may do Action on Resource (or what
// Endpoint requires), signed into Namespace.
type CheckRequest struct {
	Subject   Subject     `json:"subject"`
	Namespace string      `json:"namespace"`
	Resource  string      `json:"resource,omitempty"`
	Action    perm.Action `json:"action,omitempty"`
	// Endpoint replaces Resource and Action with a catalog entry's.
	Endpoint *EndpointRef `json:"endpoint,omitempty"`
	// Attributes are the request's attributes, for constraints.
	Attributes map[string]perm.Value `json:"attributes,omitempty"`
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
	// Grants lists what allowed it: for a token, the token's permission and
	// then its owner's. Empty when denied.
	Grants []GrantReason `json:"grants,omitempty"`
	// Considered is how many assignments (and default roles, client roles)
	// were looked at: through the API, only those the caller may read.
	Considered int `json:"considered"`
	// EvaluatedAt is the instant the check was evaluated at.
	EvaluatedAt time.Time `json:"evaluatedAt"`
	// ChangesAt, when set, is the next instant at which the answer may
	// change by itself (a validity window, schedule or expiry boundary).
	ChangesAt *time.Time `json:"changesAt,omitempty"`
	// Summary says it in words.
	Summary string `json:"summary"`
	// Withheld is set when some grant that allows the check is left out:
	// an explanation through the API shows only what the caller may read
	// (an assignment needs the caller to hold
	// ADMIN:NAMESPACE:{namespace}:ROLE:USER:* Read in the assignment's
	// namespace, as listing the user's roles there does).
	Withheld bool `json:"withheld,omitempty"`
}

// Grant sources.
const (
	SourceAssignment  = "assignment"
	SourceDefaultRole = "namespaceDefaultRole"
	SourceClient      = "clientPermission"
	SourceClientRole  = "clientRole"
	SourceToken       = "tokenPermission"
)

// GrantReason names what granted (part of) a check.
type GrantReason struct {
	Source              string          `json:"source"`
	RoleID              string          `json:"roleId,omitempty"`
	RoleName            string          `json:"roleName,omitempty"`
	IsWildcard          bool            `json:"isWildcard,omitempty"`
	AssignmentNamespace string          `json:"assignmentNamespace,omitempty"`
	AssignedNamespaces  []string        `json:"assignedNamespaces,omitempty"`
	ClientID            string          `json:"clientId,omitempty"`
	TokenID             string          `json:"tokenId,omitempty"`
	Permission          perm.Permission `json:"permission"`
	AssignedAtRevision  uint64          `json:"assignedAtRevision,omitempty"`
}

// MaxTokenLen bounds a token secret in a check.
const MaxTokenLen = 256

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
	if req.Endpoint != nil && (req.Resource != "" || req.Action != 0) {
		return invalid("invalidEndpoint", "give either endpoint, or resource and action, not both")
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
	if req.Endpoint != nil {
		ep := v.Endpoint(req.Endpoint.Service, req.Endpoint.Name)
		if ep == nil {
			return CheckResult{}, nil, errorf(ErrNotFound, "endpointNotFound",
				"endpoint %s/%s is not in the catalog; register it with PUT /v1/endpoints/%s/%s",
				req.Endpoint.Service, req.Endpoint.Name, req.Endpoint.Service, req.Endpoint.Name)
		}
		resource, action = ep.Resource, ep.Action
		if p := req.Endpoint.Params["namespace"]; p != "" {
			bind.Namespace = p
		}
		if p := req.Endpoint.Params["userId"]; p != "" {
			bind.UserID = p
		}
	}
	if v.HasParents() {
		bind.Parent = v.Parent
	}
	if err := ev.r.Parse(resource, action, bind); err != nil {
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

// seeRule is the read that shows a part of an explanation: the caller must
// hold resource Read in namespace ns, as the read listing that part needs.
type seeRule struct{ resource, ns string }

// Rules of the reads that list what explanations show.
func seeAssignment(ns string) seeRule  { return seeRule{auth.PermAssignment(ns), ns} }
func seeDefaultRole(ns string) seeRule { return seeRule{auth.PermNamespace(ns), ns} }
func seeClient(ns string) seeRule      { return seeRule{auth.PermClient(ns), ns} }
func seeToken(t *index.Token) seeRule {
	return seeRule{auth.PermToken(t.Namespace, t.Owner.ID), t.Namespace}
}

// readable returns whether caller may read what a rule guards, asking the
// authorizer once per rule (fail closed: any error hides).
func (e *Engine) readable(ctx context.Context, caller events.Caller) func(seeRule) bool {
	seen := map[seeRule]bool{}
	return func(r seeRule) bool {
		ok, done := seen[r]
		if !done {
			ok = e.authorize(ctx, ReadOptions{Caller: caller}, r.resource, perm.Read, r.ns) == nil
			seen[r] = ok
		}
		return ok
	}
}

// evaluation is one check in progress.
type evaluation struct {
	v  index.View
	r  perm.Required // by value: a pointer would escape with the explainer
	c  perm.Context  // c.Now is read through now()
	ns string
	ex *explainer // nil on the fast path
	// clock is the engine's clock, read once, and only when the check
	// needs the instant (a bounded assignment, a token, a conditional
	// grant, an explanation): most checks do not.
	clock  func() time.Time
	nowSet bool
}

// now returns the instant the check is evaluated at, reading the clock on
// first use.
func (e *evaluation) now() time.Time {
	if !e.nowSet {
		e.c.Now, e.nowSet = e.clock(), true
	}
	return e.c.Now
}

type explainer struct {
	grants []GrantReason
	see    []seeRule // what shows grants[i]
	// considered has what shows each assignment, default role and client
	// role looked at.
	considered []seeRule
	next       time.Time
	notes      []explainNote

	// Set when the evaluation ends.
	required                    perm.Permission
	now                         time.Time
	allowed                     bool
	unknownClient, unknownToken bool
	// Set by redact.
	redacted, withheld bool
}

// explainNote is a note of a denial; plain replaces text for a caller who
// may not read what see guards.
type explainNote struct {
	text, plain string
	see         seeRule
}

func (x *explainer) grant(g GrantReason, see seeRule) {
	x.grants = append(x.grants, g)
	x.see = append(x.see, see)
}

// redact drops the grants, considered items and note details the caller
// may not read (visible says what it may). The answer is unchanged.
func (x *explainer) redact(visible func(seeRule) bool) {
	x.redacted = true
	kept := x.grants[:0]
	for i := range x.grants {
		if visible(x.see[i]) {
			kept = append(kept, x.grants[i])
		} else {
			x.withheld = true
		}
	}
	x.grants, x.see = kept, nil
	n := 0
	for _, r := range x.considered {
		if visible(r) {
			x.considered[n] = r
			n++
		}
	}
	x.considered = x.considered[:n]
	for i := range x.notes {
		if !visible(x.notes[i].see) {
			x.notes[i].text = x.notes[i].plain
		}
	}
}

func (x *explainer) at(t time.Time, now time.Time) {
	if t.After(now) && (x.next.IsZero() || t.Before(x.next)) {
		x.next = t
	}
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
	for _, a := range e.v.Assignments(userID) {
		if e.ex != nil {
			e.ex.considered = append(e.ex.considered, seeAssignment(a.Namespace))
			e.ex.at(a.NotBefore(), e.c.Now)
			e.ex.at(a.NotAfter(), e.c.Now)
		}
		if a.Bounded() && !a.InForce(e.now()) {
			continue
		}
		role := a.Role()
		b := perm.Binding{UserID: userID, Namespaces: a.AssignedNamespaces}
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
					AssignmentNamespace: a.Namespace, AssignedNamespaces: a.AssignedNamespaces,
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

// finish builds the explanation of req.
func (x *explainer) finish(req *CheckRequest) *Explanation {
	ex := &Explanation{
		Required:    x.required,
		Considered:  len(x.considered),
		EvaluatedAt: x.now,
		Withheld:    x.withheld,
	}
	if x.allowed {
		ex.Grants = x.grants
	}
	if !x.next.IsZero() {
		t := x.next
		ex.ChangesAt = &t
	}
	withheld := ""
	if x.withheld {
		withheld = " (and grants the caller may not read)"
	}
	switch {
	case x.unknownClient:
		ex.Summary = "denied: no client " + req.Subject.ID
	case x.unknownToken:
		ex.Summary = "denied: the token is unknown or revoked"
	case x.allowed && len(x.grants) == 0:
		ex.Summary = "allowed: by grants the caller may not read"
	case x.allowed && x.grants[len(x.grants)-1].Source == SourceToken:
		ex.Summary = "allowed: the token's permission " + x.grants[0].Permission.Resource + " allows it" + withheld
	case x.allowed:
		g := x.grants[len(x.grants)-1]
		var where string
		switch {
		case g.Source == SourceAssignment && g.IsWildcard:
			where = ", assigned in namespace " + g.AssignmentNamespace + " to apply in every namespace ({namespace} = " + req.Namespace + ")"
		case g.Source == SourceAssignment:
			where = ", assigned in namespace " + g.AssignmentNamespace + " to apply in namespaces " + strings.Join(g.AssignedNamespaces, ", ")
		case g.Source == SourceDefaultRole:
			where = ", a default role of namespace " + req.Namespace
		}
		who := "role " + g.RoleName + where
		if g.RoleName == "" {
			who = "the client's own permission"
		}
		ex.Summary = fmt.Sprintf("allowed: %s grants %s with action %s", who, g.Permission.Resource, g.Permission.Action)
		if len(x.grants) > 1 && x.grants[0].Source == SourceToken {
			ex.Summary += " (and the token's permission " + x.grants[0].Permission.Resource + " allows it)"
		} else if x.withheld {
			ex.Summary += withheld
		}
	case len(x.notes) > 0:
		texts := make([]string, len(x.notes))
		for i, n := range x.notes {
			texts[i] = n.text
		}
		ex.Summary = "denied: " + strings.Join(texts, "; ")
	case len(x.considered) == 0 && x.redacted:
		ex.Summary = "denied: the subject has no roles the caller may read"
	case len(x.considered) == 0:
		ex.Summary = "denied: the subject has no roles"
	default:
		ex.Summary = "denied: no permission of the subject's roles covers " + ex.Required.Resource + " with action " + x.required.Action.String()
	}
	return ex
}

// Allows reports whether caller, acting in namespace ns, holds resource
// with action ({namespace} in resource binds to ns, {userId} to the
// caller's user). It is the authorization primitive for the service's own
// API; the bootstrap credential is handled by the authorizer, not here.
func (e *Engine) Allows(caller events.Caller, ns, resource string, action perm.Action) (bool, error) {
	v := e.store.Acquire()
	defer v.Release()
	ev := evaluation{v: v, ns: ns, clock: e.cfg.Now}
	userID, run := e.callerEval(&ev, caller)
	if run == nil {
		return false, nil
	}
	bind := perm.RequiredBinding{Namespace: ns, UserID: userID}
	if v.HasParents() {
		bind.Parent = v.Parent
	}
	if err := ev.r.Parse(resource, action, bind); err != nil {
		return false, err
	}
	return run(), nil
}

// Holds reports whether caller holds permission p (with p's placeholders
// bound by bind, or kept unbound so that only "*" grants cover them), for
// the rule that nobody grants more than they hold. Constrained grants of
// the caller do not count.
func (e *Engine) Holds(caller events.Caller, ns string, p perm.Permission, bind perm.RequiredBinding) (bool, error) {
	v := e.store.Acquire()
	defer v.Release()
	ev := evaluation{v: v, ns: ns, clock: e.cfg.Now}
	_, run := e.callerEval(&ev, caller)
	if run == nil {
		return false, nil
	}
	if v.HasParents() && !bind.Unbound {
		bind.Parent = v.Parent
	}
	if err := ev.r.Parse(p.Resource, p.Action|p.SchedAction, bind); err != nil {
		return false, err
	}
	return run(), nil
}

// callerEval prepares the evaluation of a caller: its user id and the
// evaluation to run (nil when the caller is unknown).
func (e *Engine) callerEval(ev *evaluation, caller events.Caller) (string, func() bool) {
	switch caller.Type {
	case events.ActorUser:
		return caller.ID, func() bool { return ev.user(caller.ID) }
	case events.ActorClient:
		cl := ev.v.Client(caller.ID)
		if cl == nil {
			return "", nil
		}
		return cl.ID, func() bool { return ev.client(cl) }
	case events.ActorToken:
		t := ev.v.Token(caller.ID)
		if t == nil {
			return "", nil
		}
		return t.Owner.ID, func() bool { return ev.token(t) }
	}
	return "", nil
}
