// Package command turns commands into events appended to the JetStream
// event stream: roles and their permissions (presets included), assignments,
// namespaces, IAM clients, tokens, scopes, endpoints, the bootstrap
// credential and the log signing key. Files are named for the aggregate
// they change (roles.go, namespaces.go, clients.go, tokens.go, scopes.go,
// endpoints.go, ...).
//
// Each command is validated, authorized, checked against the current index
// (role exists, names unique, ...) and appended with per-namespace optimistic
// concurrency: the append expects the namespace's last revision
// (Nats-Expected-Last-Subject-Sequence on "<prefix>.<ns>.>") and carries the
// command id as Nats-Msg-Id, so a retried command is stored once. A caller's
// Idempotency-Key is theirs alone: the command id is derived from the
// caller's identity and the key (DeriveCommandID), and a retry is answered
// with the stored event only when that event was decided from the same
// request (RequestHashHeader); a key reused for another request is refused
// (ErrConflict, code idempotencyKeyReused). When
// another writer got there first, the command re-reads the index at the new
// head and decides again, so concurrent command nodes never break an
// invariant. Every result carries the revision of the command's event.
//
// A Service is safe for concurrent use. Commands on one namespace are
// serialized within a Service; commands on different namespaces run in
// parallel.
//
// command is in the domain tier (perm and events → storage → domain →
// edges → server, client, cmd). It imports perm, events, the storage
// packages (internal/storage/index to decide, internal/storage/logsig to
// sign), internal/catalogs (the role presets and catalogs it applies) and
// internal/auth; it never imports query, projector, audit, an edge,
// or server. It reaches JetStream, the index and authorization through the
// small interfaces it defines (Appender, HeadReader, State, Authorizer).
package command
