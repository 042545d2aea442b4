package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Limits on command input.
const (
	MaxRoleNameLen       = 64
	MaxDescriptionLen    = 1024
	MaxPermissionsPerCmd = 1000
	MaxAssignedNS        = 100
	MaxReasonLen         = 1024
)

// CreateRole is the input of Service.CreateRole.
type CreateRole struct {
	// RoleID, when set, is the new role's id (1-128 letters, digits, '-'
	// or '_'; refused when a role has it); else the service makes one.
	// Declarative tools set it so that later commands can name the role
	// before it exists (grantlog apply, in one transaction).
	RoleID      string            `json:"roleId,omitempty"`
	RoleName    string            `json:"roleName"`
	AdminRole   bool              `json:"adminRole"`
	IsWildcard  bool              `json:"isWildcard"`
	Description string            `json:"description"`
	Permissions []perm.Permission `json:"permissions"`
}

// UpdateRole is the input of Service.UpdateRole; nil fields stay as they are.
type UpdateRole struct {
	RoleName    *string `json:"roleName"`
	AdminRole   *bool   `json:"adminRole"`
	IsWildcard  *bool   `json:"isWildcard"`
	Description *string `json:"description"`
}

func validateRoleName(name string) error {
	if name == "" {
		return errorf(ErrInvalid, "invalidRoleName", "roleName is required")
	}
	if len(name) > MaxRoleNameLen {
		return errorf(ErrInvalid, "invalidRoleName", "roleName is %d characters; the limit is %d", len(name), MaxRoleNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return errorf(ErrInvalid, "invalidRoleName",
				"roleName %q has %q at position %d: role names may contain only letters and digits", name, c, i)
		}
	}
	return nil
}

// validateMeta checks what a command carries besides its input, with one
// rule for every command (Service.execute runs it): the reason is text of
// at most MaxReasonLen bytes (line breaks allowed), the command and
// correlation ids single-line text of at most 128 bytes.
func validateMeta(m *Meta) error {
	if err := validText("invalidReason", "reason", m.Reason, MaxReasonLen, true); err != nil {
		return err
	}
	if err := validText("invalidIdempotencyKey", "Idempotency-Key", m.CommandID, MaxCommandIDLen, false); err != nil {
		return err
	}
	return validText("invalidRequestId", "request id", m.CorrelationID, MaxCorrelationIDLen, false)
}

// validDescription checks a description: text of at most
// MaxDescriptionLen bytes, line breaks allowed.
func validDescription(d string) error {
	return validText("invalidDescription", "description", d, MaxDescriptionLen, true)
}

// validatePermissions canonicalises ps. With allowZeroAction, an action of 0
// is accepted (removal of a whole resource).
func validatePermissions(ps []perm.Permission, allowZeroAction bool) ([]events.Permission, error) {
	if len(ps) > MaxPermissionsPerCmd {
		return nil, errorf(ErrInvalid, "tooManyPermissions", "%d permissions in one request; the limit is %d", len(ps), MaxPermissionsPerCmd)
	}
	out := make([]perm.Permission, 0, len(ps))
	for i, p := range ps {
		if allowZeroAction && p.Action == 0 {
			res, err := perm.CanonicalTag(p.Resource)
			if err != nil {
				return nil, errorf(ErrInvalid, "invalidPermission", "permissions[%d]: %v", i, err)
			}
			out = append(out, perm.Permission{Resource: res})
			continue
		}
		vp, err := perm.ValidatePermission(p)
		if err != nil {
			return nil, errorf(ErrInvalid, "invalidPermission", "permissions[%d]: %v", i, err)
		}
		out = append(out, vp)
	}
	return index.ToEvent(out), nil
}

func roleNotFound(id string) error {
	return errorf(ErrNotFound, "roleNotFound", "role %q does not exist; list roles with GET /v1/roles", id)
}

func nameTaken(name string, other *index.Role) error {
	return errorf(ErrConflict, "duplicateRoleName", "a role named %q already exists (roleId %s); choose another name", name, other.ID)
}

