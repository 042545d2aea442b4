package client

import (
	"context"
	"fmt"
	"strconv"

	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// Answers of the reverse lookups.
type (
	// LookupSubject names the subject of SubjectPermissions: Type "user",
	// "client" or "token" and its id (a token's id, never its secret).
	LookupSubject = query.LookupSubject
	// SubjectPermission is one resource a subject holds, with the actions
	// and their sources.
	SubjectPermission = query.SubjectPermission
	// LookupSource is where a lookup entry comes from.
	LookupSource = query.LookupSource
	// Holder is one subject holding a permission.
	Holder = query.Holder
	// SubjectPermissionsPage is one page of SubjectPermissions (Next: the
	// After of the next page).
	SubjectPermissionsPage = query.SubjectPermissionsPage
	// HoldersPage is one page of PermissionHolders.
	HoldersPage = query.HoldersPage
)

type lookupPaging struct {
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
}

// SubjectPermissions reads one page of what subject may do signed into ns
// (GET /v1/namespaces/{ns}/subjects/{type}/{id}/permissions). Read pages
// until Next is "" for all of them; Withheld says some are left out
// because the caller may not read them.
func (c *Client) SubjectPermissions(ctx context.Context, ns string, subject LookupSubject, l ListOptions, opts ...CallOption) (SubjectPermissionsPage, error) {
	var out struct {
		query.SubjectPermissionsPage
		lookupPaging
	}
	f := l.fields(map[string]any{"namespace": ns, "subjectType": subject.Type, "subjectId": subject.ID})
	if err := c.call(ctx, "subject.permissions", f, &out, opts); err != nil {
		return SubjectPermissionsPage{}, err
	}
	p := out.SubjectPermissionsPage
	p.Next = out.Paging.Next
	return p, nil
}

// PermissionHolders reads one page of the users, clients and tokens that
// hold resource with action signed into ns (GET
// /v1/namespaces/{ns}/holders?resource=&action=). EveryUser, on the
// first page, lists the default roles that give it to every user.
func (c *Client) PermissionHolders(ctx context.Context, ns, resource string, action perm.Action, l ListOptions, opts ...CallOption) (HoldersPage, error) {
	var out struct {
		query.HoldersPage
		lookupPaging
	}
	f := l.fields(map[string]any{"namespace": ns, "resource": resource, "action": int(action)})
	if err := c.call(ctx, "permission.holders", f, &out, opts); err != nil {
		return HoldersPage{}, err
	}
	p := out.HoldersPage
	p.Next = out.Paging.Next
	return p, nil
}

// Timeline answers of the permission timeline.
type (
	// TimelineEntry is one change to what a subject may do.
	TimelineEntry = query.TimelineEntry
	// TimelinePage is one page of Timeline: Paging.Next is the after of
	// the next page (0 when complete).
	TimelinePage = query.TimelinePage
)

// TimelineOptions narrow and page a timeline.
type TimelineOptions struct {
	// Resource and Action, when set, keep only the permissions covering
	// Resource with those actions.
	Resource string
	Action   perm.Action
	// After is the revision to start after (Paging.Next of the previous
	// page); Limit the most entries (1-1000, default 100).
	After uint64
	Limit int
}

// Timeline reads one page of every change to what subject may do signed
// into ns (GET /v1/namespaces/{ns}/subjects/{type}/{id}/timeline): when,
// which event, who, why, gained and lost. The caller needs the
// namespace's check and audit-read rights. Read pages until Paging.Next
// is 0.
func (c *Client) Timeline(ctx context.Context, ns string, subject LookupSubject, o TimelineOptions, opts ...CallOption) (TimelinePage, error) {
	var out struct {
		Data     []TimelineEntry `json:"data"`
		Revision uint64          `json:"revision"`
		Withheld bool            `json:"withheld"`
		lookupPaging
	}
	f := map[string]any{"namespace": ns, "subjectType": subject.Type, "subjectId": subject.ID}
	if o.Resource != "" {
		f["resource"] = o.Resource
	}
	if o.Action != 0 {
		f["action"] = int(o.Action)
	}
	if o.After != 0 {
		f["after"] = strconv.FormatUint(o.After, 10)
	}
	if o.Limit != 0 {
		f["limit"] = o.Limit
	}
	if err := c.call(ctx, "subject.timeline", f, &out, opts); err != nil {
		return TimelinePage{}, err
	}
	p := TimelinePage{Data: out.Data, Revision: out.Revision, Withheld: out.Withheld}
	if out.Paging.Next != "" {
		n, err := strconv.ParseUint(out.Paging.Next, 10, 64)
		if err != nil {
			return TimelinePage{}, fmt.Errorf("client: timeline: next %q is not a revision: %w", out.Paging.Next, err)
		}
		p.Paging.Next = n
	}
	return p, nil
}
