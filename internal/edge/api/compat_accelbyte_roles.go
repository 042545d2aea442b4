package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// AccelByte's role answers.
type (
	// ABRole is AccelByte's model.RoleV4Response (and model.RoleResponseV3).
	ABRole struct {
		RoleID      string         `json:"roleId"`
		RoleName    string         `json:"roleName"`
		AdminRole   bool           `json:"adminRole"`
		IsWildcard  bool           `json:"isWildcard"`
		Permissions []ABPermission `json:"permissions"`
	}
	// ABRoleWithManagers is AccelByte's model.RoleResponseWithManagersV3.
	ABRoleWithManagers struct {
		ABRole
		Managers []ABUser `json:"managers"`
	}
	// ABRoleV3 is AccelByte's accountcommon.RoleV3 (the v3 create answer).
	ABRoleV3 struct {
		ABRole
		Managers []ABUser `json:"managers"`
		Members  []ABUser `json:"members"`
	}
	// ABRolesV4 is AccelByte's model.ListRoleV4Response.
	ABRolesV4 struct {
		Data   []ABRole `json:"data"`
		Paging ABPaging `json:"paging"`
	}
	// ABRolesV3 is AccelByte's model.RoleResponseWithManagersAndPaginationV3.
	ABRolesV3 struct {
		Data   []ABRoleWithManagers `json:"data"`
		Paging ABPaging             `json:"paging"`
	}
	// ABAdminStatus is AccelByte's model.RoleAdminStatusResponseV3.
	ABAdminStatus struct {
		AdminRole bool `json:"adminRole"`
	}
)

func abRole(r *query.Role) ABRole {
	return ABRole{RoleID: r.RoleID, RoleName: r.RoleName, AdminRole: r.AdminRole, IsWildcard: r.IsWildcard, Permissions: fromPerms(r.Permissions)}
}

// AccelByte's role requests.
type (
	abRoleListV4 struct {
		AdminRole  string `json:"adminRole,omitempty" query:"adminRole"`
		IsWildcard string `json:"isWildcard,omitempty" query:"isWildcard"`
		Limit      *int   `json:"limit,omitempty" query:"limit"`
		Offset     int    `json:"offset,omitempty" query:"offset"`
	}
	abRoleListV3 struct {
		ABCursor
		IsWildcard string `json:"isWildcard,omitempty" query:"isWildcard"`
	}
	abRoleV4Request struct {
		RoleName   string `json:"roleName"`
		AdminRole  *bool  `json:"adminRole"`
		IsWildcard *bool  `json:"isWildcard"`
		Deletable  *bool  `json:"deletable,omitempty"`
	}
	abRoleCreateV4 struct {
		abRoleV4Request
	}
	abRoleUpdateV4 struct {
		RoleRef
		abRoleV4Request
	}
	abRoleCreateV3 struct {
		RoleName    string         `json:"roleName"`
		AdminRole   bool           `json:"adminRole"`
		IsWildcard  bool           `json:"isWildcard"`
		Deletable   *bool          `json:"deletable,omitempty"`
		Managers    []ABUser       `json:"managers"`
		Members     []ABUser       `json:"members"`
		Permissions []ABPermission `json:"permissions"`
	}
	abRoleUpdateV3 struct {
		RoleRef
		RoleName   string `json:"roleName"`
		IsWildcard *bool  `json:"isWildcard"`
		Deletable  *bool  `json:"deletable,omitempty"`
	}
	abRolePermissions struct {
		RoleRef
		ABPermissions
	}
	// abRoleResources is a body that is a list of resources.
	abRoleResources struct {
		RoleRef
		Resources []string `json:"resources"`
	}
	abRolePermission struct {
		RoleRef
		Resource string `json:"resource" path:"resource"`
		Action   string `json:"action" path:"action"`
	}
	abRoleManagers struct {
		RoleRef
		Managers []ABUser `json:"managers"`
	}
	abRoleMembers struct {
		RoleRef
		Members []ABUser `json:"members"`
	}
	abRolePage struct {
		RoleRef
		ABCursor
	}
)

