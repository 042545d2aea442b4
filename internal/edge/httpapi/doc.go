// Package httpapi serves Grantlog's HTTP/JSON API under /v1, with /healthz
// and /readyz, and the admin console at /console/ when Config.Console is set. Its routes are built from the operation table
// (internal/edge/api): every operation with a method and path is one route;
// the check paths (POST /v1/check, POST /v1/checks) and the audit streams
// get handlers of their own. Every error is JSON {errorCode, errorMessage},
// translated once by api.ErrorOf; every command answer carries the revision
// of its event.
//
// Files: httpapi.go (Config, New: the router built from api.Table, errors,
// bodies), routes.go (one handler per operation, the check fast paths),
// audit.go (the server-sent-event streams), guard.go (canonical paths,
// header size, body read deadline).
//
// httpapi is in the edge tier (perm and events → storage → domain → edges
// → server, client, cmd): it imports internal/edge/api and checkjson, the
// domain packages the table runs, and events; never server, client or cmd.
package httpapi
