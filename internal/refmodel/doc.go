// Package refmodel is a plain, obviously-correct in-memory model of
// Grantlog's roles, assignments and checks, written straight from the spec
// (PRODUCT.md §1.2–1.4) with string splitting and replacement. Tests compare
// the real index against it; it is never used by the service.
//
// refmodel is test support outside the tiers (perm and events → storage →
// domain → edges → server, client, cmd): it imports nothing of Grantlog's,
// not even perm (the standard library only), so that it cannot share a bug
// with the code it checks. Only tests import it.
package refmodel
