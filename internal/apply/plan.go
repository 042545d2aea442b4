package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// Operations of a plan's steps.
const (
	Create = "create"
	Change = "change"
	Delete = "delete"
)

// Step is one change of a plan: one command (two for a role whose flags
// and permissions both change).
type Step struct {
	Op, Kind, Key string
	// Details are the step's diff lines (permission changes, who gains or
	// loses what).
	Details []string
	run     func(r *runner)
}

// Plan is what applying a Set to a server would do, in the order it
// would do it.
type Plan struct {
	Steps []Step
	// Revision is the revision the state was read at.
	Revision uint64
}

// Invalid is a plan that cannot be applied: every problem found, before
// anything was written.
type Invalid struct{ Problems []string }

// Error lists the problems.
func (e *Invalid) Error() string {
	return "the plan is invalid, nothing was changed:\n  " + strings.Join(e.Problems, "\n  ")
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 }

// Print writes the plan, one line per step and its details indented.
func (p *Plan) Print(w io.Writer) {
	if p.Empty() {
		fmt.Fprintf(w, "No changes (revision %d).\n", p.Revision)
		return
	}
	n := map[string]int{}
	for _, s := range p.Steps {
		n[s.Op]++
		sign := map[string]string{Create: "+", Change: "~", Delete: "-"}[s.Op]
		fmt.Fprintf(w, "%s %s %s %s\n", sign, s.Op, s.Kind, s.Key)
		for _, d := range s.Details {
			fmt.Fprintf(w, "    %s\n", d)
		}
	}
	fmt.Fprintf(w, "Plan: %d to create, %d to change, %d to delete (state at revision %d).\n", n[Create], n[Change], n[Delete], p.Revision)
}

// runner turns a plan's steps into the commands of one transaction: it
// names the roles created on the way (their ids are chosen here, so that
// later commands can refer to them).
type runner struct {
	steps   []client.TxStep
	roleIDs map[string]string
}

// do adds command op with fields to the transaction. For role.create it
// chooses the new role's id, and returns it.
func (r *runner) do(op string, fields map[string]any) (roleID string) {
	if op == "role.create" {
		roleID = uuid.NewString()
		fields["roleId"] = roleID
	}
	r.steps = append(r.steps, client.TxStep{Op: op, Request: fields})
	return roleID
}

func (r *runner) roles(names []string) []string {
	ids := make([]string, 0, len(names))
	for _, n := range names {
		ids = append(ids, r.roleIDs[n])
	}
	return ids
}

// Result is what Apply did.
type Result struct {
	// Applied is the number of plan steps applied.
	Applied int
	// Commands is the number of commands they made.
	Commands int
	// Revision is the revision of the transaction (the state's when the
	// plan was empty).
	Revision uint64
}

// Apply commits the plan's steps with reason as one transaction (POST
// /v1/transactions): all of them or none, at one revision. The server
// decides each command against the state the ones before it leave, with
// the commands' own validation and authorization, so a plan made from a
// state that has changed since is refused whole (re-plan and apply
// again), never applied in part.
func (p *Plan) Apply(ctx context.Context, cl *client.Client, st *State, reason string) (Result, error) {
	r := &runner{roleIDs: map[string]string{}}
	for k, v := range st.RoleIDs {
		r.roleIDs[k] = v
	}
	res := Result{Revision: p.Revision}
	if p.Empty() {
		return res, nil
	}
	for _, s := range p.Steps {
		s.run(r)
	}
	if len(r.steps) > command.MaxTxSteps {
		return res, fmt.Errorf("the plan makes %d commands; one apply commits at most %d at once: split the file in parts and apply each",
			len(r.steps), command.MaxTxSteps)
	}
	var opts []client.CallOption
	if reason != "" {
		opts = append(opts, client.WithReason(reason))
	}
	rev, err := cl.Transaction(ctx, r.steps, opts...)
	if err != nil {
		return res, fmt.Errorf("nothing was changed: %w", err)
	}
	return Result{Applied: len(p.Steps), Commands: len(r.steps), Revision: rev}, nil
}

