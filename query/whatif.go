package query

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// What-if (issue #17 item 3): the diff of effective permissions that
// proposed events (command.Service.WhatIf decides them; nothing is
// appended) would make, computed at one view of the index: the index as
// it is, and the same view with the events staged (index.Overlay).

// EveryUser is the subject id of a what-if change that applies to every
// user signed into the namespace through its default roles (listed or
// not); its resources keep {userId}, which binds to each user.
const EveryUser = "*"

// WhatIfPermission is one permission gained or lost: a resource (bound as
// SubjectPermissions binds it) and the actions gained or lost on it.
type WhatIfPermission struct {
	Resource string      `json:"resource"`
	Action   perm.Action `json:"action"`
}

// WhatIfChange is what one subject, signed into Namespace, would gain and
// lose.
type WhatIfChange struct {
	Subject   LookupSubject      `json:"subject"`
	Namespace string             `json:"namespace"`
	Gained    []WhatIfPermission `json:"gained"`
	Lost      []WhatIfPermission `json:"lost"`
}

// WhatIfPage is one page of WhatIf, sorted by namespace, subject type,
// then subject id.
type WhatIfPage struct {
	Changes []WhatIfChange `json:"changes"`
	// Next, when set, is the cursor of the next page.
	Next     string `json:"next,omitempty"`
	Revision uint64 `json:"revision"`
	// Withheld says subjects in namespaces the caller may not check
	// (ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK Read) may be affected
	// and are left out.
	Withheld bool `json:"withheld,omitempty"`
}

// wiKey is one subject signed into one namespace.
type wiKey struct{ ns, typ, id string }

func (k wiKey) String() string { return k.ns + "\x00" + k.typ + "\x00" + k.id }

