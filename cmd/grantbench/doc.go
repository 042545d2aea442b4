// Command grantbench generates a permission dataset of a given shape, loads
// it into Grantlog through the real command path, and measures what users
// choose a permission service on: check latency and throughput (in-process,
// over HTTP, over NATS, batched, on the SDK's embedded follower, and of API
// tokens), command throughput with fsync, bulk import rate, write-to-visible latency
// (local index and embedded follower), projection replay rate, index reopen
// time, a replica process's cold start (snapshot versus replay) and RSS,
// and disk. `grantbench plot` draws SVG charts from its JSON reports.
//
// By default it starts a Grantlog server in-process on a temporary data
// directory (so that every phase can run); with --url it measures a running
// server over HTTP only. Every phase has a bounded request count and talks
// to 127.0.0.1 only.
//
//	go run ./cmd/grantbench                       # the default shape (100k users)
//	go run ./cmd/grantbench --users 2000 --quick  # a smoke run (CI)
//	go run ./cmd/grantbench --json bench.json     # also write the results as JSON
//
// --cpuprofile profiles the grantbench process; the coldstart phase's
// replica processes write a CPU profile of their start (to the head
// applied) to <prefix>-<pid>.prof when GRANTBENCH_CHILD_CPUPROFILE=<prefix>
// is set.
//
// grantbench is in the top tier (perm and events → storage → domain →
// edges → server, client, cmd). It may import every lower tier: it runs
// internal/server in-process, drives it through client and the edges' wire
// format (internal/edge/checkjson), and measures the domain (query,
// projector), the auth helpers (internal/auth) and storage
// (internal/storage/index, internal/storage/eventlog, internal/storage/logsig) directly, on
// datasets from internal/dataset; nothing imports it.
package main
