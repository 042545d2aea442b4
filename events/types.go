package events

import (
	"encoding/json"
	"time"
)

// PlatformNamespace is the reserved namespace segment under which
// platform-level objects (roles) are written. User namespaces can never take
// this name: it starts with an underscore, which namespace names may not.
const PlatformNamespace = "_platform"

// Permission is a resource tag with its CRUD action bitmask, as carried in
// events. Resource is always in canonical form. The optional fields are the
// permission's conditions (constraints on request attributes, a validity
// window, a schedule); their meaning is defined by package perm.
type Permission struct {
	Resource    string          `json:"resource"`
	Action      uint8           `json:"action"`
	Constraints json.RawMessage `json:"constraints,omitempty"`
	NotBefore   *time.Time      `json:"notBefore,omitempty"`
	NotAfter    *time.Time      `json:"notAfter,omitempty"`
	SchedAction uint8           `json:"schedAction,omitempty"`
	SchedCron   string          `json:"schedCron,omitempty"`
	SchedRange  []time.Time     `json:"schedRange,omitempty"`
}

// Event type names. These strings are a public contract: never change one,
// add a new version instead.
const (
	TypeRoleCreated             = "role.created.v1"
	TypeRoleUpdated             = "role.updated.v1"
	TypeRolePermissionsAdded    = "role.permissions_added.v1"
	TypeRolePermissionsRemoved  = "role.permissions_removed.v1"
	TypeRolePermissionsReplaced = "role.permissions_replaced.v1"
	TypeRoleDeleted             = "role.deleted.v1"
	TypeUserRoleAssigned        = "user.role_assigned.v1"
	TypeUserRoleUnassigned      = "user.role_unassigned.v1"
	TypeNamespaceCreated        = "namespace.created.v1"
	TypeNamespaceDeleted        = "namespace.deleted.v1"
	TypeClientCreated           = "client.created.v1"
	TypeClientUpdated           = "client.updated.v1"
	TypeClientDeleted           = "client.deleted.v1"
	TypeTokenIssued             = "token.issued.v1"
	TypeTokenRevoked            = "token.revoked.v1"
	TypeScopeDefined            = "scope.defined.v1"
	TypeScopeDeleted            = "scope.deleted.v1"
	TypeEndpointRegistered      = "endpoint.registered.v1"
	TypeEndpointDeleted         = "endpoint.deleted.v1"
)

// RoleCreated records a new role. Namespace: PlatformNamespace; aggregate: RoleID.
type RoleCreated struct {
	RoleID      string       `json:"roleId"`
	RoleName    string       `json:"roleName"`
	AdminRole   bool         `json:"adminRole"`
	IsWildcard  bool         `json:"isWildcard"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions"`
}

// EventType implements Payload.
func (RoleCreated) EventType() string { return TypeRoleCreated }

// RoleUpdated records the new name, flags and description of a role (all
// fields carry the values after the update).
type RoleUpdated struct {
	RoleID      string `json:"roleId"`
	RoleName    string `json:"roleName"`
	AdminRole   bool   `json:"adminRole"`
	IsWildcard  bool   `json:"isWildcard"`
	Description string `json:"description,omitempty"`
	// Before is the role as the command saw it (audit; absent in events
	// written before it existed).
	Before *RoleState `json:"before,omitempty"`
}

// EventType implements Payload.
func (RoleUpdated) EventType() string { return TypeRoleUpdated }

// RolePermissionsAdded records permissions added to a role. An added
// permission whose resource the role already holds ORs its action bits in.
type RolePermissionsAdded struct {
	RoleID      string       `json:"roleId"`
	Permissions []Permission `json:"permissions"`
	// Before is the role as the command saw it (audit).
	Before *RoleState `json:"before,omitempty"`
}

// EventType implements Payload.
func (RolePermissionsAdded) EventType() string { return TypeRolePermissionsAdded }

// RolePermissionsRemoved records permissions taken from a role. An action of
// zero removes the resource entirely; otherwise those action bits are cleared
// (and the resource removed when no bit is left).
type RolePermissionsRemoved struct {
	RoleID      string       `json:"roleId"`
	Permissions []Permission `json:"permissions"`
	// Before is the role as the command saw it (audit).
	Before *RoleState `json:"before,omitempty"`
}

// EventType implements Payload.
func (RolePermissionsRemoved) EventType() string { return TypeRolePermissionsRemoved }

// RolePermissionsReplaced records a role's complete new permission list.
type RolePermissionsReplaced struct {
	RoleID      string       `json:"roleId"`
	Permissions []Permission `json:"permissions"`
	// Before is the role as the command saw it (audit).
	Before *RoleState `json:"before,omitempty"`
}

// EventType implements Payload.
func (RolePermissionsReplaced) EventType() string { return TypeRolePermissionsReplaced }

