package query

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Permission timelines (issue 17 item 2): every change to what a subject
// may do signed into a namespace, in stream order. A timeline is folded
// from the stream on a past view (history.go): starting at the view at
// revision After (an empty index when 0), events are applied in order;
// after each event (or transaction: the projector applies one whole) that
// can change what the subject holds, the subject's permissions are
// computed as SubjectPermissions computes them (lookup.go) and compared
// with those before it. Events that cannot change them (another user's
// assignments, a role the subject holds none of, scopes, endpoints, ...)
// are applied in batches without comparing.
//
// What counts as held: a grant counts from the event that makes it to the
// event that ends it, whatever its validity window or schedule, and a
// token's permissions count until it is revoked: windows, schedules and
// expiries are not events, so their boundaries are not entries (a check
// asOf an instant evaluates them).
//
// Paging is by revision: Next is the revision the fold stopped at (every
// event up to it is accounted for); pass it as After. A page ends after
// Limit entries or at the revision the node had applied when asked.
//
// Cost: a replay of the stream up to the end of the page from the nearest
// kept past view at or before After (the one the previous page left, for
// a next page), plus, per event that may change the subject's
// permissions, one index commit and one computation of its permissions.

// TimelineRequest asks for a subject's permission timeline.
type TimelineRequest struct {
	Namespace   string
	SubjectType string
	SubjectID   string
	// Resource and Action, when set, keep only the permissions that cover
	// Resource (with {namespace} and {userId} bound as a check binds
	// them) with those actions.
	Resource string
	Action   perm.Action
	// After is the revision to start after (Next of the previous page).
	After uint64
	Limit int
}

// TimelineEntry is one change to what the subject may do.
type TimelineEntry struct {
	// Revision is the event's (for a transaction: its last event's).
	Revision   uint64            `json:"revision"`
	OccurredAt time.Time         `json:"occurredAt"`
	EventType  string            `json:"eventType"`
	Actor      events.Actor      `json:"actor"`
	Reason     string            `json:"reason"`
	Gained     []perm.Permission `json:"gained"`
	Lost       []perm.Permission `json:"lost"`
}

// TimelinePaging is a timeline page's paging.
type TimelinePaging struct {
	// Next, when set, is the After of the next page.
	Next uint64 `json:"next,omitempty"`
}

// TimelinePage is one page of a timeline.
type TimelinePage struct {
	Data   []TimelineEntry `json:"data"`
	Paging TimelinePaging  `json:"paging"`
	// Revision is the last revision the page accounts for.
	Revision uint64 `json:"revision"`
	// Withheld says some permission held on the way was left out: the
	// caller may not read any of its sources (see SubjectPermissions).
	Withheld bool `json:"withheld,omitempty"`
}

// errPageFull stops a timeline's fold when its page is full.
var errPageFull = errors.New("query: timeline page full")

