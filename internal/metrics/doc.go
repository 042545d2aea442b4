// Package metrics defines Grantlog's Prometheus metrics (names prefixed
// grantlog_, durations in _seconds, counters in _total) and the cheap
// observation points the edges, the command service and the embedded
// follower call.
//
// The check path is hot: every label child a check observes is resolved
// once, when the edge is built (Checks' arrays of observers), so that
// observing a check is a clock read and two atomic adds, with no
// allocation. Labels carry only bounded values (transport, decision,
// operation name, outcome): never an id, a namespace or a secret, because
// /metrics is served without a credential (docs/SECURITY.md).
//
// A server keeps its metrics in a registry of its own (New), so that
// several nodes in one process (tests) do not collide; the follower's
// collector (Follower.Collector in package client) is registered by its
// caller wherever it likes.
package metrics
