package events

// PlatformNamespace is the reserved namespace segment under which
// platform-level objects (roles) are written. User namespaces can never take
// this name: it starts with an underscore, which namespace names may not.
const PlatformNamespace = "_platform"

// Permission is a resource tag with its CRUD action bitmask, as carried in
// events. Resource is always in canonical form.
type Permission struct {
	Resource string `json:"resource"`
	Action   uint8  `json:"action"`
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
}

// EventType implements Payload.
func (RoleUpdated) EventType() string { return TypeRoleUpdated }

// RolePermissionsAdded records permissions added to a role. An added
// permission whose resource the role already holds ORs its action bits in.
type RolePermissionsAdded struct {
	RoleID      string       `json:"roleId"`
	Permissions []Permission `json:"permissions"`
}

// EventType implements Payload.
func (RolePermissionsAdded) EventType() string { return TypeRolePermissionsAdded }

// RolePermissionsRemoved records permissions taken from a role. An action of
// zero removes the resource entirely; otherwise those action bits are cleared
// (and the resource removed when no bit is left).
type RolePermissionsRemoved struct {
	RoleID      string       `json:"roleId"`
	Permissions []Permission `json:"permissions"`
}

// EventType implements Payload.
func (RolePermissionsRemoved) EventType() string { return TypeRolePermissionsRemoved }

// RolePermissionsReplaced records a role's complete new permission list.
type RolePermissionsReplaced struct {
	RoleID      string       `json:"roleId"`
	Permissions []Permission `json:"permissions"`
}

// EventType implements Payload.
func (RolePermissionsReplaced) EventType() string { return TypeRolePermissionsReplaced }

// RoleDeleted records a role's deletion; it ends every assignment of the role.
type RoleDeleted struct {
	RoleID string `json:"roleId"`
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
}

// EventType implements Payload.
func (UserRoleAssigned) EventType() string { return TypeUserRoleAssigned }

// UserRoleUnassigned records the end of an assignment.
type UserRoleUnassigned struct {
	UserID string `json:"userId"`
	RoleID string `json:"roleId"`
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
