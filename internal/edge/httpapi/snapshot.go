package httpapi

import (
	"context"
	"net/http"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/perm"
)

// Snapshotter takes a snapshot of the node's index now.
// *eventlog.Snapshotter satisfies it.
type Snapshotter interface {
	Take(ctx context.Context) (eventlog.SnapshotInfo, error)
}

// snapshotAnswer is the answer of POST /v1/admin/snapshots.
type snapshotAnswer struct {
	Revision uint64 `json:"revision"`
	Object   string `json:"object"`
	Bytes    int64  `json:"bytes"`
}

// takeSnapshot serves POST /v1/admin/snapshots: it snapshots the node's
// index into the Object Store now (needs ADMIN:SNAPSHOT [Create]) and
// answers 201 {revision, object, bytes}.
func (a *api) takeSnapshot(w http.ResponseWriter, r *http.Request, c events.Caller) {
	if a.Snapshots == nil {
		writeError(w, r, http.StatusNotImplemented, "snapshotsUnavailable", "this server does not take snapshots")
		return
	}
	if err := auth.NewAuthorizer(a.Query).Authorize(r.Context(), c,
		perm.Permission{Resource: auth.PermSnapshots, Action: perm.Create}, ""); err != nil {
		a.fail(w, r, err)
		return
	}
	info, err := a.Snapshots.Take(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, snapshotAnswer{Revision: info.Revision, Object: info.Object, Bytes: info.Bytes})
}
