// Package audit turns Grantlog's event stream into audit records and serves
// them to subscribers: who (actor, on whose behalf), what (type, namespace,
// target), when, why (the command's reason), through what (source: HTTP,
// NATS or CLI, request id, remote address), the state before and after each
// update, and the per-namespace hash chain that makes tampering evident.
//
// A Service reads the stream with JetStream ordered consumers (no server
// state, every record exactly once and in revision order) and enforces
// isolation: the records of namespace ns need ADMIN:NAMESPACE:{ns}:AUDIT
// Read, those of platform-level objects (namespace _platform) need
// ADMIN:AUDIT Read. A subscriber never receives a record it may not read.
//
// Record, Decode and Verifier need no server and may be used on messages
// read from the stream directly (see the README's NATS recipe).
//
// The effects feed (EffectsSubscription) turns role and assignment events
// into what each subject gained and lost; it folds role permissions with
// index.FoldRolePermissions, the fold the index itself applies.
//
// audit is in the domain tier (perm and events → storage → domain → edges
// → server, client, cmd). It imports perm, events, the storage packages
// (internal/storage/index, internal/storage/logsig) and internal/auth;
// it never
// imports command, query, projector, an edge or server.
package audit
