package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// Permission is a resource tag and an action bitmask, e.g.
// {Resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", Action: perm.Read | perm.Update}.
type Permission = perm.Permission

// Input types of commands: the JSON bodies the HTTP API takes.
type (
	// CreateRole is the input of CreateRole.
	CreateRole = command.CreateRole
	// UpdateRole is the input of UpdateRole; nil fields stay as they are.
	UpdateRole = command.UpdateRole
	// CreateNamespace is the input of CreateNamespace.
	CreateNamespace = command.CreateNamespace
	// CreateClient is the input of CreateClient (an IAM client).
	CreateClient = command.CreateClient
	// IssueToken is the input of IssueToken.
	IssueToken = command.IssueToken
	// BatchAssignment is one assignment of AssignBatch.
	BatchAssignment = command.BatchAssignment
)

// Answers of commands and reads.
type (
	// Role is a role as the API returns it. Revision is the revision of
	// the role's last change: after a command on the role, the command's.
	Role = query.Role
	// UserRole is one of a user's assignments.
	UserRole = query.UserRole
	// CreatedClient is what CreateClient answers: the secret is shown once.
	CreatedClient = command.ClientCreated
	// IssuedToken is what IssueToken answers: the token is shown once.
	IssuedToken = command.TokenIssued
)

// CreatedNamespace is what CreateNamespace answers.
type CreatedNamespace struct {
	Namespace    string   `json:"namespace"`
	Parent       string   `json:"parent,omitempty"`
	DefaultRoles []string `json:"defaultRoles"`
	Revision     uint64   `json:"revision"`
}

// Page is one page of a list, read at Revision. Next, when not empty, is
// the After of the next page.
type Page[T any] struct {
	Data     []T
	Next     string
	Revision uint64
}

type pageJSON[T any] struct {
	Data   []T `json:"data"`
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
	Revision uint64 `json:"revision"`
}

func (p *pageJSON[T]) page() Page[T] {
	return Page[T]{Data: p.Data, Next: p.Paging.Next, Revision: p.Revision}
}

// ListOptions pages a list.
type ListOptions struct {
	// Limit is the page size, 1 to 1000; 0: the server's default (100).
	Limit int
	// After is the Next of the previous page; "" starts at the beginning.
	After string
}

// fields adds l to a request's fields.
func (l ListOptions) fields(f map[string]any) map[string]any {
	if l.Limit > 0 {
		f["limit"] = l.Limit
	}
	if l.After != "" {
		f["after"] = l.After
	}
	return f
}

type revisionJSON struct {
	Revision uint64 `json:"revision"`
}

// call sends the operation named name of the API's operation table
// (internal/edge/api) over HTTP: in holds every field of its request, as
// one JSON object (a struct or a map); the table says which go in the
// path, the query string and the body. WithReason adds the reason of a
// command, WithAtLeastRevision the revision a read waits for.
func (c *Client) call(ctx context.Context, name string, in, out any, opts []CallOption) error {
	op, ok := api.ByName(name)
	if !ok {
		return fmt.Errorf("grantlog: no operation %s", name)
	}
	o := collect(opts)
	raw, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("grantlog: %s: %w", name, err)
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("grantlog: %s: %w", name, err)
	}
	switch op.Kind {
	case api.Command:
		if o.reason != "" {
			fields["reason"], _ = json.Marshal(o.reason)
		}
	case api.Read:
		if o.atLeast > 0 {
			fields["atLeastRevision"], _ = json.Marshal(o.atLeast)
		}
	}
	o.atLeast = 0 // in the fields
	target, body, err := op.HTTPRequest(fields)
	if err != nil {
		return fmt.Errorf("grantlog: %w", err)
	}
	var b any
	if body != nil {
		b = json.RawMessage(body)
	}
	return c.do(ctx, op.Method, target, nil, b, out, o)
}

// revisionCommand sends a command answered with {revision}.
func (c *Client) revisionCommand(ctx context.Context, name string, in any, opts []CallOption) (uint64, error) {
	var out revisionJSON
	if err := c.call(ctx, name, in, &out, opts); err != nil {
		return 0, err
	}
	return out.Revision, nil
}

