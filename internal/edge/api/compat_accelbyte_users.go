package api

import (
	"context"
	"net/url"
	"slices"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/query"
)

// AccelByte's user-role answers.
type (
	// ABUserRole is AccelByte's model.UserRolesV4Response.
	ABUserRole struct {
		RoleID             string   `json:"roleId"`
		RoleName           string   `json:"roleName"`
		AssignedNamespaces []string `json:"assignedNamespaces"`
	}
	// ABUserRoles is AccelByte's model.ListUserRolesV4Response.
	ABUserRoles struct {
		Data   []ABUserRole `json:"data"`
		Paging ABPaging     `json:"paging"`
	}
	// ABAssignedUser is AccelByte's model.AssignedUserV4Response
	// (displayName and email are "": Grantlog stores user ids only).
	ABAssignedUser struct {
		AssignedNamespaces []string `json:"assignedNamespaces"`
		DisplayName        string   `json:"displayName"`
		Email              string   `json:"email"`
		RoleID             string   `json:"roleId"`
		UserID             string   `json:"userId"`
		// Namespace is the namespace the assignment was made in (an
		// addition to AccelByte's model: Grantlog's assignments are made
		// within the user's namespace).
		Namespace string `json:"namespace"`
	}
	// ABAssignedUsers is AccelByte's model.ListAssignedUsersV4Response.
	ABAssignedUsers struct {
		Data   []ABAssignedUser `json:"data"`
		Paging ABPaging         `json:"paging"`
	}
)

// AccelByte's user-role requests.
type (
	abUserRoleV4 struct {
		UserRef
		RoleID             string   `json:"roleId"`
		AssignedNamespaces []string `json:"assignedNamespaces"`
	}
	abAssignUserV4 struct {
		RoleRef
		UserID             string   `json:"userId"`
		Namespace          string   `json:"namespace"`
		AssignedNamespaces []string `json:"assignedNamespaces"`
	}
	abRevokeUserV4 struct {
		RoleRef
		UserID    string `json:"userId"`
		Namespace string `json:"namespace"`
	}
	abUserRoleV3 struct {
		UserRef
		RoleID string `json:"roleId" path:"roleId"`
	}
	// abUserRoleIDs's body is a JSON list of role ids.
	abUserRoleIDs struct {
		UserRef
		RoleIDs []string `json:"roleIds"`
	}
	// ABNamespaceRole is AccelByte's model.NamespaceRoleRequest.
	ABNamespaceRole struct {
		Namespace string `json:"namespace"`
		RoleID    string `json:"roleId"`
	}
	// abUserRolesSave's body is a JSON list of ABNamespaceRole.
	abUserRolesSave struct {
		UserRef
		Roles []ABNamespaceRole `json:"roles"`
	}
)

// Validate requires roleId and assignedNamespaces.
func (r *abUserRoleV4) Validate() error {
	if r.RoleID == "" || r.AssignedNamespaces == nil {
		return Bad("missingField", `send {"roleId": "...", "assignedNamespaces": ["..."]}`)
	}
	return nil
}

// Validate requires userId, namespace and assignedNamespaces.
func (r *abAssignUserV4) Validate() error {
	if r.UserID == "" || r.Namespace == "" || r.AssignedNamespaces == nil {
		return Bad("missingField", `send {"userId": "...", "namespace": "...", "assignedNamespaces": ["..."]}`)
	}
	return nil
}

// Validate requires userId and namespace.
func (r *abRevokeUserV4) Validate() error {
	if r.UserID == "" || r.Namespace == "" {
		return Bad("missingField", `send {"userId": "...", "namespace": "..."}`)
	}
	return nil
}

// UnmarshalJSON reads the body: a JSON list of role ids.
func (r *abUserRoleIDs) UnmarshalJSON(data []byte) error { return decodeBody(data, &r.RoleIDs) }

