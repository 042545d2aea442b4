// Package arch writes down Grantlog's architecture and its tests keep it
// true. It is test tooling: nothing imports it.
//
// Packages sit in tiers, and a package imports only packages of its own
// tier or a lower one:
//
//	tier 0  perm, events                      nothing of ours
//	tier 1  internal/storage/..., internal/catalogs       storage, data
//	tier 2  command, query, projector, audit, internal/auth  domain
//	tier 3  internal/edge/...                 edges (HTTP, NATS)
//	tier 4  internal/server, internal/apply, client, cmd/..., examples/...
//
// Beside the tiers: command and query never import each other; the
// support packages (internal/testutil, internal/refmodel,
// internal/dataset, and this one) are imported only by _test files and by
// cmd/grantbench, the load tool; production code never imports
// examples/. Every package of the module has a tier (Classify), so a new
// package must be given one here before CI passes.
//
// The public packages (perm, events, command, query, projector, audit,
// client) are importable by other modules, which cannot name an
// internal/... type: no exported function, method, field, interface
// method, variable or type of theirs may expose one (Exposed).
//
// The tests (go test ./internal/arch/, a CI step of its own) run go list
// and read export data; they take a few seconds on a warm build cache.
//
// Tier: support. arch imports the standard library only.
package arch
