// Package metaperm names the meta-permissions that guard Grantlog's own API
// (PRODUCT.md §1.6). The API is guarded by the same model it serves: a
// caller may do something only if the index says it holds the permission.
package metaperm

// Platform-level meta-permissions.
const (
	// Roles guards role management: Create, Read, Update, Delete.
	Roles = "ADMIN:ROLE"
	// Namespaces guards creating and listing namespaces.
	Namespaces = "ADMIN:NAMESPACE"
	// Scopes guards the scope catalog.
	Scopes = "ADMIN:SCOPE"
	// Endpoints guards the endpoint catalog.
	Endpoints = "ADMIN:ENDPOINT"
	// Check guards asking checks about subjects signed into a namespace
	// ({namespace} binds to the check's namespace): Read.
	Check = "ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK"
	// PlatformAudit guards reading the audit records of platform-level
	// objects (roles, scopes, endpoints: namespace _platform): Read.
	PlatformAudit = "ADMIN:AUDIT"
	// Snapshots guards taking index snapshots (POST /v1/admin/snapshots):
	// Create.
	Snapshots = "ADMIN:SNAPSHOT"
	// Bootstrap guards the bootstrap Super Admin credential: Read to see
	// it (GET /v1/admin/bootstrap-token), Update to rotate it, Delete to
	// revoke it. Whoever rotates it receives a credential holding every
	// permission: grant this to Super Admins only.
	Bootstrap = "ADMIN:BOOTSTRAP"
)

// Audit guards reading the audit records of namespace ns: Read.
func Audit(ns string) string { return "ADMIN:NAMESPACE:" + ns + ":AUDIT" }

// Assignment guards assigning roles in namespace ns: Update to assign or
// unassign, Read to list.
func Assignment(ns string) string { return "ADMIN:NAMESPACE:" + ns + ":ROLE:USER:*" }

// Namespace guards reading and deleting namespace ns, and (Update) creating
// it explicitly once it exists implicitly (see index.View.NamespaceReferenced)
// or giving it as a parent.
func Namespace(ns string) string { return "ADMIN:NAMESPACE:" + ns + ":NAMESPACE" }

// Client guards the IAM clients of namespace ns.
func Client(ns string) string { return "ADMIN:NAMESPACE:" + ns + ":CLIENT" }

// Token guards the tokens owned by owner in namespace ns: tokens are the
// owner's.
func Token(ns, owner string) string { return "NAMESPACE:" + ns + ":USER:" + owner + ":TOKEN" }