// NewPlan diffs want against the server's state st: what to create and
// change, and with prune what to delete (objects the server holds that
// want does not name). It validates the whole of want against st first,
// with the rules of the commands it will send, and returns an *Invalid
// listing every problem.
func NewPlan(want Set, st *State, prune bool) (*Plan, error) {
	b := &builder{want: want, st: st, prune: prune, plan: &Plan{Revision: st.Revision}}
	b.index()
	b.validate()
	if len(b.problems) > 0 {
		return nil, &Invalid{Problems: b.problems}
	}
	b.roles()
	b.namespaces()
	b.scopes()
	b.endpoints()
	b.assignments()
	if prune {
		b.pruneAll()
	}
	if len(b.problems) > 0 {
		return nil, &Invalid{Problems: b.problems}
	}
	return b.plan, nil
}

type builder struct {
	want     Set
	st       *State
	prune    bool
	plan     *Plan
	problems []string

	// Desired roles by name (canonical permissions), current by name.
	wantRoles, haveRoles map[string]*Role
	haveNS               map[string]*Namespace
	haveScopes           map[string]*Scope
	wantScopes           map[string]*Scope
	haveEndpoints        map[string]*Endpoint
	haveAssignments      map[string]*Assignment
	wantAssignments      map[string]*Assignment
	// deleted are the (kind, key) the plan deletes.
	deleted map[string]bool
}