// Validate refuses bad filters and limits.
func (r *abRoleListV4) Validate() error {
	if _, err := optBool("adminRole", r.AdminRole); err != nil {
		return err
	}
	if _, err := optBool("isWildcard", r.IsWildcard); err != nil {
		return err
	}
	if r.Offset < 0 {
		return Bad("invalidParameter", "offset must be 0 or more")
	}
	return validLimit(r.Limit)
}

// Validate refuses bad filters and limits.
func (r *abRoleListV3) Validate() error {
	if _, err := optBool("isWildcard", r.IsWildcard); err != nil {
		return err
	}
	return r.ABCursor.Validate()
}

// Validate requires AccelByte's required fields.
func (r *abRoleV4Request) Validate() error {
	if r.AdminRole == nil || r.IsWildcard == nil {
		return Bad("missingField", `send {"roleName": "...", "adminRole": false, "isWildcard": false}`)
	}
	return nil
}

// Validate requires AccelByte's required fields.
func (r *abRoleUpdateV3) Validate() error {
	if r.IsWildcard == nil {
		return Bad("missingField", `send {"roleName": "...", "isWildcard": false}`)
	}
	return nil
}

// Validate refuses a missing list.
func (r *abRoleManagers) Validate() error {
	if r.Managers == nil {
		return Bad("missingField", `send {"managers": [{"userId": "...", "namespace": "...", "displayName": ""}]}`)
	}
	return nil
}

// Validate refuses a missing or bad list.
func (r *abRoleMembers) Validate() error {
	if r.Members == nil {
		return Bad("missingField", `send {"members": [{"userId": "...", "namespace": "...", "displayName": ""}]}`)
	}
	return nil
}

// UnmarshalJSON reads the body: a JSON list of resources.
func (r *abRoleResources) UnmarshalJSON(data []byte) error { return decodeBody(data, &r.Resources) }

// Validate refuses a missing list.
func (r *abRoleResources) Validate() error {
	if r.Resources == nil {
		return Bad("missingField", `send a JSON list of resources: ["NAMESPACE:{namespace}:USER:{userId}:ORDER"]`)
	}
	return nil
}

func managersNotSupported() *Error {
	return Errorf(http.StatusNotImplemented, "managersNotSupported",
		"Grantlog has no role managers: who may assign a role is decided by permissions. "+
			"Give the would-be manager ADMIN:NAMESPACE:{namespace}:ROLE:USER:* [UPDATE] and the role's permissions instead")
}

