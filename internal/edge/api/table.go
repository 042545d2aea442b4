package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

const (
	get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	ok, created                = http.StatusOK, http.StatusCreated
)

// Table returns every operation of the API, in the order the
// documentation lists them. It is built once; do not modify it.
func Table() []*Op { return table() }

var tableOnce struct {
	sync.Once
	ops []*Op
}

func table() []*Op {
	tableOnce.Do(func() { tableOnce.ops = build() })
	return tableOnce.ops
}

// ByName returns the operation named name.
func ByName(name string) (*Op, bool) {
	for _, o := range table() {
		if o.Name == name {
			return o, true
		}
	}
	return nil, false
}

// The operations' request types: the command's own input (embedded, its
// fields are the body's) plus the references and reason.
type (
	roleCreate struct {
		command.CreateRole
		Reason
	}
	roleGet struct {
		RoleRef
		AtLeast
	}
	roleList struct {
		AtLeast
		Paging
	}
	roleUpdate struct {
		RoleRef
		command.UpdateRole
		Reason
	}
	roleDelete struct {
		RoleRef
		Reason
	}
	rolePermissions struct {
		RoleRef
		Permissions
		Reason
	}
	roleMembers struct {
		RoleRef
		AtLeast
		Paging
	}
	assign struct {
		UserRef
		RoleID             string     `json:"roleId"`
		AssignedNamespaces []string   `json:"assignedNamespaces"`
		NotBefore          *time.Time `json:"notBefore"`
		NotAfter           *time.Time `json:"notAfter"`
		Reason
	}
	unassign struct {
		UserRef
		RoleID string `json:"roleId" path:"roleId"`
		Reason
	}
	userRoles struct {
		UserRef
		AtLeast
	}
	subjectPermissions struct {
		NamespaceRef
		// SubjectType is user, client or token; SubjectID its id (a
		// token's id, never its secret).
		SubjectType string `json:"subjectType" path:"subjectType"`
		SubjectID   string `json:"subjectId" path:"subjectId"`
		AtLeast
		Paging
	}
	subjectTimeline struct {
		NamespaceRef
		SubjectType string `json:"subjectType" path:"subjectType"`
		SubjectID   string `json:"subjectId" path:"subjectId"`
		// Resource and Action, when set, keep only the permissions
		// covering Resource with those actions (1-15).
		Resource string `json:"resource,omitempty" query:"resource"`
		Action   int    `json:"action,omitempty" query:"action"`
		AtLeast
		Paging
	}
	permissionHolders struct {
		NamespaceRef
		// Resource is the required resource ({namespace} binds to the
		// namespace); Action the required action (1-15).
		Resource string `json:"resource" query:"resource"`
		Action   int    `json:"action" query:"action"`
		AtLeast
		Paging
	}
	assignBatch struct {
		NamespaceRef
		Assignments []command.BatchAssignment `json:"assignments"`
		Reason
	}
	namespaceCreate struct {
		command.CreateNamespace
		Reason
	}
	namespaceGet struct {
		NamespaceRef
		AtLeast
	}
	namespaceDelete struct {
		NamespaceRef
		Reason
	}
	clientCreate struct {
		NamespaceRef
		command.CreateClient
		Reason
	}
	clientGet struct {
		ClientRef
		AtLeast
	}
	clientUpdate struct {
		ClientRef
		command.UpdateClient
		Reason
	}
	clientDelete struct {
		ClientRef
		Reason
	}
	clientPermissions struct {
		ClientRef
		Permissions
		Reason
	}
	inNamespace struct {
		NamespaceRef
		AtLeast
	}
	tokenIssue struct {
		NamespaceRef
		command.IssueToken
		Reason
	}
	tokenRevoke struct {
		NamespaceRef
		TokenID string `json:"tokenId" path:"tokenId"`
		Reason
	}
	scopeDefine struct {
		ScopeRef
		command.DefineScope
		Reason
	}
	scopeGet struct {
		ScopeRef
		AtLeast
	}
	scopeDelete struct {
		ScopeRef
		Reason
	}
	endpointRegister struct {
		EndpointRef
		command.RegisterEndpoint
		Reason
	}
	endpointDelete struct {
		EndpointRef
		Reason
	}
	named struct {
		Name string `json:"name" path:"name"`
		Reason
	}
	auditList struct {
		AuditFilter
		Limit *int `json:"limit,omitempty" query:"limit"`
	}
	none struct{}
)

