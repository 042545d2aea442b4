// Package console serves the admin console: a web page a platform admin
// uses to manage roles, assignments, namespaces, IAM clients and tokens,
// follow the audit feed and ask checks in a playground. It is plain HTML,
// CSS and JavaScript modules embedded in the binary (go:embed, assets/):
// no build step, nothing fetched at run time.
//
// The page holds no authority of its own: every action is a call of the
// public /v1 API with the credential the admin signed in with (a token, or
// an IAM client's id and secret sent as Basic), kept in sessionStorage
// only, so the API's meta-permissions decide what it may do. What the page
// offers (create forms, the scopes a token may carry) it learns by asking
// the API checks of the caller's own permissions.
//
// Handler serves the assets under Prefix with a strict Content Security
// Policy (default-src 'self', frame-ancestors 'none'), X-Frame-Options
// DENY, nosniff, no referrer, and Cache-Control no-store for the HTML.
//
// console is in the edge tier (internal/edge/...): it imports only the
// standard library; internal/edge/httpapi mounts it on the API listener.
package console