// CreateRole creates a role (POST /v1/roles). A role name already taken is
// ErrConflict; a bad tag or action ErrInvalid.
func (c *Client) CreateRole(ctx context.Context, in CreateRole, opts ...CallOption) (Role, error) {
	var out Role
	err := c.call(ctx, "role.create", in, &out, opts)
	return out, err
}

// GetRole reads a role (GET /v1/roles/{roleId}); an unknown id is
// ErrNotFound.
func (c *Client) GetRole(ctx context.Context, roleID string, opts ...CallOption) (Role, error) {
	var out Role
	err := c.call(ctx, "role.get", map[string]any{"roleId": roleID}, &out, opts)
	return out, err
}

// ListRoles reads one page of roles by name (GET /v1/roles).
func (c *Client) ListRoles(ctx context.Context, l ListOptions, opts ...CallOption) (Page[Role], error) {
	var out pageJSON[Role]
	if err := c.call(ctx, "role.list", l.fields(map[string]any{}), &out, opts); err != nil {
		return Page[Role]{}, err
	}
	return out.page(), nil
}

// UpdateRole renames a role or changes its flags or description (PATCH
// /v1/roles/{roleId}).
func (c *Client) UpdateRole(ctx context.Context, roleID string, in UpdateRole, opts ...CallOption) (Role, error) {
	var out Role
	err := c.call(ctx, "role.update", struct {
		RoleID string `json:"roleId"`
		UpdateRole
	}{roleID, in}, &out, opts)
	return out, err
}

// DeleteRole deletes a role and ends its assignments (DELETE
// /v1/roles/{roleId}). It returns the revision.
func (c *Client) DeleteRole(ctx context.Context, roleID string, opts ...CallOption) (uint64, error) {
	return c.revisionCommand(ctx, "role.delete", map[string]any{"roleId": roleID}, opts)
}

func (c *Client) permissions(ctx context.Context, name, roleID string, ps []Permission, opts []CallOption) (Role, error) {
	if ps == nil {
		ps = []Permission{}
	}
	var out Role
	err := c.call(ctx, name, map[string]any{"roleId": roleID, "permissions": ps}, &out, opts)
	return out, err
}

// AddPermissions adds permissions to a role; the actions of a resource the
// role already has are OR-ed in (POST /v1/roles/{roleId}/permissions).
func (c *Client) AddPermissions(ctx context.Context, roleID string, ps []Permission, opts ...CallOption) (Role, error) {
	return c.permissions(ctx, "role.permissions.add", roleID, ps, opts)
}

// ReplacePermissions replaces a role's permissions (PUT
// /v1/roles/{roleId}/permissions).
func (c *Client) ReplacePermissions(ctx context.Context, roleID string, ps []Permission, opts ...CallOption) (Role, error) {
	return c.permissions(ctx, "role.permissions.replace", roleID, ps, opts)
}

// RemovePermissions removes actions from a role's permissions; action 0
// removes the resource (DELETE /v1/roles/{roleId}/permissions).
func (c *Client) RemovePermissions(ctx context.Context, roleID string, ps []Permission, opts ...CallOption) (Role, error) {
	return c.permissions(ctx, "role.permissions.remove", roleID, ps, opts)
}

type assignJSON struct {
	Namespace          string     `json:"namespace"`
	UserID             string     `json:"userId"`
	RoleID             string     `json:"roleId"`
	AssignedNamespaces []string   `json:"assignedNamespaces"`
	NotBefore          *time.Time `json:"notBefore,omitempty"`
	NotAfter           *time.Time `json:"notAfter,omitempty"`
}

// AssignRole assigns role roleID to user userID, made in namespace ns and
// applying in assignedNamespaces (a wildcard role applies in whatever
// namespace a check is made in). WithWindow bounds when it is in force. It
// returns the revision (POST /v1/namespaces/{ns}/users/{userId}/roles).
func (c *Client) AssignRole(ctx context.Context, ns, userID, roleID string, assignedNamespaces []string, opts ...CallOption) (uint64, error) {
	o := collect(opts)
	return c.revisionCommand(ctx, "assign", assignJSON{Namespace: ns, UserID: userID, RoleID: roleID,
		AssignedNamespaces: assignedNamespaces, NotBefore: o.notBefore, NotAfter: o.notAfter}, opts)
}

