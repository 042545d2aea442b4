// Package projector folds the event stream into the permission index.
//
// A Projector reads the stream with an ordered consumer starting at the
// index's applied revision + 1 and applies events in batches, each batch in
// one atomic Pebble commit together with the new applied revision. The
// index, not the consumer, remembers progress: the consumer keeps no server
// state and needs no acks, a restart resumes exactly where the last commit
// stopped, and an event at or below the applied revision is never applied
// twice.
//
// projector is in the domain tier (perm and events → storage → domain →
// edges → server, client, cmd). It imports events and the storage packages
// (internal/storage/index, internal/storage/logsig, to verify signed events); it never
// imports command, query, audit, an edge or server.
package projector
