// Command grantlog is the Grantlog permission service and its CLI.
//
//	grantlog serve [flags]   run the service (embedded NATS + JetStream + Pebble),
//	                         or a command node or replica (--role, --nats-url)
//	grantlog audit tail|export|verify [flags]
//	                         follow, export or verify the audit log of a node
//	grantlog version         print the version
//
// Run "grantlog help" or "grantlog serve --help" for details.
//
// main.go parses flags and the environment into a server.Config,
// validates it and runs the node; audit.go is the audit CLI (grantlog
// audit tail, export, verify), a client of a node's HTTP API.
//
// grantlog is in the top tier (perm and events → storage → domain → edges
// → server, client, cmd). It imports internal/server to run a node, client
// and audit (records) for the CLI, events, and internal/auth and
// internal/storage/eventlog for the names of the files a node writes in its data
// directory; nothing imports it.
package main