// CreateRole creates a role. It returns the event appended and its revision.
func (s *Service) CreateRole(ctx context.Context, m Meta, in CreateRole) (events.RoleCreated, uint64, error) {
	if err := s.authorize(ctx, &m, auth.PermRoles, perm.Create, ""); err != nil {
		return events.RoleCreated{}, 0, err
	}
	if err := validateMeta(&m); err != nil {
		return events.RoleCreated{}, 0, err
	}
	if err := validateRoleName(in.RoleName); err != nil {
		return events.RoleCreated{}, 0, err
	}
	if err := validDescription(in.Description); err != nil {
		return events.RoleCreated{}, 0, err
	}
	ps, err := validatePermissions(in.Permissions, false)
	if err != nil {
		return events.RoleCreated{}, 0, err
	}
	if err := s.holds(ctx, &m, "", index.FromEvent(ps), unbound, "role "+in.RoleName); err != nil {
		return events.RoleCreated{}, 0, err
	}
	ev := events.RoleCreated{
		RoleID: in.RoleID, RoleName: in.RoleName, AdminRole: in.AdminRole,
		IsWildcard: in.IsWildcard, Description: in.Description, Permissions: ps,
	}
	rq := req("CreateRole", in.RoleName, in.AdminRole, in.IsWildcard, in.Description, ps)
	var stored events.Payload
	rq.replay = &stored
	if in.RoleID == "" {
		ev.RoleID = uuid.NewString()
	} else {
		if !events.ValidID(in.RoleID) {
			return events.RoleCreated{}, 0, errorf(ErrInvalid, "invalidRoleId", "roleId %q is not valid: use 1-128 letters, digits, '-' or '_', or leave it out", in.RoleID)
		}
		rq.args = append(rq.args, in.RoleID)
	}
	rev, err := s.execute(ctx, events.PlatformNamespace, &m, rq, func(v index.View) (decision, error) {
		if other := v.Role(ev.RoleID); other != nil {
			return decision{}, errorf(ErrConflict, "duplicateRoleId", "a role with roleId %s already exists (named %q); leave roleId out to have one made", ev.RoleID, other.Name)
		}
		if v.RoleDeleted(ev.RoleID) {
			// Namespaces' default roles and clients' roles may still name
			// it: a new role must not inherit those.
			return decision{}, errorf(ErrConflict, "duplicateRoleId", "roleId %s belonged to a deleted role and is never used again; choose another, or leave roleId out", ev.RoleID)
		}
		if other := v.RoleByName(in.RoleName); other != nil {
			return decision{}, nameTaken(in.RoleName, other)
		}
		return decision{kind: events.KindRole, aggregateID: ev.RoleID, payload: ev}, nil
	})
	if p, ok := stored.(events.RoleCreated); ok {
		ev = p // a retry: the role the first attempt created
	}
	return ev, rev, err
}

// UpdateRole changes a role's name, flags or description.
func (s *Service) UpdateRole(ctx context.Context, m Meta, roleID string, in UpdateRole) (uint64, error) {
	if err := s.authorize(ctx, &m, auth.PermRoles, perm.Update, ""); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	if in.RoleName == nil && in.AdminRole == nil && in.IsWildcard == nil && in.Description == nil {
		return 0, errorf(ErrInvalid, "emptyUpdate", "nothing to update: give roleName, adminRole, isWildcard or description")
	}
	if in.RoleName != nil {
		if err := validateRoleName(*in.RoleName); err != nil {
			return 0, err
		}
	}
	if in.Description != nil {
		if err := validDescription(*in.Description); err != nil {
			return 0, err
		}
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("UpdateRole", roleID, in), func(v index.View) (decision, error) {
		r := v.Role(roleID)
		if r == nil {
			return decision{}, roleNotFound(roleID)
		}
		ev := events.RoleUpdated{RoleID: r.ID, RoleName: r.Name, AdminRole: r.Admin, IsWildcard: r.Wildcard, Description: r.Description, Before: roleState(r)}
		if in.RoleName != nil {
			if other := v.RoleByName(*in.RoleName); other != nil && other.ID != r.ID {
				return decision{}, nameTaken(*in.RoleName, other)
			}
			ev.RoleName = *in.RoleName
		}
		if in.AdminRole != nil {
			ev.AdminRole = *in.AdminRole
		}
		if in.IsWildcard != nil {
			ev.IsWildcard = *in.IsWildcard
		}
		if in.Description != nil {
			ev.Description = *in.Description
		}
		d := decision{kind: events.KindRole, aggregateID: r.ID, payload: ev}
		if ev.IsWildcard && !r.Wildcard {
			// Every assignment of the role will apply in every namespace.
			perms, name := r.Permissions, r.Name
			d.check = func() error {
				return s.holds(ctx, &m, "", perms, unbound, "making role "+name+" a wildcard role")
			}
		}
		return d, nil
	})
}

