// Package testutil starts real Grantlog parts for tests: an embedded NATS
// server with JetStream on a temporary directory, the event stream, and
// nodes (index + projector + command service + query engine) on it.
//
// testutil is test support above the domain (perm and events → storage →
// domain → edges → server, client, cmd): it imports events, storage
// (internal/storage/index, internal/storage/eventlog, internal/storage/logsig), the auth helpers
// (internal/auth, internal/auth), the domain (command, query,
// projector) and internal/dataset; never an edge or server. Only tests
// import it.
package testutil
