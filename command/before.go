package command

import (
	"slices"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
)

// The "before" of update events (audit): the aggregate as a decide function
// sees it in the index view. Optimistic concurrency on the namespace makes
// it the state right before the event. Secrets and secret hashes are left out.

func roleState(r *index.Role) *events.RoleState {
	return &events.RoleState{
		RoleID: r.ID, RoleName: r.Name, AdminRole: r.Admin, IsWildcard: r.Wildcard,
		Description: r.Description, Permissions: index.ToEvent(r.Permissions),
	}
}

func assignmentState(a *index.Assignment) *events.AssignmentState {
	st := &events.AssignmentState{
		UserID: a.UserID, RoleID: a.RoleID(),
		AssignedNamespaces: append([]string{}, a.AssignedNamespaces...),
	}
	if t := a.NotBefore(); !t.IsZero() {
		st.NotBefore = &t
	}
	if t := a.NotAfter(); !t.IsZero() {
		st.NotAfter = &t
	}
	return st
}

// findAssignment returns user's assignment of role made in ns, or nil.
func findAssignment(v index.View, ns, user, role string) *index.Assignment {
	for it := v.UserAssignments(user); ; {
		a, ok := it.Next()
		if !ok {
			return nil
		}
		if a.Namespace == ns && a.RoleID() == role {
			a.AssignedNamespaces = slices.Clone(it.AssignedNamespaces())
			return &a
		}
	}
}

func clientState(c *index.Client) *events.ClientState {
	return &events.ClientState{
		ClientID: c.ID, ClientName: c.Name, Permissions: index.ToEvent(c.Permissions),
		Roles: append([]string(nil), c.Roles...),
	}
}

func tokenState(t *index.Token) *events.TokenState {
	st := &events.TokenState{
		TokenID: t.ID, Name: t.Name, Owner: t.Owner, Issuer: t.Issuer,
		Scopes: append([]string(nil), t.Scopes...), Permissions: index.ToEvent(t.Permissions),
		Bootstrap: t.Bootstrap,
	}
	if !t.NotBefore.IsZero() {
		nb := t.NotBefore
		st.NotBefore = &nb
	}
	if !t.ExpiresAt.IsZero() {
		ex := t.ExpiresAt
		st.ExpiresAt = &ex
	}
	return st
}
