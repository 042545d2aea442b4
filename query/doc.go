// Package query answers permission checks and reads what the permission
// index holds (roles, assignments, members, namespaces, IAM clients,
// tokens, scopes, endpoints). check_types.go holds the wire types of a
// check, check.go its hot path, explain.go explanations and what a caller
// may see of them, authorize.go Allows and Holds, on which
// internal/auth builds the authorizer of commands and reads.
//
// A check looks up the subject's assignments, and for each assigned role
// matches the role's compiled grants against the required tag with
// {namespace} and {userId} bound as the model says (§1.3). It reads only the
// subject's own entries: it never scans all grants, and it does not allocate
// on the allowed or denied path unless an explanation is asked for.
//
// Every answer carries the revision it was evaluated at; a request may ask
// for at least a revision and waits, bounded, for the index to reach it.
//
// query is in the domain tier (perm and events → storage → domain → edges
// → server, client, cmd). It imports perm, events, internal/storage/index and the
// internal/auth; it reads the index
// and never imports command, projector, audit, an edge, server or a
// publisher.
package query
