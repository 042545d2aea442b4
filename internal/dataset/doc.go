// Package dataset generates synthetic permission datasets of a given shape
// (namespaces, roles x permissions, users x roles x namespaces) as events,
// and checks to ask of them, about half allowed. Benchmarks, the load tool
// and tests share it.
//
// dataset sits just above the bottom tier (perm and events → storage →
// domain → edges → server, client, cmd): it imports events only. Any
// package's tests, internal/testutil, cmd/grantbench and bench/peers may
// import it; the service never does.
package dataset