// RoleDeleted records a role's deletion; it ends every assignment of the role.
type RoleDeleted struct {
	RoleID string `json:"roleId"`
	// Before is the role as the command saw it (audit).
	Before *RoleState `json:"before,omitempty"`
}

// EventType implements Payload.
func (RoleDeleted) EventType() string { return TypeRoleDeleted }

// UserRoleAssigned records role RoleID given to UserID, made within the
// event's namespace (the user's), applying in AssignedNamespaces (empty for
// wildcard roles). A second assignment of the same role to the same user in
// the same namespace replaces the first.
type UserRoleAssigned struct {
	UserID             string   `json:"userId"`
	RoleID             string   `json:"roleId"`
	AssignedNamespaces []string `json:"assignedNamespaces"`
	// NotBefore and NotAfter, when set, bound when the assignment is in
	// force: from NotBefore (inclusive) until NotAfter (exclusive).
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
	// Before is the assignment this one replaces, if any (audit).
	Before *AssignmentState `json:"before,omitempty"`
}

// EventType implements Payload.
func (UserRoleAssigned) EventType() string { return TypeUserRoleAssigned }

// UserRoleUnassigned records the end of an assignment.
type UserRoleUnassigned struct {
	UserID string `json:"userId"`
	RoleID string `json:"roleId"`
	// Before is the assignment ended (audit).
	Before *AssignmentState `json:"before,omitempty"`
}

// EventType implements Payload.
func (UserRoleUnassigned) EventType() string { return TypeUserRoleUnassigned }

// NamespaceCreated records an explicitly created namespace.
type NamespaceCreated struct {
	Namespace    string   `json:"namespace"`
	Parent       string   `json:"parent,omitempty"`
	DefaultRoles []string `json:"defaultRoles,omitempty"`
}

// EventType implements Payload.
func (NamespaceCreated) EventType() string { return TypeNamespaceCreated }

// NamespaceDeleted records a namespace's deletion; it ends the namespace's
// assignments.
type NamespaceDeleted struct {
	Namespace string `json:"namespace"`
}

// EventType implements Payload.
func (NamespaceDeleted) EventType() string { return TypeNamespaceDeleted }

// ClientCreated records a new IAM client in the event's namespace. The
// secret is never in the event: only its SHA-256 hash (hex).
type ClientCreated struct {
	ClientID    string       `json:"clientId"`
	ClientName  string       `json:"clientName"`
	SecretHash  string       `json:"secretHash"`
	Permissions []Permission `json:"permissions"`
	Roles       []string     `json:"roles,omitempty"`
}

// EventType implements Payload.
func (ClientCreated) EventType() string { return TypeClientCreated }

// ClientUpdated records a client's new name, permissions and roles (all
// fields carry the values after the update).
type ClientUpdated struct {
	ClientID    string       `json:"clientId"`
	ClientName  string       `json:"clientName"`
	Permissions []Permission `json:"permissions"`
	Roles       []string     `json:"roles,omitempty"`
	// Before is the client as the command saw it, without its secret hash (audit).
	Before *ClientState `json:"before,omitempty"`
}

// EventType implements Payload.
func (ClientUpdated) EventType() string { return TypeClientUpdated }

// ClientDeleted records a client's deletion.
type ClientDeleted struct {
	ClientID string `json:"clientId"`
	// Before is the client as the command saw it, without its secret hash (audit).
	Before *ClientState `json:"before,omitempty"`
}

// EventType implements Payload.
func (ClientDeleted) EventType() string { return TypeClientDeleted }

// TokenIssued records a token (API key) issued in the event's namespace to
// Owner. Permissions are final (scopes expanded, params filled) and never
// change; the secret is never in the event, only its SHA-256 hash (hex).
type TokenIssued struct {
	TokenID     string       `json:"tokenId"`
	Name        string       `json:"name"`
	Owner       Actor        `json:"owner"`
	Issuer      Actor        `json:"issuer"`
	Scopes      []string     `json:"scopes,omitempty"`
	Permissions []Permission `json:"permissions"`
	SecretHash  string       `json:"secretHash"`
	NotBefore   *time.Time   `json:"notBefore,omitempty"`
	ExpiresAt   *time.Time   `json:"expiresAt,omitempty"`
	// Bootstrap marks the bootstrap Super Admin credential: a token in
	// PlatformNamespace owned by the bootstrap admin user whose secret
	// (prefix "glt_") authenticates as the root of the service. Only the
	// service issues one: on a new stream, when it registers the hash of a
	// bootstrap token made before the credential lived in the event log
	// (bootstrap-token.sha256), or when the credential is rotated.
	// Revoking a bootstrap credential (here through Replaces, or with
	// token.revoked.v1) also ends every token it issued, directly or
	// through tokens it issued, and the tokens issued by the bootstrap
	// credential before it lived in the log (issuer user
	// grantlog-bootstrap-admin); tokens issued afterwards by any of them
	// are ignored.
	Bootstrap bool `json:"bootstrap,omitempty"`
	// Replaces, on a bootstrap credential, lists the bootstrap credentials
	// it revokes (a rotation: the new one and the end of the old one in
	// one event).
	Replaces []string `json:"replaces,omitempty"`
}