// abRoles pages the roles that pass keep, skipping skip of them, from
// cursor: at most n, and whether there are more.
func abRoles(ctx context.Context, d *Deps, c *Call, cursor string, skip, n int, keep func(*query.Role) bool) ([]query.Role, bool, error) {
	if n == 0 {
		n = query.DefaultLimit
	}
	out := []query.Role{}
	for range 10000 { // bounded: 10,000 pages of MaxLimit roles
		p, err := d.Query.ListRoles(ctx, c.ReadAt(0), cursor, query.MaxLimit)
		if err != nil {
			return nil, false, err
		}
		for i := range p.Data {
			r := &p.Data[i]
			if !keep(r) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(out) == n {
				return out, true, nil
			}
			out = append(out, *r)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	return out, false, nil
}

func roleFilter(adminRole, isWildcard string) func(*query.Role) bool {
	a, _ := optBool("adminRole", adminRole)
	w, _ := optBool("isWildcard", isWildcard)
	return func(r *query.Role) bool {
		return (a == nil || *a == r.AdminRole) && (w == nil || *w == r.IsWildcard)
	}
}

func readRole(ctx context.Context, d *Deps, id string, rev uint64) (ABRole, error) {
	r, _, err := d.Query.GetRole(ctx, asService(rev), id)
	return abRole(&r), err
}

func changeRolePerms(ctx context.Context, d *Deps, c *Call, id string, op command.PermissionOp, ps []ABPermission) (uint64, error) {
	perms, err := toPerms(ps)
	if err != nil {
		return 0, err
	}
	return d.Commands.ChangePermissions(ctx, c.Meta(""), id, op, perms)
}

func removeResources(ctx context.Context, d *Deps, c *Call, in *abRoleResources) (NoContent, error) {
	ps := make([]perm.Permission, 0, len(in.Resources))
	for _, r := range in.Resources {
		ps = append(ps, perm.Permission{Resource: r})
	}
	_, err := d.Commands.ChangePermissions(ctx, c.Meta(""), in.RoleID, command.RemovePermissions, ps)
	return NoContent{}, err
}

func setAdmin(admin bool) func(context.Context, *Deps, *Call, *RoleRef) (NoContent, error) {
	return func(ctx context.Context, d *Deps, c *Call, in *RoleRef) (NoContent, error) {
		_, err := d.Commands.UpdateRole(ctx, c.Meta(""), in.RoleID, command.UpdateRole{AdminRole: &admin})
		return NoContent{}, err
	}
}

const (
	secRoleC = "ADMIN:ROLE [CREATE]"
	secRoleR = "ADMIN:ROLE [READ]"
	secRoleU = "ADMIN:ROLE [UPDATE]"
	secRoleD = "ADMIN:ROLE [DELETE]"
)

func accelbyteRoleOps() []*Op {
	return []*Op{
		// v4 roles.
		ab(Read, "AdminGetRolesV4", get, "/iam/v4/admin/roles", ok, secRoleR, "List roles (offset paging; adminRole and isWildcard filter)",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleListV4) (ABRolesV4, error) {
				rs, more, err := abRoles(ctx, d, c, "", in.Offset, limit(in.Limit), roleFilter(in.AdminRole, in.IsWildcard))
				if err != nil {
					return ABRolesV4{}, err
				}
				out := ABRolesV4{Data: make([]ABRole, 0, len(rs))}
				for i := range rs {
					out.Data = append(out.Data, abRole(&rs[i]))
				}
				n := limit(in.Limit)
				if n == 0 {
					n = query.DefaultLimit
				}
				link := func(offset int) string {
					q := url.Values{"limit": {strconv.Itoa(n)}, "offset": {strconv.Itoa(offset)}}
					if in.AdminRole != "" {
						q.Set("adminRole", in.AdminRole)
					}
					if in.IsWildcard != "" {
						q.Set("isWildcard", in.IsWildcard)
					}
					return pageLink("/iam/v4/admin/roles", q)
				}
				if more {
					out.Paging.Next = link(in.Offset + n)
				}
				if in.Offset > 0 {
					out.Paging.Previous = link(max(0, in.Offset-n))
				}
				return out, nil
			}),
		ab(Command, "AdminCreateRoleV4", post, "/iam/v4/admin/roles", created, secRoleC, "Create a role",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleCreateV4) (ABRole, error) {
				ev, rev, err := d.Commands.CreateRole(ctx, c.Meta(""), command.CreateRole{
					RoleName: in.RoleName, AdminRole: *in.AdminRole, IsWildcard: *in.IsWildcard,
				})
				if err != nil {
					return ABRole{}, err
				}
				return readRole(ctx, d, ev.RoleID, rev)
			}),
		ab(Read, "AdminGetRoleV4", get, "/iam/v4/admin/roles/{roleId}", ok, secRoleR, "Get a role",
			func(ctx context.Context, d *Deps, c *Call, in *RoleRef) (ABRole, error) {
				r, _, err := d.Query.GetRole(ctx, c.ReadAt(0), in.RoleID)
				return abRole(&r), err
			}),
		ab(Command, "AdminUpdateRoleV4", patch, "/iam/v4/admin/roles/{roleId}", ok, secRoleU, "Update a role's name and flags",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleUpdateV4) (ABRole, error) {
				return updateRole(ctx, d, c, in.RoleID, in.RoleName, command.UpdateRole{AdminRole: in.AdminRole, IsWildcard: in.IsWildcard})
			}),
		ab(Command, "AdminDeleteRoleV4", del, "/iam/v4/admin/roles/{roleId}", noContent, secRoleD, "Delete a role (and end its assignments)",
			deleteRole),
		ab(Command, "AdminAddRolePermissionsV4", post, "/iam/v4/admin/roles/{roleId}/permissions", ok, secRoleU, "Add permissions to a role",
			func(ctx context.Context, d *Deps, c *Call, in *abRolePermissions) (ABRole, error) {
				rev, err := changeRolePerms(ctx, d, c, in.RoleID, command.AddPermissions, in.Permissions)
				if err != nil {
					return ABRole{}, err
				}
				return readRole(ctx, d, in.RoleID, rev)
			}),
		ab(Command, "AdminUpdateRolePermissionsV4", put, "/iam/v4/admin/roles/{roleId}/permissions", ok, secRoleU, "Replace a role's permissions",
			func(ctx context.Context, d *Deps, c *Call, in *abRolePermissions) (ABRole, error) {
				rev, err := changeRolePerms(ctx, d, c, in.RoleID, command.ReplacePermissions, in.Permissions)
				if err != nil {
					return ABRole{}, err
				}
				return readRole(ctx, d, in.RoleID, rev)
			}),
		ab(Command, "AdminDeleteRolePermissionsV4", del, "/iam/v4/admin/roles/{roleId}/permissions", noContent, secRoleU,
			"Remove a role's permissions on resources (body: a JSON list of resources)", removeResources),

		// v3 roles.
		ab(Read, "AdminGetRolesV3", get, "/iam/v3/admin/roles", ok, secRoleR, "List roles (after cursor; isWildcard filter)",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleListV3) (ABRolesV3, error) {
				rs, more, err := abRoles(ctx, d, c, in.After, 0, limit(in.Limit), roleFilter("", in.IsWildcard))
				if err != nil {
					return ABRolesV3{}, err
				}
				out := ABRolesV3{Data: make([]ABRoleWithManagers, 0, len(rs))}
				for i := range rs {
					out.Data = append(out.Data, ABRoleWithManagers{ABRole: abRole(&rs[i]), Managers: []ABUser{}})
				}
				if more && len(rs) > 0 {
					out.Paging.Next = in.next("/iam/v3/admin/roles", rs[len(rs)-1].RoleName)
				}
				return out, nil
			}),
		ab(Command, "AdminCreateRoleV3", post, "/iam/v3/admin/roles", created, secRoleC, "Create a role with its permissions and members",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleCreateV3) (ABRoleV3, error) {
				if len(in.Managers) > 0 {
					return ABRoleV3{}, managersNotSupported()
				}
				if err := validMembers(in.Members); err != nil {
					return ABRoleV3{}, err
				}
				ps, err := toPerms(in.Permissions)
				if err != nil {
					return ABRoleV3{}, err
				}
				// The role and its members, all or none.
				ev := events.RoleCreated{RoleID: uuid.NewString()}
				if c.IdempotencyKey != "" {
					// A retry must name the role the first attempt created.
					ev.RoleID = command.DeriveCommandID(c.Caller, c.IdempotencyKey+"\x00AdminCreateRoleV3.roleId")
				}
				steps := []command.Step{func(ctx context.Context, s *command.Service, m command.Meta) error {
					_, _, err := s.CreateRole(ctx, m, command.CreateRole{RoleID: ev.RoleID,
						RoleName: in.RoleName, AdminRole: in.AdminRole, IsWildcard: in.IsWildcard, Permissions: ps})
					return err
				}}
				for _, m := range in.Members {
					steps = append(steps, assignStep(m.Namespace, m.UserID, ev.RoleID, []string{m.Namespace}))
				}
				rev, err := atomically(ctx, d, c, in, steps)
				if err != nil {
					return ABRoleV3{}, err
				}
				r, err := readRole(ctx, d, ev.RoleID, rev)
				if err != nil {
					return ABRoleV3{}, err
				}
				members, err := d.Query.RoleMembers(ctx, asService(rev), ev.RoleID, "", query.MaxLimit)
				out := ABRoleV3{ABRole: r, Managers: []ABUser{}, Members: abUsers(members.Data)}
				return out, err
			}),
		ab(Read, "AdminGetRoleV3", get, "/iam/v3/admin/roles/{roleId}", ok, secRoleR, "Get a role",
			func(ctx context.Context, d *Deps, c *Call, in *RoleRef) (ABRole, error) {
				r, _, err := d.Query.GetRole(ctx, c.ReadAt(0), in.RoleID)
				return abRole(&r), err
			}),
		ab(Command, "AdminUpdateRoleV3", patch, "/iam/v3/admin/roles/{roleId}", ok, secRoleU, "Update a role's name and wildcard flag",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleUpdateV3) (ABRole, error) {
				return updateRole(ctx, d, c, in.RoleID, in.RoleName, command.UpdateRole{IsWildcard: in.IsWildcard})
			}),
		ab(Command, "AdminDeleteRoleV3", del, "/iam/v3/admin/roles/{roleId}", noContent, secRoleD, "Delete a role (and end its assignments)",
			deleteRole),
		ab(Read, "AdminGetRoleAdminStatusV3", get, "/iam/v3/admin/roles/{roleId}/admin", ok, secRoleR, "Get a role's admin flag",
			func(ctx context.Context, d *Deps, c *Call, in *RoleRef) (ABAdminStatus, error) {
				r, _, err := d.Query.GetRole(ctx, c.ReadAt(0), in.RoleID)
				return ABAdminStatus{AdminRole: r.AdminRole}, err
			}),
		ab(Command, "AdminUpdateAdminRoleStatusV3", post, "/iam/v3/admin/roles/{roleId}/admin", noContent, secRoleU, "Make a role an admin role", setAdmin(true)),
		ab(Command, "AdminRemoveRoleAdminV3", del, "/iam/v3/admin/roles/{roleId}/admin", noContent, secRoleU, "Make a role a non-admin role", setAdmin(false)),
		ab(Read, "AdminGetRoleManagersV3", get, "/iam/v3/admin/roles/{roleId}/managers", ok, secRoleR, "List a role's managers (always none: Grantlog has no managers)",
			func(ctx context.Context, d *Deps, c *Call, in *abRolePage) (ABUsers, error) {
				_, _, err := d.Query.GetRole(ctx, c.ReadAt(0), in.RoleID)
				return ABUsers{Data: []ABUser{}}, err
			}),
		ab(Command, "AdminAddRoleManagersV3", post, "/iam/v3/admin/roles/{roleId}/managers", noContent, secRoleU, "Add managers to a role (refused: Grantlog has no managers)",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleManagers) (NoContent, error) {
				if len(in.Managers) > 0 {
					return NoContent{}, managersNotSupported()
				}
				_, _, err := d.Query.GetRole(ctx, asService(0), in.RoleID)
				return NoContent{}, err
			}),
		ab(Command, "AdminRemoveRoleManagersV3", del, "/iam/v3/admin/roles/{roleId}/managers", noContent, secRoleU, "Remove managers from a role (a role has none)",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleManagers) (NoContent, error) {
				_, _, err := d.Query.GetRole(ctx, asService(0), in.RoleID)
				return NoContent{}, err
			}),
		ab(Read, "AdminGetRoleMembersV3", get, "/iam/v3/admin/roles/{roleId}/members", ok, secRoleR, "List a role's members (its assignments: user and namespace)",
			func(ctx context.Context, d *Deps, c *Call, in *abRolePage) (ABUsers, error) {
				p, err := d.Query.RoleMembers(ctx, c.ReadAt(0), in.RoleID, in.After, limit(in.Limit))
				if err != nil {
					return ABUsers{}, err
				}
				out := ABUsers{Data: abUsers(p.Data)}
				out.Paging.Next = in.next("/iam/v3/admin/roles/"+url.PathEscape(in.RoleID)+"/members", p.Next)
				return out, nil
			}),
		ab(Command, "AdminAddRoleMembersV3", post, "/iam/v3/admin/roles/{roleId}/members", noContent, secRoleU, "Assign a role to users, each in its namespace",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleMembers) (NoContent, error) {
				if err := validMembers(in.Members); err != nil {
					return NoContent{}, err
				}
				steps := make([]command.Step, 0, len(in.Members))
				for _, m := range in.Members {
					steps = append(steps, assignStep(m.Namespace, m.UserID, in.RoleID, []string{m.Namespace}))
				}
				_, err := atomically(ctx, d, c, in, steps)
				return NoContent{}, err
			}),
		ab(Command, "AdminRemoveRoleMembersV3", del, "/iam/v3/admin/roles/{roleId}/members", noContent, secRoleU, "Unassign a role from users, each in its namespace",
			func(ctx context.Context, d *Deps, c *Call, in *abRoleMembers) (NoContent, error) {
				if err := validMembers(in.Members); err != nil {
					return NoContent{}, err
				}
				steps := make([]command.Step, 0, len(in.Members))
				for _, m := range in.Members {
					steps = append(steps, unassignStep(m.Namespace, m.UserID, in.RoleID))
				}
				_, err := atomically(ctx, d, c, in, steps)
				return NoContent{}, err
			}),
		ab(Command, "AdminAddRolePermissionsV3", post, "/iam/v3/admin/roles/{roleId}/permissions", noContent, secRoleU, "Add permissions to a role",
			func(ctx context.Context, d *Deps, c *Call, in *abRolePermissions) (NoContent, error) {
				_, err := changeRolePerms(ctx, d, c, in.RoleID, command.AddPermissions, in.Permissions)
				return NoContent{}, err
			}),
		ab(Command, "AdminUpdateRolePermissionsV3", put, "/iam/v3/admin/roles/{roleId}/permissions", noContent, secRoleU, "Replace a role's permissions",
			func(ctx context.Context, d *Deps, c *Call, in *abRolePermissions) (NoContent, error) {
				_, err := changeRolePerms(ctx, d, c, in.RoleID, command.ReplacePermissions, in.Permissions)
				return NoContent{}, err
			}),
		ab(Command, "AdminDeleteRolePermissionsV3", del, "/iam/v3/admin/roles/{roleId}/permissions", noContent, secRoleU,
			"Remove a role's permissions on resources (body: a JSON list of resources)", removeResources),
		ab(Command, "AdminDeleteRolePermissionV3", del, "/iam/v3/admin/roles/{roleId}/permissions/{resource}/{action}", noContent, secRoleU,
			"Remove one permission from a role",
			func(ctx context.Context, d *Deps, c *Call, in *abRolePermission) (NoContent, error) {
				_, err := changeRolePerms(ctx, d, c, in.RoleID, command.RemovePermissions, []ABPermission{{Resource: in.Resource, Action: pathAction(in.Action)}})
				return NoContent{}, err
			}),
	}
}

