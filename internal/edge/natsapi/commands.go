package natsapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/micro"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// CommandSubjectPrefix prefixes the command subjects:
// grantlog.v1.cmd.<name>, e.g. grantlog.v1.cmd.role.create.
const CommandSubjectPrefix = SubjectPrefix + ".cmd"

// Headers of a command request (besides Authorization).
const (
	// IdempotencyKeyHeader makes a retried command one command, as over HTTP.
	IdempotencyKeyHeader = "Idempotency-Key"
	// RequestIDHeader ties the command's audit record to the request; made
	// up when absent. Command replies echo it.
	RequestIDHeader = "X-Request-Id"
)

// MaxBatchRequestBytes bounds an assign.batch request, as over HTTP (NATS
// itself usually bounds payloads to 1 MiB).
const MaxBatchRequestBytes = 8 << 20

// Commander runs commands. *command.Service satisfies it.
type Commander interface {
	CreateRole(ctx context.Context, m command.Meta, in command.CreateRole) (events.RoleCreated, uint64, error)
	UpdateRole(ctx context.Context, m command.Meta, roleID string, in command.UpdateRole) (uint64, error)
	DeleteRole(ctx context.Context, m command.Meta, roleID string) (uint64, error)
	ChangePermissions(ctx context.Context, m command.Meta, roleID string, op command.PermissionOp, ps []perm.Permission) (uint64, error)
	AssignRole(ctx context.Context, m command.Meta, ns, userID, roleID string, assignedNamespaces []string, opts ...command.AssignOptions) (uint64, error)
	UnassignRole(ctx context.Context, m command.Meta, ns, userID, roleID string) (uint64, error)
	AssignBatch(ctx context.Context, m command.Meta, ns string, in []command.BatchAssignment) (uint64, error)
	CreateNamespace(ctx context.Context, m command.Meta, in command.CreateNamespace) (events.NamespaceCreated, uint64, error)
	DeleteNamespace(ctx context.Context, m command.Meta, ns string) (uint64, error)
	CreateClient(ctx context.Context, m command.Meta, ns string, in command.CreateClient) (command.ClientCreated, error)
	UpdateClient(ctx context.Context, m command.Meta, ns, id string, in command.UpdateClient) (uint64, error)
	ChangeClientPermissions(ctx context.Context, m command.Meta, ns, id string, op command.PermissionOp, ps []perm.Permission) (uint64, error)
	DeleteClient(ctx context.Context, m command.Meta, ns, id string) (uint64, error)
	IssueToken(ctx context.Context, m command.Meta, ns string, in command.IssueToken) (command.TokenIssued, error)
	RevokeToken(ctx context.Context, m command.Meta, ns, id string) (uint64, error)
	DefineScope(ctx context.Context, m command.Meta, name string, in command.DefineScope) (uint64, error)
	DeleteScope(ctx context.Context, m command.Meta, name string) (uint64, error)
	RegisterEndpoint(ctx context.Context, m command.Meta, service, name string, in command.RegisterEndpoint) (uint64, error)
	DeleteEndpoint(ctx context.Context, m command.Meta, service, name string) (uint64, error)
}

// Reader answers the reads some commands reply with (the role, client or
// scope as it is after the command, as over HTTP). *query.Engine satisfies
// it.
type Reader interface {
	GetRole(ctx context.Context, o query.ReadOptions, roleID string) (query.Role, uint64, error)
	GetClient(ctx context.Context, o query.ReadOptions, ns, id string) (query.Client, error)
	GetScope(ctx context.Context, o query.ReadOptions, name string) (query.Scope, error)
}

// revisionReply is the reply of commands that answer their revision only.
type revisionReply struct {
	Revision uint64 `json:"revision"`
}

// reasoned is embedded in every command request: the audit record's reason.
type reasoned struct {
	Reason string `json:"reason"`
}

func (r *reasoned) reasonText() string { return r.Reason }