func (b *builder) problem(format string, args ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

func (b *builder) add(s Step) { b.plan.Steps = append(b.plan.Steps, s) }

func (b *builder) index() {
	b.haveRoles = map[string]*Role{}
	for i := range b.st.Set.Roles {
		b.haveRoles[b.st.Set.Roles[i].Name] = &b.st.Set.Roles[i]
	}
	b.haveNS = map[string]*Namespace{}
	for i := range b.st.Set.Namespaces {
		b.haveNS[b.st.Set.Namespaces[i].Name] = &b.st.Set.Namespaces[i]
	}
	b.haveScopes = map[string]*Scope{}
	for i := range b.st.Set.Scopes {
		b.haveScopes[b.st.Set.Scopes[i].Name] = &b.st.Set.Scopes[i]
	}
	b.haveEndpoints = map[string]*Endpoint{}
	for i := range b.st.Set.Endpoints {
		b.haveEndpoints[endpointKey(b.st.Set.Endpoints[i])] = &b.st.Set.Endpoints[i]
	}
	b.haveAssignments = map[string]*Assignment{}
	for i := range b.st.Set.Assignments {
		b.haveAssignments[assignmentKey(b.st.Set.Assignments[i])] = &b.st.Set.Assignments[i]
	}
	b.wantRoles = map[string]*Role{}
	b.wantScopes = map[string]*Scope{}
	b.wantAssignments = map[string]*Assignment{}
	b.deleted = map[string]bool{}
}

// roleExists reports whether role name exists after the plan.
func (b *builder) roleExists(name string) bool {
	if b.wantRoles[name] != nil {
		return true
	}
	return b.haveRoles[name] != nil && !b.prune
}

// roleAfter is role name as it will be after the plan.
func (b *builder) roleAfter(name string) *Role {
	if r := b.wantRoles[name]; r != nil {
		return r
	}
	return b.haveRoles[name]
}

// canonical validates ps as the role and endpoint commands do and returns
// them canonical and sorted; template allows a scope's placeholders.
func (b *builder) canonical(where string, ps []Permission, template bool) []Permission {
	out := make([]Permission, 0, len(ps))
	seen := map[string]bool{}
	for i, p := range ps {
		validate := perm.ValidatePermission
		if template {
			validate = perm.ValidateTemplate
		}
		vp, err := validate(perm.Permission{Resource: p.Resource, Action: perm.Action(p.Action)})
		if err != nil {
			b.problem("%s: permissions[%d]: %v", where, i, err)
			continue
		}
		if seen[vp.Resource] {
			b.problem("%s: permissions[%d]: %s is listed twice", where, i, vp.Resource)
			continue
		}
		seen[vp.Resource] = true
		out = append(out, Permission{Resource: vp.Resource, Action: Action(vp.Action)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

func validRoleName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func validIdent(s string, extra string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && !strings.ContainsRune(extra, rune(c)) {
			return false
		}
	}
	return true
}

// validate checks the whole of want, with the rules of the commands the
// plan sends and against the state the plan starts from. The roles of
// want are made canonical on the way.
func (b *builder) validate() {
	for i := range b.want.Roles {
		r := &b.want.Roles[i]
		where := "Role " + r.Name
		if !validRoleName(r.Name) {
			b.problem("Role %q: name: use 1-64 letters and digits", r.Name)
		}
		if b.wantRoles[r.Name] != nil {
			b.problem("%s: declared twice", where)
		}
		if len(r.Description) > 1024 {
			b.problem("%s: description is longer than 1024 bytes", where)
		}
		r.Permissions = b.canonical(where, r.Permissions, false)
		b.wantRoles[r.Name] = r
	}
	wantNS := map[string]bool{}
	for i := range b.want.Namespaces {
		n := &b.want.Namespaces[i]
		where := "Namespace " + n.Name
		if !events.ValidNamespace(n.Name) {
			b.problem("Namespace %q: name: use 1-64 letters, digits, '-' or '_', starting with a letter or digit", n.Name)
		}
		if wantNS[n.Name] {
			b.problem("%s: declared twice", where)
		}
		wantNS[n.Name] = true
		if n.Parent != "" && (!events.ValidNamespace(n.Parent) || n.Parent == n.Name) {
			b.problem("%s: parent %q is not a valid namespace", where, n.Parent)
		}
		if n.DefaultRoles != nil {
			drs := sortedCopy(*n.DefaultRoles)
			if drs == nil {
				drs = []string{}
			}
			n.DefaultRoles = &drs
			for _, name := range drs {
				if !b.roleExists(name) {
					b.problem("%s: default role %q does not exist and is not declared", where, name)
				}
			}
		}
		if have := b.haveNS[n.Name]; have != nil && n.DefaultRoles == nil && b.prune {
			// It stays with the default roles it has: none may be pruned.
			for _, r := range *have.DefaultRoles {
				if b.wantRoles[r] == nil {
					b.problem("%s: its default role %s is not declared, so --prune would delete it; declare the role", where, r)
				}
			}
		}
		if have := b.haveNS[n.Name]; have != nil {
			if have.Parent != n.Parent || (n.DefaultRoles != nil && !slices.Equal(*have.DefaultRoles, *n.DefaultRoles)) {
				b.problem("%s: exists with parent %q and default roles %v; a namespace's parent and default roles cannot be changed in place (delete it first)",
					where, have.Parent, *have.DefaultRoles)
			}
		}
	}
	for i := range b.want.Scopes {
		s := &b.want.Scopes[i]
		where := "Scope " + s.Name
		if !validIdent(s.Name, "_-:") {
			b.problem("Scope %q: name: use 1-64 letters, digits, '_', '-' or ':'", s.Name)
		}
		if b.wantScopes[s.Name] != nil {
			b.problem("%s: declared twice", where)
		}
		if len(s.Description) > 1024 {
			b.problem("%s: description is longer than 1024 bytes", where)
		}
		s.Permissions = b.canonical(where, s.Permissions, true)
		s.Includes = nilIfEmpty(sortedCopy(s.Includes))
		b.wantScopes[s.Name] = s
	}
	for _, s := range b.want.Scopes {
		for _, inc := range s.Includes {
			if b.wantScopes[inc] == nil && (b.haveScopes[inc] == nil || b.prune) {
				b.problem("Scope %s: includes scope %q, which does not exist and is not declared", s.Name, inc)
			}
		}
	}
	wantEP := map[string]bool{}
	for i := range b.want.Endpoints {
		e := &b.want.Endpoints[i]
		where := "Endpoint " + endpointKey(*e)
		if !validIdent(e.Service, "_-") || !validIdent(e.Name, "_-") {
			b.problem("%s: service and endpoint names: use 1-64 letters, digits, '_' or '-'", where)
		}
		if wantEP[endpointKey(*e)] {
			b.problem("%s: declared twice", where)
		}
		wantEP[endpointKey(*e)] = true
		// As the server validates it: the required resource may name the
		// path's parameters ({clientId}); methods are kept in upper case.
		p, err := command.ValidateEndpoint(command.RegisterEndpoint{Method: e.Method, Path: e.Path,
			Resource: e.Resource, Action: perm.Action(e.Action)})
		if err != nil {
			b.problem("%s: %v", where, err)
		} else {
			e.Resource, e.Method = p.Resource, strings.ToUpper(e.Method)
		}
	}
	for i := range b.want.Assignments {
		a := &b.want.Assignments[i]
		where := "Assignment " + assignmentKey(*a)
		if !events.ValidNamespace(a.Namespace) {
			b.problem("%s: namespace %q is not valid", where, a.Namespace)
		}
		if !events.ValidID(a.User) {
			b.problem("%s: user %q is not valid: use 1-128 letters, digits, '-' or '_'", where, a.User)
		}
		if b.wantAssignments[assignmentKey(*a)] != nil {
			b.problem("%s: declared twice", where)
		}
		b.wantAssignments[assignmentKey(*a)] = a
		a.AssignedNamespaces = nilIfEmpty(sortedCopy(a.AssignedNamespaces))
		a.NotBefore, a.NotAfter = utc(a.NotBefore), utc(a.NotAfter)
		if len(a.AssignedNamespaces) > 100 {
			b.problem("%s: %d assignedNamespaces; the limit is 100", where, len(a.AssignedNamespaces))
		}
		for _, n := range a.AssignedNamespaces {
			if !events.ValidNamespace(n) {
				b.problem("%s: assignedNamespaces has %q, not a valid namespace", where, n)
			}
		}
		if a.NotBefore != nil && a.NotAfter != nil && !a.NotAfter.After(*a.NotBefore) {
			b.problem("%s: notAfter must be after notBefore", where)
		}
		if !b.roleExists(a.Role) {
			b.problem("%s: role %q does not exist and is not declared", where, a.Role)
		} else if r := b.roleAfter(a.Role); !r.IsWildcard && len(a.AssignedNamespaces) == 0 {
			b.problem("%s: role %s is not a wildcard role: give the namespaces it applies in (assignedNamespaces)", where, a.Role)
		}
	}
}

// permDiff is the permission-level diff from have to want.
func permDiff(have, want []Permission) (lines []string, gained, lost []Permission) {
	h := map[string]Action{}
	for _, p := range have {
		h[p.Resource] = p.Action
	}
	w := map[string]Action{}
	for _, p := range want {
		w[p.Resource] = p.Action
		old, ok := h[p.Resource]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("+ %s %s", p.Resource, p.Action.Letters()))
			gained = append(gained, p)
		case old != p.Action:
			lines = append(lines, fmt.Sprintf("~ %s %s -> %s", p.Resource, old.Letters(), p.Action.Letters()))
			if g := p.Action &^ old; g != 0 {
				gained = append(gained, Permission{p.Resource, g})
			}
			if l := old &^ p.Action; l != 0 {
				lost = append(lost, Permission{p.Resource, l})
			}
		}
	}
	for _, p := range have {
		if _, ok := w[p.Resource]; !ok {
			lines = append(lines, fmt.Sprintf("- %s %s", p.Resource, p.Action.Letters()))
			lost = append(lost, p)
		}
	}
	return lines, gained, lost
}

func permsText(ps []Permission) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, p.Resource+" "+p.Action.Letters())
	}
	return strings.Join(parts, ", ")
}