// Validate refuses an assignment that names no role.
func (a *assign) Validate() error {
	if a.RoleID == "" {
		return Bad("invalidRoleId", `request must name the role: {"roleId": "...", "assignedNamespaces": ["..."]}`)
	}
	return nil
}

// Validate refuses a limit out of range.
func (a *auditList) Validate() error { return validLimit(a.Limit) }

// EffectsRequest asks the permission-change feed: namespace is
// repeatable; expand=members lists the users a role change affects.
type EffectsRequest struct {
	Namespace    []string `json:"namespace,omitempty" query:"namespace"`
	FromRevision uint64   `json:"fromRevision,omitempty" query:"fromRevision"`
	Expand       string   `json:"expand,omitempty" query:"expand"`
}

// Validate refuses an expand other than members.
func (a *EffectsRequest) Validate() error {
	if a.Expand != "" && a.Expand != "members" {
		return Bad("invalidFilter", `expand may only be "members"`)
	}
	return nil
}

// Replies that are not a domain type.
type (
	// NamespaceCreated answers namespace.create.
	NamespaceCreated struct {
		Namespace    string   `json:"namespace"`
		Parent       string   `json:"parent,omitempty"`
		DefaultRoles []string `json:"defaultRoles"`
		Revision     uint64   `json:"revision"`
	}
	// BatchAssigned answers assign.batch.
	BatchAssigned struct {
		Revision uint64 `json:"revision"`
		Count    int    `json:"count"`
	}
	// Presets answers preset.list.
	Presets struct {
		Data []command.PresetInfo `json:"data"`
	}
)

func role(ctx context.Context, d *Deps, c *Call, id string, rev uint64) (query.Role, error) {
	r, _, err := d.Query.GetRole(ctx, c.ReadAt(rev), id)
	return r, err
}

func client(ctx context.Context, d *Deps, c *Call, ref ClientRef, rev uint64) (query.Client, error) {
	return d.Query.GetClient(ctx, c.ReadAt(rev), ref.Namespace, ref.ClientID)
}

func rolePerms(op command.PermissionOp) func(context.Context, *Deps, *Call, *rolePermissions) (query.Role, error) {
	return func(ctx context.Context, d *Deps, c *Call, in *rolePermissions) (query.Role, error) {
		rev, err := d.Commands.ChangePermissions(ctx, c.Meta(in.Reason.Reason), in.RoleID, op, in.Permissions.Permissions)
		if err != nil {
			return query.Role{}, err
		}
		return role(ctx, d, c, in.RoleID, rev)
	}
}

func clientPerms(op command.PermissionOp) func(context.Context, *Deps, *Call, *clientPermissions) (query.Client, error) {
	return func(ctx context.Context, d *Deps, c *Call, in *clientPermissions) (query.Client, error) {
		rev, err := d.Commands.ChangeClientPermissions(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.ClientID, op, in.Permissions.Permissions)
		if err != nil {
			return query.Client{}, err
		}
		return client(ctx, d, c, in.ClientRef, rev)
	}
}

func unavailable(what, code string) *Error {
	return Errorf(http.StatusNotImplemented, code, "this node does not serve %s", what)
}

