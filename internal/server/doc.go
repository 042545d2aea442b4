// Package server assembles a Grantlog node: NATS with JetStream (embedded,
// or external with Config.NATSURL), the event stream, the Pebble index and
// its projector, the command service, the query engine, the audit service,
// the HTTP API and the NATS micro API. A node's NodeRole (the --role flag)
// says whether it writes (NodeRoleCommand), answers checks
// (NodeRoleReplica) or both (NodeRoleAll); checks are served on node roles
// that answer checks, commands on node roles that write.
//
// Files: config.go holds Config (every default documented, Validate reports
// every problem at once, String redacts secrets); server.go builds a Server
// (New), runs it (Run) and closes it (Close); stream.go finds the event
// stream or the readers' mirror; bootstrap.go makes the default roles and
// the bootstrap credential; noderole.go the node role, status and the NATS
// API; snapshot.go and signing.go the index snapshots and the log signing
// key.
//
// server is in the top tier, beside client and cmd (perm and events →
// storage → domain → edges → server, client, cmd). It may import every
// lower tier: perm, events, storage (internal/storage/index, internal/storage/eventlog,
// internal/storage/eventlog, internal/storage/logsig), the auth helpers, the domain
// (command, query, projector, audit), the edges (internal/edge/httpapi,
// internal/edge/natsapi) and internal/catalogs (the default roles). Only
// cmd and tests import it; client never does.
package server
