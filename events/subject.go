package events

import "strings"

// DefaultSubjectPrefix starts every event subject. The subject layout of the
// event stream is a public contract:
//
//	<prefix>.<namespace>.<aggregateKind>.<aggregateId>
//
// Namespace comes first so a namespace can be consumed, filtered and
// concurrency-checked on its own (NamespaceFilter).
const DefaultSubjectPrefix = "grantlog.ev"

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

// Subject returns the subject an event about aggregate (kind, id) in
// namespace ns is appended to.
func Subject(prefix, ns, kind, id string) string {
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
