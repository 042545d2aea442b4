// Package index is Grantlog's materialized permission index: a Pebble database
// laid out per namespace, and the compiled in-memory form of it that checks
// read.
//
// Key layout (layout version 2; every key of a namespace sits under its own
// prefix so a namespace can be rebuilt, exported or dropped on its own):
//
//	\x00meta/applied                 revision of the last applied event (8 bytes, big endian)
//	\x00meta/applied-at              occurredAt of that event (Unix nanoseconds, 8 bytes, big endian): the instant a past check there is evaluated at
//	\x00meta/layout                  layout version
//	\x00meta/pebble-format           Pebble format major version the store was written with
//	\x00meta/users                   how many users have assignments (8 bytes, big endian): a sizing hint for load
//	\x00meta/signing-key/<keyId>     a trusted log signing key (JSON, see trust.go)
//	n/<ns>/i                         namespace record (JSON)
//	n/_platform/r/<roleId>           role (JSON)
//	n/<ns>/a/<userId>/<roleId>       assignment made in <ns> (binary, see compact.go; JSON in layout 1)
//	n/<ns>/m/<roleId>/<userId>       reverse index: members of a role in <ns> (empty value)
//	n/<ns>/c/<clientId>              IAM client of <ns> (JSON; the secret's hash, never the secret)
//	n/<ns>/t/<tokenId>               token issued in <ns> (JSON; the token's hash, never the token)
//	n/_platform/s/<scope>            scope (JSON)
//	n/_platform/e/<service>/<name>   catalog endpoint (JSON)
//
// Layout 2 differs from layout 1 only in the assignment records; a layout 1
// index is marked layout 2 when opened, its JSON records rewritten in
// binary as they are read.
//
// In memory, a user's assignments are one pointer-free string (users.go):
// namespaces and roles as small ids into the index's tables, the user id
// inside, about 45 bytes per assignment all told (grantbench's shape;
// TestMemoryPerUser measures it), found through an open-addressing table
// (usertable.go), so a replica holds ten million users in about 1 GB of
// heap. Readers get decoded copies (View.Assignments) or
// iterate without allocating (View.UserAssignments, what checks use).
//
// A role's permissions are stored once, with the role: changing the
// permissions of a role held by a million users writes O(permissions) bytes.
// FoldRolePermissions is the one fold of a role's permissions over its
// events; the audit effects feed uses it too.
//
// Files: store.go opens and closes the store, load.go loads it at Open,
// apply.go applies events (Apply: one atomic batch), fold.go folds role
// permissions, users.go holds each user's assignments in memory (in the
// table of usertable.go, by user id), view.go
// reads roles, assignments and members, scan.go reads a namespace's users,
// clients and tokens (and a role's members) in id order after a cursor,
// principals.go
// applies and reads IAM clients, tokens, scopes and endpoints, trust.go the
// signing keys and hash chain, keys.go and compact.go encode keys and
// records.
//
// Concurrency: one writer (the projector) calls Apply; any number of readers
// take a View with Acquire and Release it when done. Objects reached through a
// View must not be retained or modified after Release.
//
// Tier 1 (storage). index may import tier 0 (events, perm) and the other
// storage packages (internal/storage/logsig), never a domain package
// (command, query, projector, audit, internal/auth), an edge,
// internal/server, client, cmd, examples or a test-support package.
// internal/arch enforces this.
package index