// EventType implements Payload.
func (TokenIssued) EventType() string { return TypeTokenIssued }

// TokenRevoked records a token's revocation. Revoking a bootstrap
// credential (TokenIssued.Bootstrap) also ends the tokens it issued (see
// TokenIssued.Bootstrap).
type TokenRevoked struct {
	TokenID string `json:"tokenId"`
	// Before is the token as the command saw it, without its secret hash (audit).
	Before *TokenState `json:"before,omitempty"`
}

// EventType implements Payload.
func (TokenRevoked) EventType() string { return TypeTokenRevoked }

// ScopeDefined records a named permission bundle (created or replaced).
// Includes names other scopes whose permissions it also grants.
type ScopeDefined struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions"`
	Includes    []string     `json:"includes,omitempty"`
}

// EventType implements Payload.
func (ScopeDefined) EventType() string { return TypeScopeDefined }

// ScopeDeleted records a scope's deletion. Tokens issued with it keep their
// permissions (they were expanded at issue).
type ScopeDeleted struct {
	Name string `json:"name"`
}

// EventType implements Payload.
func (ScopeDeleted) EventType() string { return TypeScopeDeleted }

// EndpointRegistered records which permission an endpoint of a service
// requires (created or replaced).
type EndpointRegistered struct {
	Service  string `json:"service"`
	Name     string `json:"name"`
	Method   string `json:"method,omitempty"`
	Path     string `json:"path,omitempty"`
	Resource string `json:"resource"`
	Action   uint8  `json:"action"`
}

// EventType implements Payload.
func (EndpointRegistered) EventType() string { return TypeEndpointRegistered }

// EndpointDeleted records an endpoint's removal from the catalog.
type EndpointDeleted struct {
	Service string `json:"service"`
	Name    string `json:"name"`
}

// EventType implements Payload.
func (EndpointDeleted) EventType() string { return TypeEndpointDeleted }

// The *State types are the "before" of update events: the aggregate as the
// command saw it when it decided (the index view; optimistic concurrency on
// the namespace guarantees it is the state right before the event). They
// never carry secrets or secret hashes. Events written before these fields
// existed have none.

// RoleState is a role's state.
type RoleState struct {
	RoleID      string       `json:"roleId"`
	RoleName    string       `json:"roleName"`
	AdminRole   bool         `json:"adminRole"`
	IsWildcard  bool         `json:"isWildcard"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions"`
}

// AssignmentState is an assignment's state (role RoleID given to UserID in
// the event's namespace).
type AssignmentState struct {
	UserID             string     `json:"userId"`
	RoleID             string     `json:"roleId"`
	AssignedNamespaces []string   `json:"assignedNamespaces"`
	NotBefore          *time.Time `json:"notBefore,omitempty"`
	NotAfter           *time.Time `json:"notAfter,omitempty"`
}

// ClientState is an IAM client's state, without its secret hash.
type ClientState struct {
	ClientID    string       `json:"clientId"`
	ClientName  string       `json:"clientName"`
	Permissions []Permission `json:"permissions"`
	Roles       []string     `json:"roles,omitempty"`
}

// TokenState is a token's state, without its secret hash.
type TokenState struct {
	TokenID     string       `json:"tokenId"`
	Name        string       `json:"name"`
	Owner       Actor        `json:"owner"`
	Issuer      Actor        `json:"issuer"`
	Scopes      []string     `json:"scopes,omitempty"`
	Permissions []Permission `json:"permissions"`
	NotBefore   *time.Time   `json:"notBefore,omitempty"`
	ExpiresAt   *time.Time   `json:"expiresAt,omitempty"`
	// Bootstrap and Replaces: see TokenIssued.
	Bootstrap bool     `json:"bootstrap,omitempty"`
	Replaces  []string `json:"replaces,omitempty"`
}

// RoleOf returns the id of the role an event changing a role's
// permissions, or deleting it, is about; "" for any other event.
func RoleOf(p Payload) string {
	switch p := p.(type) {
	case RolePermissionsAdded:
		return p.RoleID
	case RolePermissionsRemoved:
		return p.RoleID
	case RolePermissionsReplaced:
		return p.RoleID
	case RoleDeleted:
		return p.RoleID
	}
	return ""
}