// Validate requires the list.
func (r *abUserRoleIDs) Validate() error {
	if r.RoleIDs == nil {
		return Bad("missingField", `send a JSON list of role ids: ["..."]`)
	}
	return maxItems("role ids", len(r.RoleIDs))
}

// UnmarshalJSON reads the body: a JSON list of {namespace, roleId}.
func (r *abUserRolesSave) UnmarshalJSON(data []byte) error { return decodeBody(data, &r.Roles) }

// Validate requires the list and both fields of each entry.
func (r *abUserRolesSave) Validate() error {
	if r.Roles == nil {
		return Bad("missingField", `send a JSON list: [{"namespace": "...", "roleId": "..."}]`)
	}
	if err := maxItems("roles", len(r.Roles)); err != nil {
		return err
	}
	for i, e := range r.Roles {
		if e.Namespace == "" || e.RoleID == "" {
			return Bad("missingField", `[%d] must have "namespace" and "roleId"`, i)
		}
	}
	return nil
}

// assignment is user's assignment of role made in ns, read by the
// service (nil: none).
func assignment(ctx context.Context, d *Deps, ns, user, role string, rev uint64) (*query.UserRole, error) {
	p, err := d.Query.UserRoles(ctx, asService(rev), ns, user)
	if err != nil {
		return nil, err
	}
	for i := range p.Data {
		if p.Data[i].RoleID == role {
			return &p.Data[i], nil
		}
	}
	return nil, nil
}

// abUserRolesOf is user's roles in ns as AccelByte lists them, read by the
// service after revision rev.
func abUserRolesOf(ctx context.Context, d *Deps, o query.ReadOptions, ns, user string) (ABUserRoles, error) {
	p, err := d.Query.UserRoles(ctx, o, ns, user)
	if err != nil {
		return ABUserRoles{}, err
	}
	out := ABUserRoles{Data: make([]ABUserRole, 0, len(p.Data))}
	for _, r := range p.Data {
		out.Data = append(out.Data, ABUserRole{RoleID: r.RoleID, RoleName: r.RoleName, AssignedNamespaces: r.AssignedNamespaces})
	}
	return out, nil
}

// addNamespaces assigns role to user (in ns) in nss as well as the
// namespaces the user already holds it in.
func addNamespaces(ctx context.Context, d *Deps, c *Call, ns, user, role string, nss []string) (uint64, error) {
	old, err := assignment(ctx, d, ns, user, role, 0)
	if err != nil {
		return 0, err
	}
	if old != nil {
		nss = append(slices.Clone(old.AssignedNamespaces), nss...)
	}
	return d.Commands.AssignRole(ctx, c.Meta(""), ns, user, role, nss, keepWindow(old))
}

const (
	secUserRolesR = "ADMIN:NAMESPACE:{namespace}:ROLE:USER:* [READ]"
	secUserRolesU = "ADMIN:NAMESPACE:{namespace}:ROLE:USER:* [UPDATE]"
	secUserRolesD = "ADMIN:NAMESPACE:{namespace}:ROLE:USER:* [DELETE]"
	secUserRoleU  = "ADMIN:NAMESPACE:{namespace}:ROLE:USER:{userId} [UPDATE]"
	secUserRoleD  = "ADMIN:NAMESPACE:{namespace}:ROLE:USER:{userId} [DELETE]"
)