// UnassignRole ends user userID's assignment of roleID made in ns. It
// returns the revision.
func (c *Client) UnassignRole(ctx context.Context, ns, userID, roleID string, opts ...CallOption) (uint64, error) {
	return c.revisionCommand(ctx, "unassign", map[string]any{"namespace": ns, "userId": userID, "roleId": roleID}, opts)
}

// UserRoles lists the roles assigned to userID within ns.
func (c *Client) UserRoles(ctx context.Context, ns, userID string, opts ...CallOption) (Page[UserRole], error) {
	var out pageJSON[UserRole]
	if err := c.call(ctx, "user.roles", map[string]any{"namespace": ns, "userId": userID}, &out, opts); err != nil {
		return Page[UserRole]{}, err
	}
	return out.page(), nil
}

// AssignBatch makes up to 10,000 assignments within ns as one event: all
// or nothing, at one revision, which it returns (POST
// /v1/namespaces/{ns}/assignments:batch).
func (c *Client) AssignBatch(ctx context.Context, ns string, in []BatchAssignment, opts ...CallOption) (uint64, error) {
	return c.revisionCommand(ctx, "assign.batch", map[string]any{"namespace": ns, "assignments": in}, opts)
}

// CreateNamespace creates a namespace with its parent studio and default
// roles (POST /v1/namespaces).
func (c *Client) CreateNamespace(ctx context.Context, in CreateNamespace, opts ...CallOption) (CreatedNamespace, error) {
	var out CreatedNamespace
	err := c.call(ctx, "namespace.create", in, &out, opts)
	return out, err
}

// CreateClient creates an IAM client in ns (POST
// /v1/namespaces/{ns}/clients). The secret in the answer is shown once.
func (c *Client) CreateClient(ctx context.Context, ns string, in CreateClient, opts ...CallOption) (CreatedClient, error) {
	var out CreatedClient
	err := c.call(ctx, "client.create", struct {
		Namespace string `json:"namespace"`
		CreateClient
	}{ns, in}, &out, opts)
	return out, err
}

// IssueToken issues a token (API key) in ns (POST
// /v1/namespaces/{ns}/tokens). The token in the answer is shown once.
// Its permissions are in.Scopes, in.Permissions and in.VastPermissions (a
// Vast.ai permission document, as `vastai create api-key
// --permission_file` takes it), their params "$1"... filled from in.Params.
func (c *Client) IssueToken(ctx context.Context, ns string, in IssueToken, opts ...CallOption) (IssuedToken, error) {
	var out IssuedToken
	err := c.call(ctx, "token.issue", struct {
		Namespace string `json:"namespace"`
		IssueToken
	}{ns, in}, &out, opts)
	return out, err
}

// RevokeToken revokes a token. It returns the revision.
func (c *Client) RevokeToken(ctx context.Context, ns, tokenID string, opts ...CallOption) (uint64, error) {
	return c.revisionCommand(ctx, "token.revoke", map[string]any{"namespace": ns, "tokenId": tokenID}, opts)
}

// TxStep is one command of a transaction: an operation name (role.create,
// assign, …; see Transaction) and the fields its request takes, path and
// query fields included.
type TxStep struct {
	Op      string `json:"op"`
	Request any    `json:"request"`
}

// Transaction applies steps as one: all of them or none, at the one
// revision it returns (POST /v1/transactions). A step may be role.create
// (give roleId to name the new role in later steps), role.update,
// role.delete, role.permissions.add|replace|remove, assign, unassign,
// namespace.create, namespace.delete, scope.define, scope.delete,
// endpoint.register or endpoint.delete; at most 1,000 steps.
func (c *Client) Transaction(ctx context.Context, steps []TxStep, opts ...CallOption) (uint64, error) {
	return c.revisionCommand(ctx, "transaction", map[string]any{"steps": steps}, opts)
}