// whoLines says who gains and loses what through a role's members, and
// the namespaces whose users hold it by default.
func (b *builder) whoLines(role string, gained, lost []Permission) []string {
	var out []string
	var who []string
	for _, m := range b.st.Members[role] {
		who = append(who, m.Namespace+"/"+m.UserID)
	}
	for _, n := range b.st.Set.Namespaces {
		if n.DefaultRoles != nil && slices.Contains(*n.DefaultRoles, role) {
			who = append(who, n.Name+"/* (default role)")
		}
	}
	if len(who) == 0 {
		return nil
	}
	shown := who
	if len(shown) > 20 {
		shown = append(slices.Clone(shown[:20]), fmt.Sprintf("... %d more", len(who)-20))
	}
	if len(gained) > 0 {
		out = append(out, fmt.Sprintf("gain %s: %s", permsText(gained), strings.Join(shown, ", ")))
	}
	if len(lost) > 0 {
		out = append(out, fmt.Sprintf("lose %s: %s", permsText(lost), strings.Join(shown, ", ")))
	}
	return out
}

func permsJSON(ps []Permission) []client.Permission {
	out := make([]client.Permission, 0, len(ps))
	for _, p := range ps {
		out = append(out, client.Permission{Resource: p.Resource, Action: perm.Action(p.Action)})
	}
	return out
}