func accelbyteUserOps() []*Op {
	const v4UserRoles = "/iam/v4/admin/namespaces/{namespace}/users/{userId}/roles"
	const v3UserRoles = "/iam/v3/admin/namespaces/{namespace}/users/{userId}/roles"
	return []*Op{
		// v4 users' roles.
		ab(Read, "AdminListUserRolesV4", get, v4UserRoles, ok, secUserRolesR, "List a user's roles in a namespace",
			func(ctx context.Context, d *Deps, c *Call, in *UserRef) (ABUserRoles, error) {
				return abUserRolesOf(ctx, d, c.ReadAt(0), in.Namespace, in.UserID)
			}),
		ab(Command, "AdminAddUserRoleV4", post, v4UserRoles, ok, secUserRolesU, "Assign a role to a user in more namespaces (added to those it holds it in)",
			func(ctx context.Context, d *Deps, c *Call, in *abUserRoleV4) (ABUserRoles, error) {
				rev, err := addNamespaces(ctx, d, c, in.Namespace, in.UserID, in.RoleID, in.AssignedNamespaces)
				if err != nil {
					return ABUserRoles{}, err
				}
				return abUserRolesOf(ctx, d, asService(rev), in.Namespace, in.UserID)
			}),
		ab(Command, "AdminUpdateUserRoleV4", put, v4UserRoles, ok, secUserRolesU, "Assign a role to a user in exactly these namespaces",
			func(ctx context.Context, d *Deps, c *Call, in *abUserRoleV4) (ABUserRoles, error) {
				rev, err := d.Commands.AssignRole(ctx, c.Meta(""), in.Namespace, in.UserID, in.RoleID, in.AssignedNamespaces)
				if err != nil {
					return ABUserRoles{}, err
				}
				return abUserRolesOf(ctx, d, asService(rev), in.Namespace, in.UserID)
			}),
		ab(Command, "AdminRemoveUserRoleV4", del, v4UserRoles, noContent, secUserRolesD,
			"Take a role from a user in these namespaces (unassigned when none is left)",
			func(ctx context.Context, d *Deps, c *Call, in *abUserRoleV4) (NoContent, error) {
				old, err := assignment(ctx, d, in.Namespace, in.UserID, in.RoleID, 0)
				if err != nil {
					return NoContent{}, err
				}
				var left []string
				if old != nil {
					for _, n := range old.AssignedNamespaces {
						if !slices.Contains(in.AssignedNamespaces, n) {
							left = append(left, n)
						}
					}
				}
				if len(left) == 0 || old.IsWildcard {
					_, err = d.Commands.UnassignRole(ctx, c.Meta(""), in.Namespace, in.UserID, in.RoleID)
				} else {
					_, err = d.Commands.AssignRole(ctx, c.Meta(""), in.Namespace, in.UserID, in.RoleID, left, keepWindow(old))
				}
				return NoContent{}, err
			}),

		// v4 role users.
		ab(Read, "AdminListAssignedUsersV4", get, "/iam/v4/admin/roles/{roleId}/users", ok, secRoleR, "List the users a role is assigned to",
			func(ctx context.Context, d *Deps, c *Call, in *abRolePage) (ABAssignedUsers, error) {
				p, err := d.Query.RoleMembers(ctx, c.ReadAt(0), in.RoleID, in.After, limit(in.Limit))
				if err != nil {
					return ABAssignedUsers{}, err
				}
				out := ABAssignedUsers{Data: make([]ABAssignedUser, 0, len(p.Data))}
				for _, m := range p.Data {
					a, err := assignment(ctx, d, m.Namespace, m.UserID, in.RoleID, p.Revision)
					if err != nil {
						return ABAssignedUsers{}, err
					}
					u := ABAssignedUser{RoleID: in.RoleID, UserID: m.UserID, Namespace: m.Namespace, AssignedNamespaces: []string{}}
					if a != nil {
						u.AssignedNamespaces = a.AssignedNamespaces
					}
					out.Data = append(out.Data, u)
				}
				out.Paging.Next = in.next("/iam/v4/admin/roles/"+url.PathEscape(in.RoleID)+"/users", p.Next)
				return out, nil
			}),
		ab(Command, "AdminAssignUserToRoleV4", post, "/iam/v4/admin/roles/{roleId}/users", created, secRoleU,
			"Assign a role to a user (made within namespace) in assignedNamespaces",
			func(ctx context.Context, d *Deps, c *Call, in *abAssignUserV4) (ABAssignedUser, error) {
				rev, err := d.Commands.AssignRole(ctx, c.Meta(""), in.Namespace, in.UserID, in.RoleID, in.AssignedNamespaces)
				if err != nil {
					return ABAssignedUser{}, err
				}
				u := ABAssignedUser{RoleID: in.RoleID, UserID: in.UserID, Namespace: in.Namespace, AssignedNamespaces: []string{}}
				a, err := assignment(ctx, d, in.Namespace, in.UserID, in.RoleID, rev)
				if a != nil {
					u.AssignedNamespaces = a.AssignedNamespaces
				}
				return u, err
			}),
		ab(Command, "AdminRevokeUserFromRoleV4", del, "/iam/v4/admin/roles/{roleId}/users", noContent, secRoleU,
			"Unassign a role from a user (in every namespace it was assigned in)",
			func(ctx context.Context, d *Deps, c *Call, in *abRevokeUserV4) (NoContent, error) {
				_, err := d.Commands.UnassignRole(ctx, c.Meta(""), in.Namespace, in.UserID, in.RoleID)
				return NoContent{}, err
			}),

		// v3 users' roles.
		ab(Command, "AdminSaveUserRoleV3", patch, v3UserRoles, noContent, secUserRoleU,
			"Replace a user's roles: assign each listed role in its namespaces, unassign the others",
			func(ctx context.Context, d *Deps, c *Call, in *abUserRolesSave) (NoContent, error) {
				want := map[string][]string{}
				var order []string
				for _, e := range in.Roles {
					if _, seen := want[e.RoleID]; !seen {
						order = append(order, e.RoleID)
					}
					want[e.RoleID] = append(want[e.RoleID], e.Namespace)
				}
				held, err := d.Query.UserRoles(ctx, asService(0), in.Namespace, in.UserID)
				if err != nil {
					return NoContent{}, err
				}
				var steps []command.Step
				for _, id := range order {
					var old *query.UserRole
					for i := range held.Data {
						if held.Data[i].RoleID == id {
							old = &held.Data[i]
						}
					}
					steps = append(steps, assignStep(in.Namespace, in.UserID, id, want[id], keepWindow(old)))
				}
				for _, r := range held.Data {
					if _, keep := want[r.RoleID]; !keep {
						steps = append(steps, unassignStep(in.Namespace, in.UserID, r.RoleID))
					}
				}
				_, err = atomically(ctx, d, c, in, steps)
				return NoContent{}, err
			}),
		ab(Command, "AdminDeleteUserRolesV3", del, v3UserRoles, noContent, secUserRoleD, "Unassign roles from a user (body: a JSON list of role ids)",
			func(ctx context.Context, d *Deps, c *Call, in *abUserRoleIDs) (NoContent, error) {
				steps := make([]command.Step, 0, len(in.RoleIDs))
				for _, id := range in.RoleIDs {
					steps = append(steps, unassignStep(in.Namespace, in.UserID, id))
				}
				_, err := atomically(ctx, d, c, in, steps)
				return NoContent{}, err
			}),
		ab(Command, "AdminAddUserRoleV3", post, v3UserRoles+"/{roleId}", noContent, secUserRoleU, "Assign a role to a user in the path's namespace",
			func(ctx context.Context, d *Deps, c *Call, in *abUserRoleV3) (NoContent, error) {
				_, err := addNamespaces(ctx, d, c, in.Namespace, in.UserID, in.RoleID, []string{in.Namespace})
				return NoContent{}, err
			}),
		ab(Command, "AdminDeleteUserRoleV3", del, v3UserRoles+"/{roleId}", noContent, secUserRoleD, "Unassign a role from a user",
			func(ctx context.Context, d *Deps, c *Call, in *abUserRoleV3) (NoContent, error) {
				_, err := d.Commands.UnassignRole(ctx, c.Meta(""), in.Namespace, in.UserID, in.RoleID)
				return NoContent{}, err
			}),
	}
}

// maxItems bounds the lists of requests that run one command per item.
func maxItems(what string, n int) error {
	if n > command.MaxAssignedNS {
		return Bad("tooManyItems", "%d %s in one request; the limit is %d: split the request", n, what, command.MaxAssignedNS)
	}
	return nil
}
