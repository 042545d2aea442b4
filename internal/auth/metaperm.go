package auth

// Platform-level meta-permissions.
const (
	// PermRoles guards role management: Create, Read, Update, Delete.
	PermRoles = "ADMIN:ROLE"
	// PermNamespaces guards creating and listing namespaces.
	PermNamespaces = "ADMIN:NAMESPACE"
	// PermScopes guards the scope catalog.
	PermScopes = "ADMIN:SCOPE"
	// PermEndpoints guards the endpoint catalog.
	PermEndpoints = "ADMIN:ENDPOINT"
	// PermCheck guards asking checks about subjects signed into a namespace
	// ({namespace} binds to the check's namespace): Read.
	PermCheck = "ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK"
	// PermPlatformAudit guards reading the audit records of platform-level
	// objects (roles, scopes, endpoints: namespace _platform): Read.
	PermPlatformAudit = "ADMIN:AUDIT"
	// PermSnapshots guards taking index snapshots (POST /v1/admin/snapshots):
	// Create.
	PermSnapshots = "ADMIN:SNAPSHOT"
	// PermBootstrap guards the bootstrap Super Admin credential: Read to see
	// it (GET /v1/admin/bootstrap-token), Update to rotate it, Delete to
	// revoke it. Whoever rotates it receives a credential holding every
	// permission: grant this to Super Admins only.
	PermBootstrap = "ADMIN:BOOTSTRAP"
)

// PermAudit guards reading the audit records of namespace ns: Read.
func PermAudit(ns string) string { return "ADMIN:NAMESPACE:" + ns + ":AUDIT" }

// PermAssignment guards assigning roles in namespace ns: Update to assign or
// unassign, Read to list.
func PermAssignment(ns string) string { return "ADMIN:NAMESPACE:" + ns + ":ROLE:USER:*" }

// PermUserAssignment guards assigning roles to user in namespace ns
// (AccelByte's ADMIN:NAMESPACE:{namespace}:ROLE:USER:{userId}): Update to
// assign or unassign. A grant of PermAssignment(ns) covers it for every
// user. user must be a valid id (events.ValidID: no ':' or '*').
func PermUserAssignment(ns, user string) string {
	return "ADMIN:NAMESPACE:" + ns + ":ROLE:USER:" + user
}

// PermNamespace guards reading and deleting namespace ns, and (Update) creating
// it explicitly once it exists implicitly (see index.View.NamespaceReferenced)
// or giving it as a parent.
func PermNamespace(ns string) string { return "ADMIN:NAMESPACE:" + ns + ":NAMESPACE" }

// PermClient guards the IAM clients of namespace ns.
func PermClient(ns string) string { return "ADMIN:NAMESPACE:" + ns + ":CLIENT" }

// PermToken guards the tokens owned by owner in namespace ns: tokens are the
// owner's.
func PermToken(ns, owner string) string { return "NAMESPACE:" + ns + ":USER:" + owner + ":TOKEN" }