func abUsers(ms []events.RoleMember) []ABUser {
	out := make([]ABUser, 0, len(ms))
	for _, m := range ms {
		out = append(out, ABUser{Namespace: m.Namespace, UserID: m.UserID})
	}
	return out
}

// validMembers refuses a member list with a member that names no user or
// namespace, before anything changes.
func validMembers(ms []ABUser) error {
	if len(ms) > command.MaxAssignedNS {
		return Bad("tooManyMembers", "%d members in one request; the limit is %d", len(ms), command.MaxAssignedNS)
	}
	for i, m := range ms {
		if m.UserID == "" || m.Namespace == "" {
			return Bad("invalidMember", `members[%d] must name the user and the namespace: {"userId": "...", "namespace": "..."}`, i)
		}
	}
	return nil
}

// updateRole changes a role's flags, and its name unless name is "", and
// answers the role after the change.
func updateRole(ctx context.Context, d *Deps, c *Call, roleID, name string, u command.UpdateRole) (ABRole, error) {
	if name != "" {
		u.RoleName = &name
	}
	rev, err := d.Commands.UpdateRole(ctx, c.Meta(""), roleID, u)
	if err != nil {
		return ABRole{}, err
	}
	return readRole(ctx, d, roleID, rev)
}

func deleteRole(ctx context.Context, d *Deps, c *Call, in *RoleRef) (NoContent, error) {
	_, err := d.Commands.DeleteRole(ctx, c.Meta(""), in.RoleID)
	return NoContent{}, err
}
