// Package query answers permission checks and reads roles and assignments
// from the permission index.
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
// query reads the index and never imports command or a publisher.
package query