type (
	roleCreateReq struct {
		command.CreateRole
		reasoned
	}
	roleUpdateReq struct {
		RoleID string `json:"roleId"`
		command.UpdateRole
		reasoned
	}
	roleDeleteReq struct {
		RoleID string `json:"roleId"`
		reasoned
	}
	rolePermsReq struct {
		RoleID      string            `json:"roleId"`
		Permissions []perm.Permission `json:"permissions"`
		reasoned
	}
	assignReq struct {
		Namespace          string     `json:"namespace"`
		UserID             string     `json:"userId"`
		RoleID             string     `json:"roleId"`
		AssignedNamespaces []string   `json:"assignedNamespaces"`
		NotBefore          *time.Time `json:"notBefore"`
		NotAfter           *time.Time `json:"notAfter"`
		reasoned
	}
	unassignReq struct {
		Namespace string `json:"namespace"`
		UserID    string `json:"userId"`
		RoleID    string `json:"roleId"`
		reasoned
	}
	assignBatchReq struct {
		Namespace   string                    `json:"namespace"`
		Assignments []command.BatchAssignment `json:"assignments"`
		reasoned
	}
	namespaceCreateReq struct {
		command.CreateNamespace
		reasoned
	}
	namespaceReq struct {
		Namespace string `json:"namespace"`
		reasoned
	}
	clientCreateReq struct {
		Namespace string `json:"namespace"`
		command.CreateClient
		reasoned
	}
	clientUpdateReq struct {
		Namespace string `json:"namespace"`
		ClientID  string `json:"clientId"`
		command.UpdateClient
		reasoned
	}
	clientReq struct {
		Namespace string `json:"namespace"`
		ClientID  string `json:"clientId"`
		reasoned
	}
	clientPermsReq struct {
		Namespace   string            `json:"namespace"`
		ClientID    string            `json:"clientId"`
		Permissions []perm.Permission `json:"permissions"`
		reasoned
	}
	tokenIssueReq struct {
		Namespace string `json:"namespace"`
		command.IssueToken
		reasoned
	}
	tokenRevokeReq struct {
		Namespace string `json:"namespace"`
		TokenID   string `json:"tokenId"`
		reasoned
	}
	scopeDefineReq struct {
		Name string `json:"name"`
		command.DefineScope
		reasoned
	}
	scopeReq struct {
		Name string `json:"name"`
		reasoned
	}
	endpointRegisterReq struct {
		Service  string `json:"service"`
		Endpoint string `json:"endpoint"`
		command.RegisterEndpoint
		reasoned
	}
	endpointReq struct {
		Service  string `json:"service"`
		Endpoint string `json:"endpoint"`
		reasoned
	}
)

// commandEndpoint is one command: its subject under CommandSubjectPrefix
// and its handler.
type commandEndpoint struct {
	subject string
	handler micro.HandlerFunc
}

// commandEndpoints lists every command endpoint, in the HTTP API's order.
func (s *Service) commandEndpoints() []commandEndpoint {
	c, r := s.cfg.Commands, s.cfg.Reads
	role := func(ctx context.Context, m command.Meta, roleID string, rev uint64) (any, error) {
		out, _, err := r.GetRole(ctx, query.ReadOptions{Caller: m.Caller, AtLeastRevision: rev}, roleID)
		return out, err
	}
	client := func(ctx context.Context, m command.Meta, ns, id string, rev uint64) (any, error) {
		return r.GetClient(ctx, query.ReadOptions{Caller: m.Caller, AtLeastRevision: rev}, ns, id)
	}
	perms := func(op command.PermissionOp) micro.HandlerFunc {
		return handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *rolePermsReq) (any, error) {
			if in.Permissions == nil {
				return nil, errPermissionsMissing
			}
			rev, err := c.ChangePermissions(ctx, m, in.RoleID, op, in.Permissions)
			if err != nil {
				return nil, err
			}
			return role(ctx, m, in.RoleID, rev)
		})
	}
	clientPerms := func(op command.PermissionOp) micro.HandlerFunc {
		return handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *clientPermsReq) (any, error) {
			if in.Permissions == nil {
				return nil, errPermissionsMissing
			}
			rev, err := c.ChangeClientPermissions(ctx, m, in.Namespace, in.ClientID, op, in.Permissions)
			if err != nil {
				return nil, err
			}
			return client(ctx, m, in.Namespace, in.ClientID, rev)
		})
	}
	revision := func(rev uint64, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		return revisionReply{rev}, nil
	}
	return []commandEndpoint{
		{"role.create", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *roleCreateReq) (any, error) {
			ev, rev, err := c.CreateRole(ctx, m, in.CreateRole)
			if err != nil {
				return nil, err
			}
			return role(ctx, m, ev.RoleID, rev)
		})},
		{"role.update", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *roleUpdateReq) (any, error) {
			rev, err := c.UpdateRole(ctx, m, in.RoleID, in.UpdateRole)
			if err != nil {
				return nil, err
			}
			return role(ctx, m, in.RoleID, rev)
		})},
		{"role.delete", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *roleDeleteReq) (any, error) {
			return revision(c.DeleteRole(ctx, m, in.RoleID))
		})},
		{"role.permissions.add", perms(command.AddPermissions)},
		{"role.permissions.replace", perms(command.ReplacePermissions)},
		{"role.permissions.remove", perms(command.RemovePermissions)},
		{"assign", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *assignReq) (any, error) {
			if in.RoleID == "" {
				return nil, &apiError{status: http.StatusBadRequest, code: "invalidRoleId",
					msg: `request must name the role: {"namespace": "...", "userId": "...", "roleId": "...", "assignedNamespaces": ["..."]}`}
			}
			return revision(c.AssignRole(ctx, m, in.Namespace, in.UserID, in.RoleID, in.AssignedNamespaces,
				command.AssignOptions{NotBefore: in.NotBefore, NotAfter: in.NotAfter}))
		})},
		{"unassign", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *unassignReq) (any, error) {
			return revision(c.UnassignRole(ctx, m, in.Namespace, in.UserID, in.RoleID))
		})},
		{"assign.batch", handle(s, MaxBatchRequestBytes, func(ctx context.Context, m command.Meta, in *assignBatchReq) (any, error) {
			rev, err := c.AssignBatch(ctx, m, in.Namespace, in.Assignments)
			if err != nil {
				return nil, err
			}
			return map[string]any{"revision": rev, "count": len(in.Assignments)}, nil
		})},
		{"namespace.create", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *namespaceCreateReq) (any, error) {
			ev, rev, err := c.CreateNamespace(ctx, m, in.CreateNamespace)
			if err != nil {
				return nil, err
			}
			return map[string]any{"namespace": ev.Namespace, "parent": ev.Parent, "defaultRoles": ev.DefaultRoles, "revision": rev}, nil
		})},
		{"namespace.delete", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *namespaceReq) (any, error) {
			return revision(c.DeleteNamespace(ctx, m, in.Namespace))
		})},
		{"client.create", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *clientCreateReq) (any, error) {
			return c.CreateClient(ctx, m, in.Namespace, in.CreateClient)
		})},
		{"client.update", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *clientUpdateReq) (any, error) {
			rev, err := c.UpdateClient(ctx, m, in.Namespace, in.ClientID, in.UpdateClient)
			if err != nil {
				return nil, err
			}
			return client(ctx, m, in.Namespace, in.ClientID, rev)
		})},
		{"client.delete", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *clientReq) (any, error) {
			return revision(c.DeleteClient(ctx, m, in.Namespace, in.ClientID))
		})},
		{"client.permissions.add", clientPerms(command.AddPermissions)},
		{"client.permissions.replace", clientPerms(command.ReplacePermissions)},
		{"client.permissions.remove", clientPerms(command.RemovePermissions)},
		{"token.issue", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *tokenIssueReq) (any, error) {
			return c.IssueToken(ctx, m, in.Namespace, in.IssueToken)
		})},
		{"token.revoke", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *tokenRevokeReq) (any, error) {
			return revision(c.RevokeToken(ctx, m, in.Namespace, in.TokenID))
		})},
		{"scope.define", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *scopeDefineReq) (any, error) {
			rev, err := c.DefineScope(ctx, m, in.Name, in.DefineScope)
			if err != nil {
				return nil, err
			}
			return r.GetScope(ctx, query.ReadOptions{Caller: m.Caller, AtLeastRevision: rev}, in.Name)
		})},
		{"scope.delete", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *scopeReq) (any, error) {
			return revision(c.DeleteScope(ctx, m, in.Name))
		})},
		{"endpoint.register", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *endpointRegisterReq) (any, error) {
			return revision(c.RegisterEndpoint(ctx, m, in.Service, in.Endpoint, in.RegisterEndpoint))
		})},
		{"endpoint.delete", handle(s, MaxRequestBytes, func(ctx context.Context, m command.Meta, in *endpointReq) (any, error) {
			return revision(c.DeleteEndpoint(ctx, m, in.Service, in.Endpoint))
		})},
	}
}