func (b *builder) roles() {
	for _, w := range b.want.Roles {
		have := b.haveRoles[w.Name]
		if have == nil {
			var details []string
			for _, p := range w.Permissions {
				details = append(details, fmt.Sprintf("+ %s %s", p.Resource, p.Action.Letters()))
			}
			b.add(Step{Op: Create, Kind: KindRole, Key: w.Name, Details: details,
				run: func(r *runner) {
					r.roleIDs[w.Name] = r.do("role.create", map[string]any{"roleName": w.Name, "adminRole": w.AdminRole,
						"isWildcard": w.IsWildcard, "description": w.Description, "permissions": permsJSON(w.Permissions)})
				}})
			continue
		}
		var details []string
		upd := map[string]any{}
		if have.AdminRole != w.AdminRole {
			upd["adminRole"] = w.AdminRole
			details = append(details, fmt.Sprintf("adminRole: %t -> %t", have.AdminRole, w.AdminRole))
		}
		if have.IsWildcard != w.IsWildcard {
			upd["isWildcard"] = w.IsWildcard
			details = append(details, fmt.Sprintf("isWildcard: %t -> %t", have.IsWildcard, w.IsWildcard))
		}
		if have.Description != w.Description {
			upd["description"] = w.Description
			details = append(details, fmt.Sprintf("description: %q -> %q", have.Description, w.Description))
		}
		lines, gained, lost := permDiff(have.Permissions, w.Permissions)
		details = append(details, lines...)
		details = append(details, b.whoLines(w.Name, gained, lost)...)
		if len(details) == 0 {
			continue
		}
		b.add(Step{Op: Change, Kind: KindRole, Key: w.Name, Details: details,
			run: func(r *runner) {
				id := r.roleIDs[w.Name]
				if len(upd) > 0 {
					upd["roleId"] = id
					r.do("role.update", upd)
				}
				if len(lines) > 0 {
					r.do("role.permissions.replace", map[string]any{"roleId": id, "permissions": permsJSON(w.Permissions)})
				}
			}})
	}
}

func (b *builder) namespaces() {
	for _, w := range b.want.Namespaces {
		if b.haveNS[w.Name] != nil {
			continue // equal: validate refused any difference
		}
		var details []string
		if w.Parent != "" {
			details = append(details, "parent: "+w.Parent)
		}
		if w.DefaultRoles != nil {
			details = append(details, "defaultRoles: "+strings.Join(*w.DefaultRoles, ", "))
		}
		if b.st.Implicit[w.Name] {
			details = append(details, "exists implicitly (it has events): this makes it explicit")
		}
		b.add(Step{Op: Create, Kind: KindNamespace, Key: w.Name, Details: details,
			run: func(r *runner) {
				f := map[string]any{"namespace": w.Name}
				if w.Parent != "" {
					f["parent"] = w.Parent
				}
				if w.DefaultRoles != nil {
					f["defaultRoles"] = r.roles(*w.DefaultRoles)
				}
				r.do("namespace.create", f)
			}})
	}
}