// PermissionOp says how Service.ChangePermissions changes a role's permissions.
type PermissionOp int

// Permission operations.
const (
	AddPermissions PermissionOp = iota
	RemovePermissions
	ReplacePermissions
)

// ChangePermissions adds, removes or replaces a role's permissions. For
// RemovePermissions an action of 0 removes the whole resource.
func (s *Service) ChangePermissions(ctx context.Context, m Meta, roleID string, op PermissionOp, ps []perm.Permission) (uint64, error) {
	if err := s.authorize(ctx, &m, auth.PermRoles, perm.Update, ""); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	eps, err := validatePermissions(ps, op == RemovePermissions)
	if err != nil {
		return 0, err
	}
	if op != ReplacePermissions && len(eps) == 0 {
		return 0, errorf(ErrInvalid, "invalidPermission", "permissions must list at least one permission")
	}
	if op != RemovePermissions {
		if err := s.holds(ctx, &m, "", index.FromEvent(eps), unbound, "role "+roleID); err != nil {
			return 0, err
		}
	}
	payloadOf := func(before *events.RoleState) events.Payload {
		switch op {
		case AddPermissions:
			return events.RolePermissionsAdded{RoleID: roleID, Permissions: eps, Before: before}
		case RemovePermissions:
			return events.RolePermissionsRemoved{RoleID: roleID, Permissions: eps, Before: before}
		case ReplacePermissions:
			return events.RolePermissionsReplaced{RoleID: roleID, Permissions: eps, Before: before}
		}
		return nil
	}
	if payloadOf(nil) == nil {
		return 0, fmt.Errorf("command: unknown permission op %d", op)
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("ChangePermissions", roleID, op, eps), func(v index.View) (decision, error) {
		r := v.Role(roleID)
		if r == nil {
			return decision{}, roleNotFound(roleID)
		}
		return decision{kind: events.KindRole, aggregateID: roleID, payload: payloadOf(roleState(r))}, nil
	})
}

// DeleteRole deletes a role, ending every assignment of it.
func (s *Service) DeleteRole(ctx context.Context, m Meta, roleID string) (uint64, error) {
	if err := s.authorize(ctx, &m, auth.PermRoles, perm.Delete, ""); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("DeleteRole", roleID), func(v index.View) (decision, error) {
		r := v.Role(roleID)
		if r == nil {
			return decision{}, roleNotFound(roleID)
		}
		return decision{kind: events.KindRole, aggregateID: roleID, payload: events.RoleDeleted{RoleID: roleID, Before: roleState(r)}}, nil
	})
}

func validateUserNS(ns, userID string) error {
	if !events.ValidNamespace(ns) {
		return errorf(ErrInvalid, "invalidNamespace",
			"namespace %q is not valid: use 1-64 letters, digits, '-' or '_', starting with a letter or digit", ns)
	}
	if !events.ValidID(userID) {
		return errorf(ErrInvalid, "invalidUserId",
			"userId %q is not valid: use 1-128 letters, digits, '-' or '_'", userID)
	}
	return nil
}

