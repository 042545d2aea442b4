// Package client is Grantlog's Go SDK.
//
// Three ways to ask a check, one vocabulary of answers and errors:
//
//   - [Client] talks to a node's HTTP API: every command (roles,
//     permissions, assignments, namespaces, IAM clients, tokens), checks,
//     batch checks, explanations, reads and the audit stream.
//   - [NATSClient] asks checks and batch checks over NATS request/reply
//     (subjects grantlog.v1.check and grantlog.v1.checks), for services
//     already connected to the NATS of a Grantlog deployment.
//   - [Follower] keeps a Pebble replica of the permission index inside the
//     caller's process, fed from the JetStream event stream, and answers
//     checks from it with no network hop.
//
// All three satisfy [Checker]. Their refusals are *[APIError] values that
// match the sentinels with errors.Is: [ErrInvalid], [ErrUnauthorized],
// [ErrForbidden], [ErrNotFound], [ErrConflict], [ErrNotYet] (the answering
// node has not yet applied the revision asked for; APIError.Revision says
// where it is) and [ErrWrongNode].
//
// Every command answers with the revision of its event; pass it as
// AtLeastRevision of a later check (at any node, or a Follower) to read
// your own write.
//
// client is in the top tier, beside server and cmd (perm and events →
// storage → domain → edges → server, client, cmd). It may import every
// lower tier: perm, events, the storage packages (the Follower runs an
// index and restores snapshots), the domain's wire types (command, query,
// audit) and projector, and the edges' wire formats (checkjson, natsapi).
// It never imports internal/server: programs use it from outside a node.
package client
