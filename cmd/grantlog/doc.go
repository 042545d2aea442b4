// Command grantlog is the Grantlog permission service and its CLI.
//
//	grantlog serve [flags]   run the service (embedded NATS + JetStream + Pebble),
//	                         or a command node or replica (--role, --nats-url)
//	grantlog config check FILE
//	                         validate a config file of serve (--config FILE)
//	grantlog audit tail|export|verify [flags]
//	                         follow, export or verify the audit log of a node
//	grantlog context add|use|ls
//	                         the servers the CLI talks to
//	grantlog role|assign|unassign|user|check ...
//	                         the contract's verbs (verbs.go)
//	grantlog <operation>     every operation of the API's table, e.g.
//	                         grantlog role permissions add (ops.go)
//	grantlog completion bash|zsh|fish, grantlog version
//
// Run "grantlog --help" or "grantlog serve --help" for details.
//
// main.go parses the serve flags and the environment into a
// server.Config, validates it and runs the node; config.go reads a
// config file into the same flags (flag > env > file > default) and is
// grantlog config check. cli.go is the cobra
// command tree: serve and audit (audit.go) are handed their arguments
// untouched (flag package, single-dash flags, their exit statuses);
// every other command is a client of a node's HTTP API through the SDK
// (client.Client.Do), sending Grantlog-Source: cli so audit records say
// the change came through the CLI. contexts.go keeps the contexts in
// os.UserConfigDir()/grantlog/contexts.json; output.go prints answers as
// JSON (the API's bytes), YAML or tables.
//
// grantlog is in the top tier (perm and events → storage → domain → edges
// → server, client, cmd). It imports internal/server to run a node, client
// and audit (records) for the CLI, internal/edge/api for the operation
// table, events, internal/edge/httpapi for the source header, and
// internal/auth and internal/storage/eventlog for the names of the files a
// node writes in its data directory; nothing imports it.
package main
