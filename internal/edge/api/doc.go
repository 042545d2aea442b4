// Package api is Grantlog's API declared once: the table of operations
// (every command, read, check and batch check) that every edge is built
// from, and the one translation of errors every edge, the SDK and the
// follower use.
//
// An operation (Op, table.go) has a name ("role.create"), a kind (Read,
// Command, Check: which nodes serve it), an HTTP method and path, a NATS
// subject (grantlog.v1.cmd.<name>, grantlog.v1.read.<name>,
// grantlog.v1.check(s); none for the HTTP-only ones), a request type whose
// fields are bound by tag (path:"roleId", query:"limit", the rest JSON
// body), a reply type, the status of a success, and the function that runs
// it against Deps (the command service, the query engine, audit,
// snapshots). Adding a command is one command method, one table entry and
// its SDK method; the HTTP router (internal/edge/httpapi), the NATS micro
// endpoints (internal/edge/natsapi), the OpenAPI document (OpenAPI,
// served at GET /v1/openapi.json) and the SDK's requests (Op.HTTPRequest)
// follow. The hot check paths are marked Fast: each edge serves them with
// its own pooled, allocation-light handler.
//
// Errors (errors.go): ErrorOf turns an error of any package into one
// *Error — HTTP status, errorCode, message, revision — so the same request
// gets the same status and errorCode over HTTP and NATS. Decode
// (decode.go) is the one strict JSON decoder of requests.
//
// Files: op.go (Op, Kind, Call, Deps, binding), table.go (the operations
// and their request types), types.go (shared request pieces, pages,
// status), errors.go, decode.go, encode.go (Op.HTTPRequest, for clients),
// openapi.go and openapi_gen.go (the OpenAPI 3.1 document).
//
// api is in the edge tier (perm and events → storage → domain → edges →
// server, client, cmd): it imports the domain packages (command, query,
// audit, internal/auth) and below, never server, client or cmd.
package api