// AssignOptions are the optional parts of an assignment.
type AssignOptions struct {
	// NotBefore and NotAfter bound when the assignment is in force.
	NotBefore *time.Time
	NotAfter  *time.Time
}

// roleGrant is what a role gives, copied out of an index view.
type roleGrant struct {
	name     string
	wildcard bool
	perms    []perm.Permission
}

func grantOf(r *index.Role) roleGrant {
	return roleGrant{name: r.Name, wildcard: r.Wildcard, perms: r.Permissions}
}

// holdsRole requires the caller to hold every permission of role r as it
// would apply to user in namespaces nss (every namespace for a wildcard role).
func (s *Service) holdsRole(ctx context.Context, m *Meta, r roleGrant, nss []string, user string) error {
	what := "assigning role " + r.name
	if r.wildcard {
		return s.holds(ctx, m, "", r.perms, perm.RequiredBinding{Unbound: true}, what)
	}
	for _, n := range nss {
		if err := s.holds(ctx, m, n, r.perms, perm.RequiredBinding{Namespace: n, UserID: user}, what); err != nil {
			return err
		}
	}
	return nil
}

// AssignRole gives role roleID to user userID, made within namespace ns, for
// assignedNamespaces (required unless the role is a wildcard role). Assigning
// a role the user already holds in ns replaces its namespaces. The caller
// needs ADMIN:NAMESPACE:{ns}:ROLE:USER:{userID} Update (a grant of
// ROLE:USER:* covers every user) and must hold every permission the role
// would give there.
func (s *Service) AssignRole(ctx context.Context, m Meta, ns, userID, roleID string, assignedNamespaces []string, opts ...AssignOptions) (uint64, error) {
	var o AssignOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if err := validateWindow(o.NotBefore, o.NotAfter); err != nil {
		return 0, err
	}
	if err := validateUserNS(ns, userID); err != nil {
		return 0, err
	}
	if err := s.authorize(ctx, &m, auth.PermUserAssignment(ns, userID), perm.Update, ns); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	if len(assignedNamespaces) > MaxAssignedNS {
		return 0, errorf(ErrInvalid, "invalidAssignedNamespaces", "%d assignedNamespaces; the limit is %d", len(assignedNamespaces), MaxAssignedNS)
	}
	nss := make([]string, 0, len(assignedNamespaces))
	for _, n := range assignedNamespaces {
		if !events.ValidNamespace(n) {
			return 0, errorf(ErrInvalid, "invalidAssignedNamespaces",
				"assignedNamespaces has %q: use 1-64 letters, digits, '-' or '_', starting with a letter or digit", n)
		}
		nss = append(nss, n)
	}
	slices.Sort(nss)
	nss = slices.Compact(nss)
	var decidedAt uint64
	rev, err := s.execute(ctx, ns, &m, req("AssignRole", userID, roleID, nss, utcPtr(o.NotBefore), utcPtr(o.NotAfter)), func(v index.View) (decision, error) {
		decidedAt = v.Revision()
		r := v.Role(roleID)
		if r == nil {
			return decision{}, roleNotFound(roleID)
		}
		if !r.Wildcard && len(nss) == 0 {
			return decision{}, errorf(ErrInvalid, "invalidAssignedNamespaces",
				"role %s (%s) is not a wildcard role: give the namespaces it applies in as assignedNamespaces", r.Name, r.ID)
		}
		g := grantOf(r)
		var before *events.AssignmentState
		if old := findAssignment(v, ns, userID, roleID); old != nil {
			before = assignmentState(old)
		}
		return decision{kind: events.KindUser, aggregateID: userID, payload: events.UserRoleAssigned{
			UserID: userID, RoleID: roleID, AssignedNamespaces: nss, NotBefore: utcPtr(o.NotBefore), NotAfter: utcPtr(o.NotAfter),
			Before: before,
		}, check: func() error { return s.holdsRole(ctx, &m, g, nss, userID) }}, nil
	})
	if err != nil {
		return 0, err
	}
	// The role lives in the platform namespace, so the append above could
	// not expect its state. If it was deleted before the assignment landed,
	// the index ignores the assignment: say so rather than report success.
	if err := s.checkRoleAlive(ctx, roleID, decidedAt, rev); err != nil {
		return 0, err
	}
	return rev, nil
}

