package api

import (
	"context"
	"time"

	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// Request pieces shared by operations. Fields tagged path bind the HTTP
// path's wildcards; fields tagged query bind the query string when the
// request has no body. Over NATS every field is a JSON field.
type (
	// Reason is a command's reason, recorded in its audit record.
	Reason struct {
		Reason string `json:"reason,omitempty" query:"reason"`
	}
	// AtLeast makes a read wait (bounded) until the node has applied
	// that revision: read your own writes.
	AtLeast struct {
		AtLeastRevision uint64 `json:"atLeastRevision,omitempty" query:"atLeastRevision"`
	}
	// Paging asks one page: after the cursor paging.next of the previous
	// page, at most limit items (1-1000, default 100).
	Paging struct {
		After string `json:"after,omitempty" query:"after"`
		Limit *int   `json:"limit,omitempty" query:"limit"`
	}
	// RoleRef names a role.
	RoleRef struct {
		RoleID string `json:"roleId" path:"roleId"`
	}
	// NamespaceRef names a namespace.
	NamespaceRef struct {
		Namespace string `json:"namespace" path:"namespace"`
	}
	// UserRef names a user in a namespace.
	UserRef struct {
		Namespace string `json:"namespace" path:"namespace"`
		UserID    string `json:"userId" path:"userId"`
	}
	// ClientRef names an IAM client in a namespace.
	ClientRef struct {
		Namespace string `json:"namespace" path:"namespace"`
		ClientID  string `json:"clientId" path:"clientId"`
	}
	// ScopeRef names a token scope.
	ScopeRef struct {
		Name string `json:"name" path:"name"`
	}
	// EndpointRef names a registered endpoint.
	EndpointRef struct {
		Service  string `json:"service" path:"service"`
		Endpoint string `json:"endpoint" path:"endpoint"`
	}
	// Permissions is the body of the permission changes of roles and
	// clients.
	Permissions struct {
		Permissions []perm.Permission `json:"permissions"`
	}
)

// MinRevision is the revision the read waits for (0: none).
func (a *AtLeast) MinRevision() uint64 { return a.AtLeastRevision }

// Validate refuses a permission change that names no permissions.
func (p *Permissions) Validate() error {
	if p.Permissions == nil {
		return Bad("invalidPermission", `request must have "permissions": [{"resource": "...", "action": 1-15}]`)
	}
	return nil
}

// Validate refuses a limit out of range.
func (p *Paging) Validate() error { return validLimit(p.Limit) }

func validLimit(n *int) error {
	if n != nil && (*n < 1 || *n > query.MaxLimit) {
		return Bad("invalidLimit", "limit must be an integer from 1 to %d", query.MaxLimit)
	}
	return nil
}

// limit is n, or 0 (the default) when absent.
func limit(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

// Page is a page of a list: {data, paging: {next}, revision}.
type Page[T any] struct {
	Data   []T `json:"data"`
	Paging struct {
		// Next, when set, is the cursor of the next page.
		Next string `json:"next,omitempty"`
	} `json:"paging"`
	Revision uint64 `json:"revision"`
}

func page[T any](p query.Page[T], err error) (Page[T], error) {
	out := Page[T]{Data: p.Data, Revision: p.Revision}
	out.Paging.Next = p.Next
	if out.Data == nil {
		out.Data = []T{}
	}
	return out, err
}

// SubjectPermissions is the answer of subject.permissions: a page of
// query.SubjectPermission sorted by resource.
type SubjectPermissions struct {
	Data   []query.SubjectPermission `json:"data"`
	Paging struct {
		// Next, when set, is the cursor of the next page.
		Next string `json:"next,omitempty"`
	} `json:"paging"`
	Revision uint64 `json:"revision"`
	// Withheld says entries or sources the caller may not read are left out.
	Withheld bool `json:"withheld,omitempty"`
}

// Timeline is the answer of subject.timeline: the changes to what the
// subject may do, oldest first (query.Timeline).
type Timeline struct {
	Data   []query.TimelineEntry `json:"data"`
	Paging struct {
		// Next, when set, is the after of the next page (a revision).
		Next string `json:"next,omitempty"`
	} `json:"paging"`
	// Revision is the last revision the page accounts for.
	Revision uint64 `json:"revision"`
	// Withheld says permissions the caller may not read are left out.
	Withheld bool `json:"withheld,omitempty"`
}

// Holders is the answer of permission.holders: users by id, then clients,
// then tokens. EveryUser (first page) lists the namespace's default roles
// that give the permission to every user signed into it.
type Holders struct {
	Resource  string               `json:"resource"`
	Action    perm.Action          `json:"action"`
	EveryUser []query.LookupSource `json:"everyUser,omitempty"`
	Data      []query.Holder       `json:"data"`
	Paging    struct {
		// Next, when set, is the cursor of the next page.
		Next string `json:"next,omitempty"`
	} `json:"paging"`
	Revision uint64 `json:"revision"`
	// Withheld says holders or sources the caller may not read are left out.
	Withheld bool `json:"withheld,omitempty"`
}

// Revision answers a command that answers only its revision.
type Revision struct {
	Revision uint64 `json:"revision"`
}

func revision(rev uint64, err error) (Revision, error) { return Revision{rev}, err }

// Snapshotter takes a snapshot of the node's index now.
// *eventlog.Snapshotter satisfies it.
type Snapshotter interface {
	Take(ctx context.Context) (eventlog.SnapshotInfo, error)
}

// SnapshotTaken is the answer of snapshot.take.
type SnapshotTaken struct {
	Revision uint64 `json:"revision"`
	Object   string `json:"object"`
	Bytes    int64  `json:"bytes"`
}

// NodeStatus is a node's deployment role and progress, as /v1/status
// reports it (and /readyz, with it).
type NodeStatus struct {
	// Role is the node's deployment role: all, command or replica.
	Role  string `json:"role"`
	Node  string `json:"node"`
	Ready bool   `json:"ready"`
	// Revision is the index's applied revision.
	Revision uint64 `json:"revision"`
	// Region is the region the node runs in (--region; "" when unnamed).
	Region string `json:"region"`
	// Stream is the stream the node follows: the event stream (GRANTLOG)
	// on a node that writes, its region's mirror (GRANTLOG_MIRROR) on a
	// replica.
	Stream string `json:"stream"`
	// Connected says whether the node's NATS connection is up.
	Connected bool `json:"connected"`
	// LastHeardAt is when the node last heard from its stream's origin:
	// the last stream poll that answered, less the mirror's time since it
	// last heard from the home stream; null before the first.
	LastHeardAt *time.Time `json:"lastHeardAt"`
	// StaleSeconds is the time since LastHeardAt.
	StaleSeconds float64 `json:"staleSeconds"`
	// Stale says the node cannot know the stream's head now (its NATS
	// connection is down, or its stream has not heard from the origin for
	// a few status intervals): it answers at Revision, and Lag is null.
	Stale bool `json:"stale"`
	// Head is the stream's last sequence as last heard (polled about every
	// second); never below Revision.
	Head uint64 `json:"head"`
	// Lag is Head - Revision, or null while the node is stale: it never
	// says 0 when it cannot know.
	Lag *uint64 `json:"lag"`
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

// AuditFilter selects audit records: namespace and type are repeatable;
// since is an RFC 3339 time or a duration ago ("1h").
type AuditFilter struct {
	Namespace    []string `json:"namespace,omitempty" query:"namespace"`
	Type         []string `json:"type,omitempty" query:"type"`
	FromRevision uint64   `json:"fromRevision,omitempty" query:"fromRevision"`
	Since        string   `json:"since,omitempty" query:"since"`
}

// ParseSince reads since: an RFC 3339 time, or a duration before now.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, Bad("invalidSince", "since %q: use an RFC 3339 time (2026-01-02T15:04:05Z) or a duration ago (1h, 30m)", s)
}