// scopes defines the scopes that differ, each after those it includes.
func (b *builder) scopes() {
	done := map[string]bool{}
	for name := range b.haveScopes {
		done[name] = true
	}
	pending := slices.Clone(b.want.Scopes)
	for len(pending) > 0 {
		var next []Scope
		for _, w := range pending {
			ready := true
			for _, inc := range w.Includes {
				if !done[inc] && b.wantScopes[inc] != nil {
					ready = false
				}
			}
			if !ready {
				next = append(next, w)
				continue
			}
			done[w.Name] = true
			have := b.haveScopes[w.Name]
			var details []string
			op := Create
			if have == nil {
				for _, p := range w.Permissions {
					details = append(details, fmt.Sprintf("+ %s %s", p.Resource, p.Action.Letters()))
				}
			} else {
				op = Change
				if have.Description != w.Description {
					details = append(details, fmt.Sprintf("description: %q -> %q", have.Description, w.Description))
				}
				lines, _, _ := permDiff(have.Permissions, w.Permissions)
				details = append(details, lines...)
				if !slices.Equal(have.Includes, w.Includes) {
					details = append(details, fmt.Sprintf("includes: %v -> %v", have.Includes, w.Includes))
				}
				if len(details) == 0 {
					continue
				}
			}
			if len(w.Includes) > 0 && have == nil {
				details = append(details, "includes: "+strings.Join(w.Includes, ", "))
			}
			b.add(Step{Op: op, Kind: KindScope, Key: w.Name, Details: details,
				run: func(r *runner) {
					r.do("scope.define", map[string]any{"name": w.Name, "description": w.Description,
						"permissions": permsJSON(w.Permissions), "includes": w.Includes})
				}})
		}
		if len(next) == len(pending) {
			// A cycle: validate cannot see it; NewPlan refuses the plan.
			b.problem("Scopes %s include each other in a cycle", scopeNames(next))
			return
		}
		pending = next
	}
}

