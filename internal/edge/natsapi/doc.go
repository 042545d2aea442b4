// Package natsapi serves Grantlog's API over NATS request/reply as a NATS
// micro service named "grantlog". Its endpoints are built from the
// operation table (internal/edge/api): every operation with a subject is one
// endpoint, so the NATS API and the HTTP API cannot drift.
//
// Subjects (a public contract; see the README's "NATS API" section):
//
//	grantlog.v1.check         one check: the JSON of POST /v1/check
//	grantlog.v1.checks        a batch:  {"checks": [...], "atLeastRevision": N}
//	grantlog.v1.read.<name>   a read (role.get, role.list, user.roles, ...;
//	                          see ReadSubjects)
//	grantlog.v1.cmd.<name>    a command (role.create, assign, token.issue, ...;
//	                          see CommandSubjects)
//	$SRV.PING|INFO|STATS[.grantlog[.<id>]]   micro discovery and statistics
//
// A request is one JSON object holding the HTTP path parameters, query
// parameters and body fields of the same operation; the reply is the HTTP
// API's JSON. Requests carry the caller's credential in the NATS header
// Authorization, exactly as over HTTP ("Bearer <token>" or "Basic <client
// id:secret>"). Errors are micro errors: the Nats-Service-Error-Code header
// holds the HTTP status the same request gets over HTTP, Nats-Service-Error
// the message, the Grantlog-Error-Code header the API's errorCode (e.g.
// "revisionNotYetApplied") and the body the HTTP error JSON {errorCode,
// errorMessage, revision?, requestId?}; api.ErrorOf makes both.
//
// Checks and reads are registered where API clients import them from (the
// readers' account: replicas, and role all); commands where the command
// side runs (Config.Serve). Requests take the optional headers
// Idempotency-Key and X-Request-Id, echoed on the reply (and in an error
// body's requestId); it is made up when absent, except on the check hot
// path, whose replies then carry no header. Commands are recorded with
// source via "nats".
//
// Endpoints join micro's default queue group "q", so every node serving
// them shares the load.
package natsapi
