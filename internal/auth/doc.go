// Package auth is who may call Grantlog and what they may do: it
// authenticates callers and authorizes them against Grantlog's own
// permission model.
//
//   - Authentication (credential.go): Authenticator maps an Authorization
//     header to an events.Caller: the bootstrap Super Admin token, an API
//     token acting for its owner, or an IAM client. Every credential, the
//     bootstrap one included, lives in the event log as a SHA-256 hash (see
//     events.TokenIssued.Bootstrap), so every node knows it; the clear
//     bootstrap token is written once, mode 0600, for the operator
//     (WriteTokenFile, BootstrapTokenFile).
//   - The bootstrap caller (principal.go): Bootstrap, BootstrapCredential
//     and the bootstrap admin's ids.
//   - Meta-permissions (metaperm.go): the Perm* names of the permissions
//     that guard Grantlog's own API (PRODUCT.md §1.6). The API is guarded by
//     the same model it serves.
//   - Authorization (authz.go): Authorizer refuses a caller that does not
//     hold the meta-permission a command or query needs, with an *Error
//     whose Kind is ErrUnauthorized or ErrForbidden. The bootstrap Super
//     Admin credential holds everything.
//
// Tier 2 (domain). auth may import tier 0 (perm, events) and tier 1
// (internal/storage/..., internal/catalogs), and other domain packages
// except command and query (command and query import auth). It never
// imports an edge (internal/edge/...), internal/server, client, cmd,
// examples or a test-support package. internal/arch enforces this.
package auth
