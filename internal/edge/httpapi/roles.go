package httpapi

import (
	"fmt"
	"net/http"
	"strings"
)

// Node roles the API knows (see server.Role).
const (
	RoleAll     = "all"
	RoleCommand = "command"
	RoleReplica = "replica"
)

// NodeStatus is a node's role and progress, as /v1/status reports it (and
// /readyz, with it).
type NodeStatus struct {
	Role  string `json:"role"`
	Node  string `json:"node"`
	Ready bool   `json:"ready"`
	// Revision is the index's applied revision.
	Revision uint64 `json:"revision"`
	// Head is the stream's last sequence, as last polled (about every
	// second); never below Revision.
	Head uint64 `json:"head"`
	// Lag is Head - Revision.
	Lag uint64 `json:"lag"`
	// HeadAtStart is the stream head seen when the projector started.
	HeadAtStart uint64 `json:"headAtStart"`
	// Refused counts the messages of the stream the node refused to apply
	// (not written by the command side, or replayed) since it started.
	Refused *RefusedStatus `json:"refused,omitempty"`
	// Halted, when set, says why the node stopped applying events (an
	// event type newer than this binary): it is not ready until upgraded.
	Halted string `json:"halted,omitempty"`
}

// RefusedStatus is NodeStatus.Refused.
type RefusedStatus struct {
	Count uint64 `json:"count"`
	// LastRevision and LastReason are the last refused message's.
	LastRevision uint64 `json:"lastRevision"`
	LastReason   string `json:"lastReason"`
}

// checkRoutes are the routes that answer checks (served by replicas, not
// by command nodes).
var checkRoutes = map[string]bool{"/v1/check": true, "/v1/checks": true}

// roleGuard refuses, with 404 and a JSON error, what this node's role does
// not serve: commands (POST, PUT, PATCH, DELETE under /v1) on a replica,
// checks on a command node. Reads and health are served by every role.
func (a *api) roleGuard(next http.Handler) http.Handler {
	if a.Role == "" || a.Role == RoleAll {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			isCheck := checkRoutes[r.URL.Path]
			write := r.Method != http.MethodGet && r.Method != http.MethodHead && !isCheck
			switch {
			case a.Role == RoleReplica && write:
				writeError(w, r, http.StatusNotFound, "notACommandNode",
					fmt.Sprintf("this node is a read replica: send %s %s to a command node (role command or all)", r.Method, r.URL.Path))
				return
			case a.Role == RoleCommand && isCheck:
				writeError(w, r, http.StatusNotFound, "notACheckNode",
					fmt.Sprintf("this node is a command node: send %s %s to a replica (role replica or all), or over NATS to grantlog.v1.check", r.Method, r.URL.Path))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// status serves GET /v1/status (no credential needed: it tells revisions only).
func (a *api) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.Status())
}