func build() []*Op {
	ops := []*Op{
		// Roles.
		def(Command, "role.create", post, "/v1/roles", created, "Create a role",
			func(ctx context.Context, d *Deps, c *Call, in *roleCreate) (query.Role, error) {
				ev, rev, err := d.Commands.CreateRole(ctx, c.Meta(in.Reason.Reason), in.CreateRole)
				if err != nil {
					return query.Role{}, err
				}
				return role(ctx, d, c, ev.RoleID, rev)
			}),
		def(Read, "role.list", get, "/v1/roles", ok, "List roles",
			func(ctx context.Context, d *Deps, c *Call, in *roleList) (Page[query.Role], error) {
				return page(d.Query.ListRoles(ctx, c.ReadAt(in.AtLeastRevision), in.After, limit(in.Limit)))
			}),
		def(Read, "role.get", get, "/v1/roles/{roleId}", ok, "Get a role",
			func(ctx context.Context, d *Deps, c *Call, in *roleGet) (query.Role, error) {
				return role(ctx, d, c, in.RoleID, in.AtLeastRevision)
			}),
		def(Command, "role.update", patch, "/v1/roles/{roleId}", ok, "Update a role's name, flags or description",
			func(ctx context.Context, d *Deps, c *Call, in *roleUpdate) (query.Role, error) {
				rev, err := d.Commands.UpdateRole(ctx, c.Meta(in.Reason.Reason), in.RoleID, in.UpdateRole)
				if err != nil {
					return query.Role{}, err
				}
				return role(ctx, d, c, in.RoleID, rev)
			}),
		def(Command, "role.delete", del, "/v1/roles/{roleId}", ok, "Delete a role (and end its assignments)",
			func(ctx context.Context, d *Deps, c *Call, in *roleDelete) (Revision, error) {
				return revision(d.Commands.DeleteRole(ctx, c.Meta(in.Reason.Reason), in.RoleID))
			}),
		def(Command, "role.permissions.add", post, "/v1/roles/{roleId}/permissions", ok, "Add permissions to a role", rolePerms(command.AddPermissions)),
		def(Command, "role.permissions.replace", put, "/v1/roles/{roleId}/permissions", ok, "Replace a role's permissions", rolePerms(command.ReplacePermissions)),
		def(Command, "role.permissions.remove", del, "/v1/roles/{roleId}/permissions", ok, "Remove permissions from a role", rolePerms(command.RemovePermissions)),
		def(Read, "role.members", get, "/v1/roles/{roleId}/members", ok, "List a role's members",
			func(ctx context.Context, d *Deps, c *Call, in *roleMembers) (Page[events.RoleMember], error) {
				return page(d.Query.RoleMembers(ctx, c.ReadAt(in.AtLeastRevision), in.RoleID, in.After, limit(in.Limit)))
			}),

		// Assignments.
		def(Command, "assign", post, "/v1/namespaces/{namespace}/users/{userId}/roles", created, "Assign a role to a user",
			func(ctx context.Context, d *Deps, c *Call, in *assign) (Revision, error) {
				return revision(d.Commands.AssignRole(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.UserID, in.RoleID, in.AssignedNamespaces,
					command.AssignOptions{NotBefore: in.NotBefore, NotAfter: in.NotAfter}))
			}),
		def(Read, "user.roles", get, "/v1/namespaces/{namespace}/users/{userId}/roles", ok, "List a user's roles in a namespace",
			func(ctx context.Context, d *Deps, c *Call, in *userRoles) (Page[query.UserRole], error) {
				return page(d.Query.UserRoles(ctx, c.ReadAt(in.AtLeastRevision), in.Namespace, in.UserID))
			}),
		// Reverse lookups (query/lookup.go).
		def(Read, "subject.permissions", get, "/v1/namespaces/{namespace}/subjects/{subjectType}/{subjectId}/permissions", ok,
			"List what a user, client or token may do signed into a namespace, and through what",
			func(ctx context.Context, d *Deps, c *Call, in *subjectPermissions) (SubjectPermissions, error) {
				p, err := d.Query.SubjectPermissions(ctx, c.ReadAt(in.AtLeastRevision), in.Namespace,
					query.LookupSubject{Type: in.SubjectType, ID: in.SubjectID}, in.After, limit(in.Limit))
				out := SubjectPermissions{Data: p.Data, Revision: p.Revision, Withheld: p.Withheld}
				out.Paging.Next = p.Next
				return out, err
			}),
		def(Read, "subject.timeline", get, "/v1/namespaces/{namespace}/subjects/{subjectType}/{subjectId}/timeline", ok,
			"List every change to what a user, client or token may do signed into a namespace: when, which event, who, why, gained and lost",
			func(ctx context.Context, d *Deps, c *Call, in *subjectTimeline) (Timeline, error) {
				if in.Action < 0 || in.Action > int(perm.CRUD) {
					return Timeline{}, Bad("invalidAction", "action must be an integer from 1 to 15")
				}
				var after uint64
				if in.After != "" {
					n, err := strconv.ParseUint(in.After, 10, 64)
					if err != nil {
						return Timeline{}, Bad("invalidCursor", "after %q is not a revision: pass the next of the previous page", in.After)
					}
					after = n
				}
				p, err := d.Query.Timeline(ctx, c.ReadAt(in.AtLeastRevision), query.TimelineRequest{
					Namespace: in.Namespace, SubjectType: in.SubjectType, SubjectID: in.SubjectID,
					Resource: in.Resource, Action: perm.Action(in.Action), After: after, Limit: limit(in.Limit),
				})
				out := Timeline{Data: p.Data, Revision: p.Revision, Withheld: p.Withheld}
				if p.Paging.Next != 0 {
					out.Paging.Next = strconv.FormatUint(p.Paging.Next, 10)
				}
				return out, err
			}),
		def(Read, "permission.holders", get, "/v1/namespaces/{namespace}/holders", ok,
			"List every user, client and token that holds a permission signed into a namespace",
			func(ctx context.Context, d *Deps, c *Call, in *permissionHolders) (Holders, error) {
				if in.Action < 1 || in.Action > int(perm.CRUD) {
					return Holders{}, Bad("invalidAction", "action must be an integer from 1 to 15")
				}
				p, err := d.Query.PermissionHolders(ctx, c.ReadAt(in.AtLeastRevision), in.Namespace, in.Resource,
					perm.Action(in.Action), in.After, limit(in.Limit))
				out := Holders{Resource: p.Resource, Action: p.Action, EveryUser: p.EveryUser, Data: p.Data,
					Revision: p.Revision, Withheld: p.Withheld}
				out.Paging.Next = p.Next
				return out, err
			}),
		def(Command, "unassign", del, "/v1/namespaces/{namespace}/users/{userId}/roles/{roleId}", ok, "Unassign a role from a user",
			func(ctx context.Context, d *Deps, c *Call, in *unassign) (Revision, error) {
				return revision(d.Commands.UnassignRole(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.UserID, in.RoleID))
			}),
		def(Command, "assign.batch", post, "/v1/namespaces/{namespace}/assignments:batch", created, "Assign roles to many users at once (one event)",
			func(ctx context.Context, d *Deps, c *Call, in *assignBatch) (BatchAssigned, error) {
				rev, err := d.Commands.AssignBatch(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.Assignments)
				return BatchAssigned{Revision: rev, Count: len(in.Assignments)}, err
			}).maxBytes(MaxBatchRequestBytes),

		// Transactions (transaction.go).
		def(Command, "transaction", post, "/v1/transactions", ok,
			"Apply several commands as one: all of them or none, at one revision (what grantlog apply sends)",
			runTransaction).maxBytes(MaxBatchRequestBytes),

		// What-if (whatif.go): proposed commands decided, nothing appended.
		def(Command, "whatif", post, "/v1/whatif", ok,
			"Evaluate proposed commands without appending anything: the effective permissions each subject would gain or lose, and the commands refused",
			runWhatIf).maxBytes(MaxBatchRequestBytes).queryParams(),

		// Checks: each edge serves them with its own fast path; Run is
		// the reference (and what the parity suite compares with).
		def(Check, "check", post, "/v1/check", ok, "Check one permission",
			func(ctx context.Context, d *Deps, c *Call, in *query.CheckRequest) (query.CheckResult, error) {
				return d.Query.CheckAs(ctx, c.Caller, in)
			}).fast(),
		def(Check, "checks", post, "/v1/checks", ok, "Check many permissions at one revision",
			func(ctx context.Context, d *Deps, c *Call, in *query.BatchRequest) (query.BatchResult, error) {
				var out query.BatchResult
				err := d.Query.CheckBatchAsInto(ctx, c.Caller, in, &out)
				return out, err
			}).fast(),

		// Namespaces.
		def(Command, "namespace.create", post, "/v1/namespaces", created, "Create a namespace (a studio or a game under one)",
			func(ctx context.Context, d *Deps, c *Call, in *namespaceCreate) (NamespaceCreated, error) {
				ev, rev, err := d.Commands.CreateNamespace(ctx, c.Meta(in.Reason.Reason), in.CreateNamespace)
				return NamespaceCreated{Namespace: ev.Namespace, Parent: ev.Parent, DefaultRoles: ev.DefaultRoles, Revision: rev}, err
			}),
		def(Read, "namespace.list", get, "/v1/namespaces", ok, "List namespaces",
			func(ctx context.Context, d *Deps, c *Call, in *AtLeast) (Page[query.Namespace], error) {
				return page(d.Query.ListNamespaces(ctx, c.ReadAt(in.AtLeastRevision)))
			}),
		def(Read, "namespace.get", get, "/v1/namespaces/{namespace}", ok, "Get a namespace",
			func(ctx context.Context, d *Deps, c *Call, in *namespaceGet) (query.Namespace, error) {
				return d.Query.GetNamespace(ctx, c.ReadAt(in.AtLeastRevision), in.Namespace)
			}),
		def(Command, "namespace.delete", del, "/v1/namespaces/{namespace}", ok, "Delete a namespace",
			func(ctx context.Context, d *Deps, c *Call, in *namespaceDelete) (Revision, error) {
				return revision(d.Commands.DeleteNamespace(ctx, c.Meta(in.Reason.Reason), in.Namespace))
			}),

		// IAM clients.
		def(Command, "client.create", post, "/v1/namespaces/{namespace}/clients", created, "Create an IAM client (its secret is shown once)",
			func(ctx context.Context, d *Deps, c *Call, in *clientCreate) (command.ClientCreated, error) {
				return d.Commands.CreateClient(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.CreateClient)
			}).noStore(),
		def(Read, "client.list", get, "/v1/namespaces/{namespace}/clients", ok, "List a namespace's IAM clients",
			func(ctx context.Context, d *Deps, c *Call, in *inNamespace) (Page[query.Client], error) {
				return page(d.Query.ListClients(ctx, c.ReadAt(in.AtLeastRevision), in.Namespace))
			}),
		def(Read, "client.get", get, "/v1/namespaces/{namespace}/clients/{clientId}", ok, "Get an IAM client",
			func(ctx context.Context, d *Deps, c *Call, in *clientGet) (query.Client, error) {
				return client(ctx, d, c, in.ClientRef, in.AtLeastRevision)
			}),
		def(Command, "client.update", patch, "/v1/namespaces/{namespace}/clients/{clientId}", ok, "Update an IAM client's name or roles",
			func(ctx context.Context, d *Deps, c *Call, in *clientUpdate) (query.Client, error) {
				rev, err := d.Commands.UpdateClient(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.ClientID, in.UpdateClient)
				if err != nil {
					return query.Client{}, err
				}
				return client(ctx, d, c, in.ClientRef, rev)
			}),
		def(Command, "client.delete", del, "/v1/namespaces/{namespace}/clients/{clientId}", ok, "Delete an IAM client",
			func(ctx context.Context, d *Deps, c *Call, in *clientDelete) (Revision, error) {
				return revision(d.Commands.DeleteClient(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.ClientID))
			}),
		def(Command, "client.permissions.add", post, "/v1/namespaces/{namespace}/clients/{clientId}/permissions", ok, "Add permissions to an IAM client", clientPerms(command.AddPermissions)),
		def(Command, "client.permissions.replace", put, "/v1/namespaces/{namespace}/clients/{clientId}/permissions", ok, "Replace an IAM client's permissions", clientPerms(command.ReplacePermissions)),
		def(Command, "client.permissions.remove", del, "/v1/namespaces/{namespace}/clients/{clientId}/permissions", ok, "Remove permissions from an IAM client", clientPerms(command.RemovePermissions)),

		// Tokens.
		def(Command, "token.issue", post, "/v1/namespaces/{namespace}/tokens", created, "Issue a scoped token (its secret is shown once)",
			func(ctx context.Context, d *Deps, c *Call, in *tokenIssue) (command.TokenIssued, error) {
				return d.Commands.IssueToken(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.IssueToken)
			}).noStore(),
		def(Read, "token.list", get, "/v1/namespaces/{namespace}/tokens", ok, "List a namespace's tokens",
			func(ctx context.Context, d *Deps, c *Call, in *inNamespace) (Page[query.Token], error) {
				return page(d.Query.ListTokens(ctx, c.ReadAt(in.AtLeastRevision), in.Namespace))
			}),
		def(Command, "token.revoke", del, "/v1/namespaces/{namespace}/tokens/{tokenId}", ok, "Revoke a token",
			func(ctx context.Context, d *Deps, c *Call, in *tokenRevoke) (Revision, error) {
				return revision(d.Commands.RevokeToken(ctx, c.Meta(in.Reason.Reason), in.Namespace, in.TokenID))
			}),

		// Scopes.
		def(Command, "scope.define", put, "/v1/scopes/{name}", ok, "Define (or redefine) a token scope",
			func(ctx context.Context, d *Deps, c *Call, in *scopeDefine) (query.Scope, error) {
				rev, err := d.Commands.DefineScope(ctx, c.Meta(in.Reason.Reason), in.Name, in.DefineScope)
				if err != nil {
					return query.Scope{}, err
				}
				return d.Query.GetScope(ctx, c.ReadAt(rev), in.Name)
			}),
		def(Read, "scope.list", get, "/v1/scopes", ok, "List token scopes",
			func(ctx context.Context, d *Deps, c *Call, in *AtLeast) (Page[query.Scope], error) {
				return page(d.Query.ListScopes(ctx, c.ReadAt(in.AtLeastRevision)))
			}),
		def(Read, "scope.get", get, "/v1/scopes/{name}", ok, "Get a token scope",
			func(ctx context.Context, d *Deps, c *Call, in *scopeGet) (query.Scope, error) {
				return d.Query.GetScope(ctx, c.ReadAt(in.AtLeastRevision), in.Name)
			}),
		def(Command, "scope.delete", del, "/v1/scopes/{name}", ok, "Delete a token scope",
			func(ctx context.Context, d *Deps, c *Call, in *scopeDelete) (Revision, error) {
				return revision(d.Commands.DeleteScope(ctx, c.Meta(in.Reason.Reason), in.Name))
			}),

		// Endpoints.
		def(Command, "endpoint.register", put, "/v1/endpoints/{service}/{endpoint}", ok, "Register an endpoint's required permission",
			func(ctx context.Context, d *Deps, c *Call, in *endpointRegister) (Revision, error) {
				return revision(d.Commands.RegisterEndpoint(ctx, c.Meta(in.Reason.Reason), in.Service, in.Endpoint, in.RegisterEndpoint))
			}),
		def(Read, "endpoint.list", get, "/v1/endpoints", ok, "List registered endpoints",
			func(ctx context.Context, d *Deps, c *Call, in *AtLeast) (Page[query.Endpoint], error) {
				return page(d.Query.ListEndpoints(ctx, c.ReadAt(in.AtLeastRevision)))
			}),
		def(Command, "endpoint.delete", del, "/v1/endpoints/{service}/{endpoint}", ok, "Delete a registered endpoint",
			func(ctx context.Context, d *Deps, c *Call, in *endpointDelete) (Revision, error) {
				return revision(d.Commands.DeleteEndpoint(ctx, c.Meta(in.Reason.Reason), in.Service, in.Endpoint))
			}),

		// Presets and catalogs.
		def(Read, "preset.list", get, "/v1/presets", ok, "List the role presets",
			func(context.Context, *Deps, *Call, *none) (Presets, error) {
				ps, err := command.ListPresets()
				return Presets{Data: ps}, err
			}),
		def(Command, "preset.apply", post, "/v1/presets/{name}", ok, "Create the roles of a preset that do not exist yet",
			func(ctx context.Context, d *Deps, c *Call, in *named) (command.PresetApplied, error) {
				return d.Commands.ApplyPreset(ctx, c.Meta(in.Reason.Reason), in.Name)
			}),
		def(Command, "catalog.scopes.load", post, "/v1/catalogs/scopes/{name}", ok, "Define every scope of a scope catalog (hathora, vastai)",
			func(ctx context.Context, d *Deps, c *Call, in *named) (command.ScopesLoaded, error) {
				return d.Commands.LoadScopeCatalog(ctx, c.Meta(in.Reason.Reason), in.Name)
			}),
		def(Command, "catalog.endpoints.load", post, "/v1/catalogs/endpoints/{name}", ok, "Register every endpoint of an endpoint catalog (accelbyte, hathora)",
			func(ctx context.Context, d *Deps, c *Call, in *named) (command.EndpointsLoaded, error) {
				return d.Commands.LoadEndpointCatalog(ctx, c.Meta(in.Reason.Reason), in.Name)
			}),

		// Audit.
		def(Read, "audit.list", get, "/v1/audit", ok, "Read a page of the audit stream",
			func(ctx context.Context, d *Deps, c *Call, in *auditList) (Page[audit.Record], error) {
				if d.Audit == nil {
					return Page[audit.Record]{}, unavailable("the audit stream", "auditUnavailable")
				}
				f, err := in.Filter(time.Now())
				if err != nil {
					return Page[audit.Record]{}, err
				}
				n := limit(in.Limit)
				if n == 0 {
					n = query.DefaultLimit
				}
				p, err := d.Audit.Page(ctx, c.Caller, f, n)
				out := Page[audit.Record]{Data: p.Data, Revision: p.Revision}
				if out.Data == nil {
					out.Data = []audit.Record{}
				}
				if p.Next > 0 {
					out.Paging.Next = strconv.FormatUint(p.Next, 10)
				}
				return out, err
			}),
		def[AuditFilter, audit.Record](Read, "audit.stream", get, "/v1/audit/stream", ok,
			"Follow the audit stream (server-sent events; Last-Event-ID resumes)", nil).httpOnly().stream(),
		def[EffectsRequest, audit.Effect](Read, "audit.effects", get, "/v1/audit/effects", ok,
			"Follow the permission-change feed (server-sent events; Last-Event-ID resumes)", nil).httpOnly().stream(),

		// Administration.
		def(Command, "snapshot.take", post, "/v1/admin/snapshots", created, "Snapshot the node's index into the Object Store now",
			func(ctx context.Context, d *Deps, c *Call, _ *none) (SnapshotTaken, error) {
				if d.Snapshots == nil {
					return SnapshotTaken{}, unavailable("snapshots", "snapshotsUnavailable")
				}
				if err := auth.NewAuthorizer(d.Query).Authorize(ctx, c.Caller,
					perm.Permission{Resource: auth.PermSnapshots, Action: perm.Create}, ""); err != nil {
					return SnapshotTaken{}, err
				}
				info, err := d.Snapshots.Take(ctx)
				return SnapshotTaken{Revision: info.Revision, Object: info.Object, Bytes: info.Bytes}, err
			}),
		def(Read, "bootstrap.get", get, "/v1/admin/bootstrap-token", ok, "See the bootstrap Super Admin credential",
			func(ctx context.Context, d *Deps, c *Call, in *AtLeast) (Page[query.BootstrapCredential], error) {
				return page(d.Query.BootstrapCredentials(ctx, c.ReadAt(in.AtLeastRevision)))
			}),
		def(Command, "bootstrap.rotate", post, "/v1/admin/bootstrap-token:rotate", created, "Rotate the bootstrap credential (the new token is shown once)",
			func(ctx context.Context, d *Deps, c *Call, in *Reason) (command.BootstrapRotated, error) {
				return d.Commands.RotateBootstrapCredential(ctx, c.Meta(in.Reason))
			}).noStore().httpOnly(), // its answer holds everything: never a NATS reply
		def(Command, "bootstrap.revoke", del, "/v1/admin/bootstrap-token", ok, "Revoke the bootstrap credential",
			func(ctx context.Context, d *Deps, c *Call, in *Reason) (command.BootstrapRevoked, error) {
				return d.Commands.RevokeBootstrapCredential(ctx, c.Meta(in.Reason))
			}).httpOnly(), // as its rotation
		def(Read, "status", get, "/v1/status", ok, "The node's deployment role, revision and lag (no credential)",
			func(_ context.Context, d *Deps, _ *Call, _ *none) (NodeStatus, error) {
				if d.Status == nil {
					return NodeStatus{}, unavailable("its status", "statusUnavailable")
				}
				return d.Status(), nil
			}).httpOnly().public(),
		def(Read, "openapi", get, "/v1/openapi.json", ok, "This API's OpenAPI 3.1 document (no credential)",
			func(context.Context, *Deps, *Call, *none) (json.RawMessage, error) {
				return OpenAPI()
			}).httpOnly().public(),
	}
	// The seed systems' own APIs, at their own paths (compat_*.go).
	ops = append(ops, accelbyteOps()...)
	ops = append(ops, hathoraOps()...)
	return ops
}

// Filter is f as the audit service takes it.
func (f *AuditFilter) Filter(now time.Time) (audit.Filter, error) {
	since, err := ParseSince(f.Since, now)
	if err != nil {
		return audit.Filter{}, err
	}
	return audit.Filter{Namespaces: f.Namespace, Types: f.Type, FromRevision: f.FromRevision, Since: since}, nil
}

func (o *Op) maxBytes(n int) *Op { o.MaxBytes = n; return o }
func (o *Op) noStore() *Op       { o.NoStore = true; return o }
func (o *Op) fast() *Op          { o.Fast = true; return o }
func (o *Op) queryParams() *Op   { o.QueryParams = true; return o }
func (o *Op) public() *Op        { o.Public = true; return o }
func (o *Op) stream() *Op        { o.Stream = true; return o }