// checkRoleAlive returns a conflict if role roleID was deleted before
// revision rev, where an assignment of it decided at revision decidedAt
// (0: not decided by this call, a replayed command) was stored.
//
// The index knows the revision of a role's deletion: once it has applied
// rev (execute waits for that, bounded), it answers. Otherwise the role
// events stored after the decision and before rev are read from the
// stream: they share one subject per kind (events.Subject), so they are
// read in order from decidedAt+1, usually none.
func (s *Service) checkRoleAlive(ctx context.Context, roleID string, decidedAt, rev uint64) error {
	if s.tx != nil {
		// In a transaction: checked once it is stored.
		s.tx.roles = append(s.tx.roles, roleID)
		return nil
	}
	v := s.state.Acquire()
	applied := v.Revision()
	deletedAt, deleted := v.RoleDeletedAt(roleID)
	v.Release()
	switch {
	case applied >= rev && (!deleted || deletedAt > rev):
		return nil
	case applied >= rev && deletedAt != 0:
		return roleDeletedBefore(roleID, deletedAt, rev)
	}
	// The index has not reached rev, or it was written before it recorded
	// when roles were deleted: read the stream.
	filter := events.KindFilter(s.cfg.SubjectPrefix, events.PlatformNamespace, events.KindRole)
	for seq := decidedAt + 1; seq < rev; {
		msg, err := s.head.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("command: read the role events after revision %d: %w", seq-1, err)
		}
		if msg.Sequence >= rev {
			return nil
		}
		if msg.Header.Get(EventTypeHeader) == events.TypeRoleDeleted {
			ev, err := registry.Decode(msg.Data)
			if err != nil {
				return fmt.Errorf("command: decode event %d: %w", msg.Sequence, err)
			}
			if d, ok := ev.Data.(events.RoleDeleted); ok && d.RoleID == roleID {
				return roleDeletedBefore(roleID, msg.Sequence, rev)
			}
		}
		seq = msg.Sequence + 1
	}
	return nil
}

func roleDeletedBefore(roleID string, deletedAt, rev uint64) error {
	return errorf(ErrConflict, "roleDeleted",
		"role %s was deleted (revision %d) before this assignment was stored (revision %d); the assignment has no effect", roleID, deletedAt, rev)
}

// UnassignRole ends user userID's assignment of role roleID made in ns. The
// caller needs ADMIN:NAMESPACE:{ns}:ROLE:USER:{userID} Update.
func (s *Service) UnassignRole(ctx context.Context, m Meta, ns, userID, roleID string) (uint64, error) {
	if err := validateUserNS(ns, userID); err != nil {
		return 0, err
	}
	if err := s.authorize(ctx, &m, auth.PermUserAssignment(ns, userID), perm.Update, ns); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	return s.execute(ctx, ns, &m, req("UnassignRole", userID, roleID), func(v index.View) (decision, error) {
		if a := findAssignment(v, ns, userID, roleID); a != nil {
			return decision{kind: events.KindUser, aggregateID: userID, payload: events.UserRoleUnassigned{
				UserID: userID, RoleID: roleID, Before: assignmentState(a),
			}}, nil
		}
		return decision{}, errorf(ErrNotFound, "assignmentNotFound",
			"user %s has no assignment of role %s in namespace %s", userID, roleID, ns)
	})
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func validateWindow(notBefore, notAfter *time.Time) error {
	if notBefore != nil && notAfter != nil && !notBefore.Before(*notAfter) {
		return errorf(ErrInvalid, "invalidTimeWindow", "notBefore %s must be before notAfter %s",
			notBefore.Format(time.RFC3339), notAfter.Format(time.RFC3339))
	}
	return nil
}