var errPermissionsMissing = &apiError{status: http.StatusBadRequest, code: "invalidPermission",
	msg: `request must have "permissions": [{"resource": "...", "action": 1-15}]`}

// CommandSubjects lists every command subject (grantlog.v1.cmd.<name>).
func CommandSubjects() []string {
	var s Service
	eps := s.commandEndpoints()
	out := make([]string, len(eps))
	for i, e := range eps {
		out[i] = CommandSubjectPrefix + "." + e.subject
	}
	return out
}

// endpointName is a micro endpoint name for a command subject (micro names
// allow no dots): "cmd-role-create".
func endpointName(subject string) string {
	return "cmd-" + strings.ReplaceAll(subject, ".", "-")
}

// handle makes the handler of a command whose request decodes into T:
// authenticate, decode strictly, build the command's metadata (source
// via "nats" with the request id) and run it off the subscription's
// goroutine. Replies carry X-Request-Id.
func handle[T any, PT interface {
	*T
	reasonText() string
}](s *Service, limit int, run func(ctx context.Context, m command.Meta, in PT) (any, error)) micro.HandlerFunc {
	return func(req micro.Request) {
		id := req.Headers().Get(RequestIDHeader)
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		hdr := micro.Headers{RequestIDHeader: []string{id}}
		caller, err := s.authenticate(req)
		if err != nil {
			s.failWith(req, err, hdr)
			return
		}
		in := PT(new(T))
		if err := decodeLimit(req.Data(), in, limit); err != nil {
			s.failWith(req, err, hdr)
			return
		}
		m := command.Meta{
			Caller:        caller,
			CommandID:     req.Headers().Get(IdempotencyKeyHeader),
			CorrelationID: id,
			Reason:        in.reasonText(),
			Source:        &events.Source{Via: events.ViaNATS, RequestID: id},
		}
		s.async(req, hdr, func(ctx context.Context) (any, error) { return run(ctx, m, in) })
	}
}
