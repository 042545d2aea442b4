package events

import "strings"

// DefaultSubjectPrefix starts every event subject. The subject layout of the
// event stream is a public contract:
//
//	<prefix>.<namespace>.<aggregateKind>._
//
// Namespace comes first so a namespace can be consumed, filtered and
// concurrency-checked on its own (NamespaceFilter); the kind lets a reader
// take one kind of event (KindFilter). The event's aggregate is in its
// envelope (aggregateId), not in its subject: a namespace has a handful of
// subjects however many users it holds, so the stream's check of a
// command's expectation on the namespace (the last sequence of
// NamespaceFilter) looks at a handful of subjects, not one per user (with
// one subject per aggregate it walked them all: 6.3 ms per command at
// 100,000 users in a namespace, docs/BENCHMARKS.md), and the server keeps
// no per-subject state for each of millions of users.
//
// Streams written before this layout hold events on
// <prefix>.<namespace>.<aggregateKind>.<aggregateId> (AggregateSubject);
// every filter here matches both, so such a stream needs no migration.
const DefaultSubjectPrefix = "grantlog.ev"

// SubjectTail is the last token of every event subject written now, where
// the aggregate's id stood in the earlier layout.
const SubjectTail = "_"

// Aggregate kinds used in subjects.
const (
	KindRole      = "role"
	KindUser      = "user"
	KindNamespace = "ns"
	KindClient    = "client"
	KindToken     = "token"
	KindScope     = "scope"
	KindEndpoint  = "endpoint"
	// KindTx is a transaction's marker (TransactionCommitted).
	KindTx = "tx"
)

// Subject returns the subject an event of kind kind in namespace ns is
// appended to.
func Subject(prefix, ns, kind string) string {
	return AggregateSubject(prefix, ns, kind, SubjectTail)
}

// AggregateSubject returns <prefix>.<ns>.<kind>.<id>: the subject of an
// event about aggregate id in streams written before the current layout
// (Subject). Nothing appends to it now; it is kept for tests of such
// streams.
func AggregateSubject(prefix, ns, kind, id string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(ns) + len(kind) + len(id) + 3)
	b.WriteString(prefix)
	b.WriteByte('.')
	b.WriteString(ns)
	b.WriteByte('.')
	b.WriteString(kind)
	b.WriteByte('.')
	b.WriteString(id)
	return b.String()
}

// KindFilter returns the wildcard subject matching every event of kind
// kind in namespace ns, in both layouts.
func KindFilter(prefix, ns, kind string) string {
	return prefix + "." + ns + "." + kind + ".>"
}

// NamespaceFilter returns the wildcard subject matching every event of ns.
func NamespaceFilter(prefix, ns string) string {
	return prefix + "." + ns + ".>"
}

// AllFilter returns the wildcard subject matching every event.
func AllFilter(prefix string) string { return prefix + ".>" }

// ValidNamespace reports whether ns may name a user namespace: 1 to 64
// characters of letters, digits, '-' and '_', starting with a letter or digit.
// The rule keeps namespaces usable as both a permission-tag segment and a
// single NATS subject token.
func ValidNamespace(ns string) bool {
	if len(ns) == 0 || len(ns) > 64 {
		return false
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidID reports whether id may name a user, client or other subject: 1 to
// 128 characters of letters, digits, '-' and '_'. Such an id is both a valid
// permission-tag segment ({userId} binds to it) and a single NATS subject
// token (no '.', '*' or '>').
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