func wiCompare(a, b wiKey) int {
	if c := strings.Compare(a.ns, b.ns); c != 0 {
		return c
	}
	if c := strings.Compare(a.typ, b.typ); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// WhatIf returns the diff of effective permissions that evs (decided,
// not stored: command.Proposal.Events) would make, one page after cursor
// (a Next, or "" to start) of at most limit changes (0: DefaultLimit).
//
// Subjects diffed: the users whose assignments the events make or end
// (directly, by deleting a role or a namespace), who hold a role the
// events change or delete, or whose assignments are made in a namespace
// whose default roles change, each signed into every namespace its
// assignments are made in (before or after); every user of a namespace
// whose default roles change (subject id EveryUser); clients the events
// change or delete or holding a changed role, and tokens revoked, ended
// with their namespace, or whose owner is one of those, each signed into
// its own namespace. A user's change is its whole diff there (default
// roles included). A change lists each resource (as SubjectPermissions
// binds it) with the actions gained, and lost; entries are compared by
// resource and action, so a change of constraints alone is not a change.
//
// Authorization: each change is shown only when the caller holds
// ADMIN:NAMESPACE:{namespace}:PERMISSION:CHECK Read in its namespace
// (what SubjectPermissions requires); otherwise it is left out and the
// page says Withheld (when such a subject comes anywhere after cursor,
// on this page or a later one). The commands' own authorization is the
// deciding side's (command.Service.WhatIf).
//
// Cost. Every page folds the events into an overlay (once per chunk of
// 1,024 subjects) and does SubjectPermissions' work twice for each
// subject it diffs, from the cursor until the page is full. How it finds
// the subjects depends on how many users the events reach through what
// they hold (the holders of the changed roles and the users of the
// namespaces whose default roles change or that are created or
// deleted), counted from the index's role members (one seek per
// namespace per changed role; a scan of every user in memory instead
// when that is cheaper, as PermissionHolders decides) up to
// max(4·limit, 1024):
//
//   - at most that many, or a proposal that changes no role and no
//     namespace: every subject after the cursor is listed and sorted,
//     every client and token read in memory; per page, O(those users +
//     clients + tokens);
//   - more: the subjects come out in order, namespace by namespace after
//     the cursor, from the index's ordered keys of each namespace's
//     clients, tokens and users (index.View.NamespaceUsers), each kept if
//     the proposal reaches it (a map lookup per assignment of the user).
//     A page reads from its cursor to the subject after its last change,
//     so paging through the whole diff reads each key at most about
//     twice: O(users, clients and tokens of the namespaces passed) in
//     total, where listing them all on every page cost that per page.
//     A role held by every user costs per page about the page's own
//     subjects; a role held by few of very many users (more than the
//     bound) costs one pass over those many, spread over the pages.
//
// With an authorizer that withholds some namespaces, a full page also
// looks, in each withheld namespace after the page, for one subject to
// set Withheld: up to all of that namespace's keys when it has none, on
// every such page.
//
// The cursor pins nothing: pages asked while the index changes diff
// against the index as it is then (as do the chunks of one page).
func (e *Engine) WhatIf(ctx context.Context, o ReadOptions, evs []events.Event, cursor string, limit int) (WhatIfPage, error) {
	limit, err := clampLimit(limit)
	if err != nil {
		return WhatIfPage{}, err
	}
	after, err := decodeCursor(cursor, "w:")
	if err != nil {
		return WhatIfPage{}, err
	}
	src := &wiSource{evs: evs, small: whatIfSmallFloor}
	if n := whatIfSmallFactor * limit; n > src.small {
		src.small = n
	}
	if after != "" {
		src.from, src.begun = parseWIKey(after), true
	}

	// Which namespaces the caller may check (outside any view: the
	// authorizer takes its own).
	page := WhatIfPage{Changes: []WhatIfChange{}}
	readable := map[string]bool{}
	canRead := func(ns string) bool {
		r, done := readable[ns]
		if !done {
			r = e.authorize(ctx, o, auth.PermCheck, perm.Read, ns) == nil
			readable[ns] = r
		}
		return r
	}

	now := e.cfg.Now()
	// A change shows no more than subject.permissions would show the
	// caller: entries whose sources it may not read, and tokens it may not
	// read, are left out. The authorizer takes its own view of the index,
	// so the rules a chunk of keys' sources name are gathered under one
	// view and resolved outside it, then the chunk is diffed under
	// another; the index may move between chunks (as between pages).
	resolved := map[seeRule]bool{}
	hidden := false // a source of the current key was left out
	shown := func(r seeRule) bool {
		if e.authz == nil {
			return true
		}
		ok := resolved[r]
		hidden = hidden || !ok
		return ok
	}
	chunk := whatIfChunk
	revised := false
	for page.Next == "" {
		if err := ctx.Err(); err != nil {
			return WhatIfPage{}, err
		}
		v := e.store.Acquire()
		part, err := src.next(v, chunk)
		v.Release()
		if err != nil {
			return WhatIfPage{}, err
		}
		if len(part) == 0 {
			break
		}
		for _, k := range part {
			if !canRead(k.ns) {
				page.Withheld = true
			}
		}
		if e.authz != nil {
			pending := map[seeRule]bool{}
			collect := func(r seeRule) bool {
				if _, ok := resolved[r]; !ok {
					pending[r] = true
				}
				return true
			}
			v := e.store.Acquire()
			w := v.With(stage(v, evs))
			for _, k := range part {
				if readable[k.ns] {
					effective(v, k, now, collect)
					effective(w, k, now, collect)
				}
			}
			v.Release()
			visible := e.readable(ctx, o.Caller)
			for r := range pending {
				resolved[r] = visible(r)
			}
		}
		v = e.store.Acquire()
		w := v.With(stage(v, evs))
		if !revised {
			page.Revision, revised = v.Revision(), true
		}
		for _, k := range part {
			if !readable[k.ns] {
				continue
			}
			hidden = false
			gained, lost := diffEntries(effective(v, k, now, shown), effective(w, k, now, shown))
			if hidden {
				// Conservative: a source left out may or may not change.
				page.Withheld = true
			}
			if len(gained) == 0 && len(lost) == 0 {
				continue
			}
			if len(page.Changes) == limit {
				// One more change: the page is full and there is a next.
				page.Next = encodeCursor("w:" + wiKeyOf(page.Changes[limit-1]).String())
				break
			}
			page.Changes = append(page.Changes, WhatIfChange{Subject: LookupSubject{Type: k.typ, ID: k.id}, Namespace: k.ns, Gained: gained, Lost: lost})
		}
		v.Release()
	}
	if page.Next != "" && !page.Withheld && e.authz != nil {
		// Subjects after the page in namespaces the caller may not check.
		withheld, err := src.withheldAfter(e.store, canRead)
		if err != nil {
			return WhatIfPage{}, err
		}
		page.Withheld = withheld
	}
	if !revised {
		v := e.store.Acquire()
		page.Revision = v.Revision()
		v.Release()
	}
	return page, nil
}

// whatIfChunk is how many candidates WhatIf takes at a time (at one view
// of the index for their sources' rules, at another for their diffs).
var whatIfChunk = 1024

func wiKeyOf(c WhatIfChange) wiKey {
	return wiKey{ns: c.Namespace, typ: c.Subject.Type, id: c.Subject.ID}
}

// parseWIKey reads a wiKey.String().
func parseWIKey(s string) wiKey {
	parts := strings.SplitN(s, "\x00", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return wiKey{parts[0], parts[1], parts[2]}
}

// stage folds evs into a new overlay over v.
func stage(v index.View, evs []events.Event) *index.Overlay {
	ov := index.NewOverlay()
	for i := range evs {
		ov.Stage(v, &evs[i])
	}
	return ov
}

// effective returns what subject k holds at v, as subject.permissions
// shows it to a caller who may read the sources visible allows: each
// resource with its actions. visible must not take a view of the index.
func effective(v index.View, k wiKey, now time.Time, visible func(seeRule) bool) map[string]perm.Action {
	m := entries{}
	token := false
	switch k.typ {
	case SubjectUser:
		if k.id == EveryUser {
			if info, ok := v.Namespace(k.ns); ok {
				for _, id := range info.DefaultRoles {
					if role := v.Role(id); role != nil {
						m.grantSources(role.Permissions, []string{k.ns}, perm.PlaceholderUserID, defaultRoleSource(role, k.ns))
					}
				}
			}
		} else {
			userEntries(v, m, k.ns, k.id, now)
		}
	case SubjectClient:
		if cl := v.Client(k.id); cl != nil {
			clientEntries(v, m, k.ns, cl)
		}
	case SubjectToken:
		if t := v.Token(k.id); t != nil {
			if !visible(seeToken(t)) {
				return map[string]perm.Action{}
			}
			token = true
			tokenEntries(v, m, k.ns, t, now)
		}
	}
	out := make(map[string]perm.Action, len(m))
	for res, en := range m {
		// As SubjectPermissions redacts: the actions of the sources the
		// caller may read (a token's: its entry's, once one is readable).
		var a perm.Action
		seen := false
		for i := range en.Sources {
			s := &en.Sources[i]
			if !visible(s.see) {
				continue
			}
			seen = true
			if !s.Owner {
				a |= actionOf(&s.Permission)
			}
		}
		if token {
			a = en.Action
		}
		if seen && a != 0 {
			out[res] = a
		}
	}
	return out
}

// diffEntries returns, sorted by resource, the actions after holds that
// before does not (gained), and those before holds that after does not
// (lost).
func diffEntries(before, after map[string]perm.Action) (gained, lost []WhatIfPermission) {
	for res, a := range after {
		if g := a &^ before[res]; g != 0 {
			gained = append(gained, WhatIfPermission{Resource: res, Action: g})
		}
	}
	for res, b := range before {
		if l := b &^ after[res]; l != 0 {
			lost = append(lost, WhatIfPermission{Resource: res, Action: l})
		}
	}
	byRes := func(ps []WhatIfPermission) {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Resource < ps[j].Resource })
	}
	byRes(gained)
	byRes(lost)
	if gained == nil {
		gained = []WhatIfPermission{}
	}
	if lost == nil {
		lost = []WhatIfPermission{}
	}
	return gained, lost
}
