package client

import (
	"context"

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
