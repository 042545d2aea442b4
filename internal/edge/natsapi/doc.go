// Package natsapi serves Grantlog's checks and commands over NATS
// request/reply as a NATS micro service named "grantlog".
//
// Subjects (a public contract; see the README's "NATS API" section):
//
//	grantlog.v1.check    one check: the JSON of POST /v1/check
//	grantlog.v1.checks   a batch:  {"checks": [...], "atLeastRevision": N}
//	grantlog.v1.cmd.<name>   a command (role.create, assign, token.issue, ...;
//	                     see CommandSubjects): one JSON object holding the
//	                     HTTP path parameters and body fields; the reply is
//	                     the HTTP API's JSON
//	$SRV.PING|INFO|STATS[.grantlog[.<id>]]   micro discovery and statistics
//
// Requests carry the caller's credential in the NATS header Authorization,
// exactly as over HTTP ("Bearer <token>" or "Basic <client id:secret>").
// Replies are the HTTP API's JSON. Errors are micro errors: the
// Nats-Service-Error-Code header holds the HTTP status the same error gets
// over HTTP ("400", "401", "403", "404", "503", "500"), Nats-Service-Error
// the message, the Grantlog-Error-Code header the API's errorCode
// (e.g. "revisionNotYetApplied") and the body the HTTP error JSON
// {errorCode, errorMessage, revision?}.
//
// Check endpoints are registered by nodes that answer checks (Config.Checks),
// command endpoints by nodes that write (Config.Commands). Commands take
// the optional headers Idempotency-Key and X-Request-Id (echoed on the
// reply; made up when absent) and are recorded with source via "nats".
//
// Endpoints join micro's default queue group "q", so every node serving
// them shares the load.
package natsapi