// Timeline returns a page of the permission timeline of a subject signed
// into req.Namespace. The caller needs ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK
// Read and ADMIN:NAMESPACE:{namespace}:AUDIT Read there; what it may not
// read is left out as SubjectPermissions leaves it out, and an entry's
// actor and reason are shown only when it may read the audit of the
// event's namespace (ADMIN:AUDIT for a role's edit); otherwise they are
// empty and the page says Withheld.
func (e *Engine) Timeline(ctx context.Context, o ReadOptions, req TimelineRequest) (TimelinePage, error) {
	if err := validNS(req.Namespace); err != nil {
		return TimelinePage{}, err
	}
	if err := validSubject(req.SubjectType, req.SubjectID); err != nil {
		return TimelinePage{}, err
	}
	if req.Action != 0 && req.Resource == "" {
		return TimelinePage{}, invalid("invalidResource", "action filters the permissions of resource: give resource too")
	}
	if req.Resource != "" {
		if _, err := perm.ParseRequired(req.Resource, perm.Read, perm.RequiredBinding{Unbound: true}); err != nil {
			return TimelinePage{}, invalid("invalidResource", "%s", err.Error())
		}
	}
	limit, err := clampLimit(req.Limit)
	if err != nil {
		return TimelinePage{}, err
	}
	if err := e.authorize(ctx, o, auth.PermCheck, perm.Read, req.Namespace); err != nil {
		return TimelinePage{}, err
	}
	if err := e.authorizePast(ctx, o.Caller, req.Namespace); err != nil {
		return TimelinePage{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return TimelinePage{}, err
	}
	h := e.hist
	if h == nil {
		return TimelinePage{}, errorf(ErrUnavailable, "historyUnavailable",
			"this engine does not answer permission timelines: ask a Grantlog server")
	}
	upTo := e.store.Applied()
	if req.After > upTo {
		return TimelinePage{}, invalid("invalidAfter", "after %d is beyond this node's revision %d: pass the next of the previous page", req.After, upTo)
	}
	visible := func(seeRule) bool { return true }
	if e.authz != nil {
		visible = e.readable(ctx, o.Caller)
	}
	pv, err := h.acquire(ctx, req.After, upTo)
	if err != nil {
		return TimelinePage{}, err
	}
	defer h.release(pv)
	f := &fold{e: e, req: req, store: pv.store, limit: limit, visible: visible, page: TimelinePage{Data: []TimelineEntry{}},
		audited: map[string]bool{}}
	f.auditable = func(ns string) bool {
		if e.authz == nil {
			return true
		}
		ok, seen := f.audited[ns]
		if !seen {
			ok = e.authorizePast(ctx, o.Caller, ns) == nil
			f.audited[ns] = ok
		}
		return ok
	}
	f.held = f.permissions()
	err = h.cfg.Replay(ctx, foldIndex{Store: pv.store, f: f}, upTo)
	switch {
	case errors.Is(err, errPageFull):
		f.page.Paging.Next = pv.store.Applied()
	case err != nil:
		if ctx.Err() == nil {
			h.drop(pv) // not kept: it may have failed
		}
		return TimelinePage{}, err
	}
	f.page.Revision = pv.store.Applied()
	return f.page, nil
}

// foldIndex is the past view's index as a timeline's replay feeds it.
type foldIndex struct {
	*index.Store
	f *fold
}

// Apply applies evs through the fold.
func (x foldIndex) Apply(evs []events.Event) error { return x.f.apply(evs) }

// fold is one timeline page in progress.
type fold struct {
	e       *Engine
	req     TimelineRequest
	store   *index.Store
	limit   int
	visible func(seeRule) bool
	// auditable reports whether the caller may read the audit records of
	// a namespace: an entry's actor and reason come from an event's
	// record, shown only then (a role's edit is in _platform's).
	auditable func(ns string) bool
	audited   map[string]bool
	held      map[string]perm.Action
	page      TimelinePage
}

// apply applies evs (whole transactions: the projector never cuts one),
// comparing the subject's permissions after each unit that may change
// them.
func (f *fold) apply(evs []events.Event) error {
	start := 0
	for i := 0; i < len(evs); {
		j := i + 1
		if tx := evs[i].Tx; tx != nil {
			for j < len(evs) && evs[j].Tx != nil && evs[j].Tx.ID == tx.ID {
				j++
			}
		}
		if !f.relevant(evs[i:j]) {
			i = j
			continue
		}
		if len(f.page.Data) >= f.limit {
			if err := f.store.Apply(evs[start:i]); err != nil {
				return err
			}
			return errPageFull
		}
		if err := f.store.Apply(evs[start:j]); err != nil {
			return err
		}
		start = j
		now := f.permissions()
		gained, lost := diff(f.held, now), diff(now, f.held)
		f.held = now
		if len(gained)+len(lost) > 0 {
			last := &evs[j-1]
			for k := i; k < j; k++ {
				if f.touches(&evs[k]) {
					last = &evs[k]
				}
			}
			en := TimelineEntry{
				Revision: evs[j-1].Revision, OccurredAt: last.OccurredAt.UTC(), EventType: last.Type,
				Actor: last.Actor, Reason: last.Reason, Gained: gained, Lost: lost,
			}
			if !f.auditable(last.Namespace) {
				en.Actor, en.Reason = events.Actor{}, ""
				f.page.Withheld = true
			}
			f.page.Data = append(f.page.Data, en)
		}
		i = j
	}
	return f.store.Apply(evs[start:])
}

// relevant reports whether a unit of events may change what the subject
// holds (judged on the state before it).
func (f *fold) relevant(evs []events.Event) bool {
	for i := range evs {
		if f.touches(&evs[i]) {
			return true
		}
	}
	return false
}

// touches reports whether ev may change what the subject holds.
func (f *fold) touches(ev *events.Event) bool {
	if _, refused := ev.Data.(index.Refused); refused || ev.Data == nil {
		return false
	}
	kind, _, _ := strings.Cut(ev.Type, ".")
	switch kind {
	case "scope", "endpoint", "log":
		return false
	case "role":
		id := events.RoleOf(ev.Data)
		if id == "" {
			id = ev.AggregateID // created and updated name it so
		}
		return f.holdsRole(id)
	case "user":
		return ev.AggregateID == "_batch" || f.concerns(ev.AggregateID)
	case "client":
		return f.concerns(ev.AggregateID)
	case "token":
		return f.req.SubjectType == SubjectToken
	}
	return true // namespaces, transactions' ends, anything new
}

// concerns reports whether id is the subject or (for a token) its owner.
func (f *fold) concerns(id string) bool {
	if id == f.req.SubjectID {
		return true
	}
	if f.req.SubjectType != SubjectToken {
		return false
	}
	v := f.store.Acquire()
	defer v.Release()
	t := v.Token(f.req.SubjectID)
	return t != nil && t.Owner.ID == id
}

// holdsRole reports whether the subject (or a token's owner) may hold
// role id: assigned, a default role of the namespace, a client's role.
func (f *fold) holdsRole(id string) bool {
	v := f.store.Acquire()
	defer v.Release()
	typ, sid := f.req.SubjectType, f.req.SubjectID
	if typ == SubjectToken {
		t := v.Token(sid)
		if t == nil {
			return false
		}
		typ, sid = t.Owner.Type, t.Owner.ID
	}
	switch typ {
	case SubjectUser:
		as := v.Assignments(sid)
		for i := range as {
			if as[i].Role().ID == id {
				return true
			}
		}
		if info, ok := v.Namespace(f.req.Namespace); ok {
			for _, r := range info.DefaultRoles {
				if r == id {
					return true
				}
			}
		}
	case SubjectClient:
		if cl := v.Client(sid); cl != nil {
			for _, r := range cl.Roles {
				if r == id {
					return true
				}
			}
		}
	}
	return false
}

// permissions returns what the subject holds at the store's current
// state, by bound resource, as SubjectPermissions lists it (sources the
// caller may not read left out), windows ignored (see the top of the
// file), filtered by the request's resource and action.
func (f *fold) permissions() map[string]perm.Action {
	v := f.store.Acquire()
	m := entries{}
	switch f.req.SubjectType {
	case SubjectUser:
		userEntries(v, m, f.req.Namespace, f.req.SubjectID, time.Time{})
	case SubjectClient:
		if cl := v.Client(f.req.SubjectID); cl != nil {
			clientEntries(v, m, f.req.Namespace, cl)
		}
	case SubjectToken:
		if t := v.Token(f.req.SubjectID); t != nil {
			if !f.visible(seeToken(t)) {
				// As subject.permissions: a token the caller may not
				// read is withheld whole (its owner's readable sources
				// do not show it).
				v.Release()
				f.page.Withheld = true
				return map[string]perm.Action{}
			}
			tokenEntries(v, m, f.req.Namespace, t, time.Time{})
		}
	}
	v.Release()
	out := map[string]perm.Action{}
	for res, en := range m {
		seen := false
		for i := range en.Sources {
			if f.visible(en.Sources[i].see) {
				seen = true
				break
			}
		}
		if !seen {
			f.page.Withheld = true
			continue
		}
		a := en.Action
		if f.req.Resource != "" {
			want := f.req.Action
			if want == 0 {
				want = a
			}
			a &= want
			required := bindTag(f.req.Resource, f.req.Namespace, f.holderID())
			if a == 0 || !covers(res, required, a) {
				continue
			}
		}
		out[res] = a
	}
	return out
}

// holderID is the user id {userId} binds to (a token's owner).
func (f *fold) holderID() string {
	if f.req.SubjectType != SubjectToken {
		return f.req.SubjectID
	}
	v := f.store.Acquire()
	defer v.Release()
	if t := v.Token(f.req.SubjectID); t != nil {
		return t.Owner.ID
	}
	return ""
}

// diff returns what b holds that a does not, sorted by resource.
func diff(a, b map[string]perm.Action) []perm.Permission {
	var out []perm.Permission
	for res, act := range b {
		if d := act &^ a[res]; d != 0 {
			out = append(out, perm.Permission{Resource: res, Action: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	if out == nil {
		out = []perm.Permission{}
	}
	return out
}
