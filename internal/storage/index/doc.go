// Package index is Grantlog's materialized permission index: a Pebble database
// laid out per namespace, and the compiled in-memory form of it that checks
// read.
//
// Key layout (layout version 2; every key of a namespace sits under its own
// prefix so a namespace can be rebuilt, exported or dropped on its own):
//
//	\x00meta/applied                 revision of the last applied event (8 bytes, big endian)
//	\x00meta/layout                  layout version
//	\x00meta/pebble-format           Pebble format major version the store was written with
//	n/<ns>/i                         namespace record (JSON)
//	n/_platform/r/<roleId>           role (JSON)
//	n/<ns>/a/<userId>/<roleId>       assignment made in <ns> (binary, see compact.go; JSON in layout 1)
//	n/<ns>/m/<roleId>/<userId>       reverse index: members of a role in <ns> (empty value)
//
// Layout 2 differs from layout 1 only in the assignment records; a layout 1
// index is marked layout 2 when opened, its JSON records rewritten in
// binary as they are read.
//
// A role's permissions are stored once, with the role: changing the
// permissions of a role held by a million users writes O(permissions) bytes.
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
