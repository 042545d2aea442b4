package command

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// MaxBatchAssignments bounds one bulk assignment.
const MaxBatchAssignments = 10_000

// BatchAssignment is one assignment of a bulk assignment.
type BatchAssignment struct {
	UserID             string     `json:"userId"`
	RoleID             string     `json:"roleId"`
	AssignedNamespaces []string   `json:"assignedNamespaces"`
	NotBefore          *time.Time `json:"notBefore,omitempty"`
	NotAfter           *time.Time `json:"notAfter,omitempty"`
}

// AssignBatch makes up to MaxBatchAssignments assignments within namespace
// ns as one event: all or nothing, at one revision, with the same validation
// and authorization as AssignRole. It returns the revision.
func (s *Service) AssignBatch(ctx context.Context, m Meta, ns string, in []BatchAssignment) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	if len(in) == 0 || len(in) > MaxBatchAssignments {
		return 0, errorf(ErrInvalid, "invalidBatch", "give 1 to %d assignments (got %d); split larger imports", MaxBatchAssignments, len(in))
	}
	if err := s.authorize(ctx, &m, auth.PermAssignment(ns), perm.Update, ns); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	out := make([]events.UserRoleAssigned, len(in))
	seen := make(map[[2]string]int, len(in))
	for i, a := range in {
		if !events.ValidID(a.UserID) {
			return 0, errorf(ErrInvalid, "invalidUserId", "assignments[%d]: userId %q is not valid: use 1-128 letters, digits, '-' or '_'", i, a.UserID)
		}
		if a.RoleID == "" {
			return 0, errorf(ErrInvalid, "invalidRoleId", "assignments[%d]: roleId is required", i)
		}
		if j, dup := seen[[2]string{a.UserID, a.RoleID}]; dup {
			return 0, errorf(ErrInvalid, "duplicateAssignment", "assignments[%d] repeats assignments[%d] (user %s, role %s)", i, j, a.UserID, a.RoleID)
		}
		seen[[2]string{a.UserID, a.RoleID}] = i
		if err := validateWindow(a.NotBefore, a.NotAfter); err != nil {
			return 0, fmt.Errorf("assignments[%d]: %w", i, err)
		}
		if len(a.AssignedNamespaces) > MaxAssignedNS {
			return 0, errorf(ErrInvalid, "invalidAssignedNamespaces", "assignments[%d]: %d assignedNamespaces; the limit is %d", i, len(a.AssignedNamespaces), MaxAssignedNS)
		}
		nss := make([]string, 0, len(a.AssignedNamespaces))
		for _, n := range a.AssignedNamespaces {
			if !events.ValidNamespace(n) {
				return 0, errorf(ErrInvalid, "invalidAssignedNamespaces", "assignments[%d]: assignedNamespaces has %q", i, n)
			}
			nss = append(nss, n)
		}
		slices.Sort(nss)
		out[i] = events.UserRoleAssigned{UserID: a.UserID, RoleID: a.RoleID, AssignedNamespaces: slices.Compact(nss),
			NotBefore: utcPtr(a.NotBefore), NotAfter: utcPtr(a.NotAfter)}
	}
	var roles []string
	var decidedAt uint64
	rev, err := s.execute(ctx, ns, &m, req("AssignBatch", out), func(v index.View) (decision, error) {
		decidedAt = v.Revision()
		grants := map[string]roleGrant{}
		for i, a := range out {
			g, ok := grants[a.RoleID]
			if !ok {
				r := v.Role(a.RoleID)
				if r == nil {
					return decision{}, errorf(ErrNotFound, "roleNotFound", "assignments[%d]: role %q does not exist", i, a.RoleID)
				}
				g = grantOf(r)
				grants[a.RoleID] = g
			}
			if !g.wildcard && len(a.AssignedNamespaces) == 0 {
				return decision{}, errorf(ErrInvalid, "invalidAssignedNamespaces",
					"assignments[%d]: role %s is not a wildcard role: give the namespaces it applies in", i, g.name)
			}
		}
		roles = roles[:0]
		for id := range grants {
			roles = append(roles, id)
		}
		return decision{kind: events.KindUser, aggregateID: "_batch", payload: events.UserRolesAssignedBatch{Assignments: out},
			check: func() error {
				if m.Caller.Root {
					return nil
				}
				for _, a := range out {
					if err := s.holdsRole(ctx, &m, grants[a.RoleID], a.AssignedNamespaces, a.UserID); err != nil {
						return err
					}
				}
				return nil
			}}, nil
	})
	if err != nil {
		return 0, err
	}
	for _, id := range roles {
		if err := s.checkRoleAlive(ctx, id, decidedAt, rev); err != nil {
			return 0, err
		}
	}
	return rev, nil
}