func scopeNames(ss []Scope) string {
	names := make([]string, 0, len(ss))
	for _, s := range ss {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func (b *builder) endpoints() {
	for _, w := range b.want.Endpoints {
		have := b.haveEndpoints[endpointKey(w)]
		op := Create
		var details []string
		if have != nil {
			if *have == w {
				continue
			}
			op = Change
			if have.Resource != w.Resource || have.Action != w.Action {
				details = append(details, fmt.Sprintf("requires: %s %s -> %s %s", have.Resource, have.Action.Letters(), w.Resource, w.Action.Letters()))
			}
			if have.Method != w.Method || have.Path != w.Path {
				details = append(details, fmt.Sprintf("route: %s %s -> %s %s", have.Method, have.Path, w.Method, w.Path))
			}
		} else {
			details = append(details, fmt.Sprintf("requires %s %s", w.Resource, w.Action.Letters()))
		}
		b.add(Step{Op: op, Kind: KindEndpoint, Key: endpointKey(w), Details: details,
			run: func(r *runner) {
				r.do("endpoint.register", map[string]any{"service": w.Service, "endpoint": w.Name,
					"method": w.Method, "path": w.Path, "resource": w.Resource, "action": int(w.Action)})
			}})
	}
}

func timeText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func (b *builder) assignments() {
	for _, w := range b.want.Assignments {
		have := b.haveAssignments[assignmentKey(w)]
		op := Create
		var details []string
		if have != nil {
			if slices.Equal(have.AssignedNamespaces, w.AssignedNamespaces) && sameTime(have.NotBefore, w.NotBefore) && sameTime(have.NotAfter, w.NotAfter) {
				continue
			}
			op = Change
			if !slices.Equal(have.AssignedNamespaces, w.AssignedNamespaces) {
				details = append(details, fmt.Sprintf("assignedNamespaces: %v -> %v", have.AssignedNamespaces, w.AssignedNamespaces))
			}
			if !sameTime(have.NotBefore, w.NotBefore) || !sameTime(have.NotAfter, w.NotAfter) {
				details = append(details, fmt.Sprintf("window: %s..%s -> %s..%s", timeText(have.NotBefore), timeText(have.NotAfter), timeText(w.NotBefore), timeText(w.NotAfter)))
			}
		} else {
			if r := b.roleAfter(w.Role); r != nil && len(r.Permissions) > 0 {
				details = append(details, fmt.Sprintf("user %s gains %s", w.User, permsText(r.Permissions)))
			}
			if len(w.AssignedNamespaces) > 0 {
				details = append(details, "in "+strings.Join(w.AssignedNamespaces, ", "))
			}
		}
		b.add(Step{Op: op, Kind: KindAssignment, Key: assignmentKey(w), Details: details,
			run: func(r *runner) {
				f := map[string]any{"namespace": w.Namespace, "userId": w.User, "roleId": r.roleIDs[w.Role],
					"assignedNamespaces": w.AssignedNamespaces}
				if f["assignedNamespaces"] == nil {
					f["assignedNamespaces"] = []string{}
				}
				if w.NotBefore != nil {
					f["notBefore"] = w.NotBefore
				}
				if w.NotAfter != nil {
					f["notAfter"] = w.NotAfter
				}
				r.do("assign", f)
			}})
	}
}

// pruneAll deletes what the server holds and want does not name:
// assignments first, roles last.
func (b *builder) pruneAll() {
	for _, h := range b.st.Set.Assignments {
		if b.wantAssignments[assignmentKey(h)] != nil {
			continue
		}
		var details []string
		if r := b.haveRoles[h.Role]; r != nil && len(r.Permissions) > 0 {
			details = append(details, fmt.Sprintf("user %s loses %s", h.User, permsText(r.Permissions)))
		}
		b.add(Step{Op: Delete, Kind: KindAssignment, Key: assignmentKey(h), Details: details,
			run: func(r *runner) {
				r.do("unassign", map[string]any{"namespace": h.Namespace, "userId": h.User, "roleId": r.roleIDs[h.Role]})
			}})
	}
	wantEP := map[string]bool{}
	for _, e := range b.want.Endpoints {
		wantEP[endpointKey(e)] = true
	}
	for _, h := range b.st.Set.Endpoints {
		if wantEP[endpointKey(h)] {
			continue
		}
		b.add(Step{Op: Delete, Kind: KindEndpoint, Key: endpointKey(h),
			run: func(r *runner) {
				r.do("endpoint.delete", map[string]any{"service": h.Service, "endpoint": h.Name})
			}})
	}
	for _, h := range b.st.Set.Scopes {
		if b.wantScopes[h.Name] != nil {
			continue
		}
		b.add(Step{Op: Delete, Kind: KindScope, Key: h.Name,
			run: func(r *runner) {
				r.do("scope.delete", map[string]any{"name": h.Name})
			}})
	}
	wantNS := map[string]bool{}
	for _, n := range b.want.Namespaces {
		wantNS[n.Name] = true
	}
	for _, h := range b.st.Set.Namespaces {
		if wantNS[h.Name] {
			continue
		}
		b.add(Step{Op: Delete, Kind: KindNamespace, Key: h.Name,
			run: func(r *runner) {
				r.do("namespace.delete", map[string]any{"namespace": h.Name})
			}})
	}
	for _, h := range b.st.Set.Roles {
		if b.wantRoles[h.Name] != nil {
			continue
		}
		details := b.whoLines(h.Name, nil, h.Permissions)
		b.add(Step{Op: Delete, Kind: KindRole, Key: h.Name, Details: details,
			run: func(r *runner) {
				r.do("role.delete", map[string]any{"roleId": r.roleIDs[h.Name]})
			}})
	}
}

// IsInvalid reports whether err is an invalid plan.
func IsInvalid(err error) bool {
	var iv *Invalid
	return errors.As(err, &iv)
}
