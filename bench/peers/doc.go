// Command peers runs one generated dataset through Casbin (RBAC with
// domains) and through Grantlog's in-process check, requires both to give
// the same answer on every sampled check, and only then times them and
// prints the ratio. It is a separate module so that the service does not
// depend on Casbin.
//
//	cd bench/peers && go run .                  # 10,000 users, 2,000 checks
//
// The Casbin model is written the way a Casbin user would model this
// dataset: a user's roles are groupings per namespace (g = user, role,
// namespace; "*" for all-namespaces roles), a role's permissions are
// policies on the object name and action bit, with "self" for
// {userId}-bound permissions and "any" for USER:* ones. The dataset's
// required tags are NAMESPACE:<ns>:USER:<owner>:<OBJECT>; its other
// permission shapes (ADMIN:…, NAMESPACE:{namespace}:<OBJECT>:<n>) can never
// cover such tags, so they have no Casbin policy.
//
// peers is its own module (github.com/grantlog/grantlog/bench/peers) on
// top of the tiers (perm and events → storage → domain → edges → server,
// client, cmd): it imports perm, events, internal/dataset, internal/storage/index
// and query of the main module, and Casbin; nothing imports it.
package main
