package audit

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// Changes in the permission-change feed.
const (
	Gained = "gained"
	Lost   = "lost"
)

// Effect is one derived change of who holds what: a subject (user, client
// or token) or every holder of a role gained or lost a permission, at a
// revision. A role edit is one effect naming the role, not one per member;
// Members lists them when the subscriber asked to expand.
type Effect struct {
	Revision   uint64    `json:"revision"`
	OccurredAt time.Time `json:"occurredAt"`
	// Namespace is the namespace of the event (the audit namespace it is
	// read under): _platform for role edits.
	Namespace string `json:"namespace"`
	EventType string `json:"eventType"`
	Change    string `json:"change"`
	// Subject gained or lost the permission (assignments, clients, tokens)...
	Subject *events.Actor `json:"subject,omitempty"`
	// ...or every holder of Role did (role edits; also the role through
	// which a subject's change came).
	Role *RoleRef `json:"role,omitempty"`
	// Namespaces are where {namespace} binds for the change (an
	// assignment's namespaces); empty for a wildcard role (every namespace)
	// and for role edits (each holder's own).
	Namespaces []string          `json:"namespaces,omitempty"`
	Permission events.Permission `json:"permission"`
	// Members are the role's holders, when expanded (as of now, not as of
	// the revision).
	Members []index.Member `json:"members,omitempty"`
}

// RoleRef names a role.
type RoleRef struct {
	RoleID   string `json:"roleId"`
	RoleName string `json:"roleName,omitempty"`
	Wildcard bool   `json:"isWildcard,omitempty"`
}

// EffectsFilter selects effects.
type EffectsFilter struct {
	// Namespaces limits effects to these event namespaces (as Filter does).
	Namespaces []string
	// FromRevision is the first revision to derive effects of (0: from the start).
	FromRevision uint64
	// ExpandMembers lists each role effect's holders.
	ExpandMembers bool
}

// roleFold is what the feed knows of a role at the revision it has read.
type roleFold struct {
	name     string
	wildcard bool
	perms    []perm.Permission
}

// EffectsSubscription delivers effects in revision order. Not safe for
// concurrent use; Stop it when done.
type EffectsSubscription struct {
	sub     *Subscription // all namespaces, no authorization: the fold needs every event
	access  *access
	nss     map[string]bool
	expand  bool
	members func(roleID string) []index.Member
	roles   map[string]*roleFold
	queue   []Effect
}

// SubscribeEffects starts the permission-change feed for caller. Effects
// are authorized like audit records (by the event's namespace). The feed
// first folds the platform's role events before FromRevision, so that an
// assignment's effect can name the role's permissions at that revision.
func (s *Service) SubscribeEffects(ctx context.Context, caller events.Caller, f EffectsFilter) (*EffectsSubscription, error) {
	a, _, err := s.prepare(ctx, caller, Filter{Namespaces: f.Namespaces, FromRevision: f.FromRevision})
	if err != nil {
		return nil, err
	}
	es := &EffectsSubscription{access: a, expand: f.ExpandMembers, members: s.cfg.Members, roles: map[string]*roleFold{}}
	if len(f.Namespaces) > 0 {
		es.nss = map[string]bool{}
		for _, ns := range f.Namespaces {
			es.nss[ns] = true
		}
	}
	if f.FromRevision > 1 {
		if err := s.foldRoles(ctx, f.FromRevision-1, es.roles); err != nil {
			return nil, err
		}
	}
	sub, err := s.Subscribe(ctx, events.Caller{Root: true}, Filter{FromRevision: f.FromRevision})
	if err != nil {
		return nil, err
	}
	es.sub = sub
	return es, nil
}

// foldRoles reads the platform's role events up to revision upTo.
func (s *Service) foldRoles(ctx context.Context, upTo uint64, roles map[string]*roleFold) error {
	stream, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return fmt.Errorf("audit: stream %s: %w", s.cfg.Stream, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.KindFilter(s.cfg.SubjectPrefix, events.PlatformNamespace, events.KindRole)},
	})
	if err != nil {
		return fmt.Errorf("audit: consumer: %w", err)
	}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return fmt.Errorf("audit: fold roles: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("audit: fold roles: %w", err)
			}
			if meta.Sequence.Stream > upTo {
				return nil
			}
			if ev, err := s.reg.Decode(msg.Data()); err == nil {
				foldRole(roles, ev.Data)
			}
			if meta.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("audit: fold roles: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

// foldRole applies a role event to the fold and returns the role's
// permissions before and after it (nil, nil for other events).
func foldRole(roles map[string]*roleFold, p events.Payload) (before, after []perm.Permission, r *roleFold) {
	switch p := p.(type) {
	case events.RoleCreated:
		r = &roleFold{name: p.RoleName, wildcard: p.IsWildcard}
		r.perms, _ = index.FoldRolePermissions(nil, p)
		roles[p.RoleID] = r
		return nil, nil, r
	case events.RoleUpdated:
		if r = roles[p.RoleID]; r != nil {
			r.name, r.wildcard = p.RoleName, p.IsWildcard
		}
		return nil, nil, r
	case events.RolePermissionsAdded, events.RolePermissionsRemoved, events.RolePermissionsReplaced:
		if r = roles[events.RoleOf(p)]; r != nil {
			before = r.perms
			r.perms, _ = index.FoldRolePermissions(before, p)
			return before, r.perms, r
		}
	case events.RoleDeleted:
		if r = roles[p.RoleID]; r != nil {
			delete(roles, p.RoleID)
			return r.perms, nil, r
		}
	}
	return nil, nil, r
}

// diff returns, per permission, the action bits gained and lost from
// before to after.
func diff(before, after []perm.Permission) (gained, lost []perm.Permission) {
	at := func(ps []perm.Permission) map[string]perm.Permission {
		m := make(map[string]perm.Permission, len(ps))
		for _, p := range ps {
			m[p.Key()] = p
		}
		return m
	}
	b, a := at(before), at(after)
	for k, p := range a {
		if add := p.Action &^ b[k].Action; add != 0 {
			q := p
			q.Action = add
			gained = append(gained, q)
		}
	}
	for k, p := range b {
		if rm := p.Action &^ a[k].Action; rm != 0 {
			q := p
			q.Action = rm
			lost = append(lost, q)
		}
	}
	byRes := func(ps []perm.Permission) {
		slices.SortFunc(ps, func(x, y perm.Permission) int {
			if x.Key() < y.Key() {
				return -1
			}
			if x.Key() > y.Key() {
				return 1
			}
			return 0
		})
	}
	byRes(gained)
	byRes(lost)
	return gained, lost
}

// Stop ends the subscription. It is idempotent.
func (es *EffectsSubscription) Stop() { es.sub.Stop() }

// LastRevision is the revision of the last event read.
func (es *EffectsSubscription) LastRevision() uint64 { return es.sub.LastRevision() }

// Next returns the next effect the caller may read. It blocks like
// Subscription.Next.
func (es *EffectsSubscription) Next(ctx context.Context) (Effect, error) {
	for len(es.queue) == 0 {
		rec, err := es.sub.Next(ctx)
		if err != nil {
			return Effect{}, err
		}
		if rec.Error != "" || rec.data == nil {
			continue
		}
		effects := es.derive(rec, rec.data)
		if len(effects) == 0 || (es.nss != nil && !es.nss[rec.Namespace]) {
			continue
		}
		ok, err := es.access.allowed(ctx, rec.Namespace)
		if err != nil {
			return Effect{}, err
		}
		if ok {
			es.queue = effects
		}
	}
	e := es.queue[0]
	es.queue = es.queue[1:]
	return e, nil
}

// derive computes the effects of one event (and folds role events).
func (es *EffectsSubscription) derive(rec Record, p events.Payload) []Effect {
	base := Effect{Revision: rec.Revision, OccurredAt: rec.OccurredAt, Namespace: rec.Namespace, EventType: rec.Type}
	var out []Effect
	emit := func(change string, ps []perm.Permission, fill func(*Effect)) {
		for _, q := range ps {
			e := base
			e.Change = change
			e.Permission = index.ToEvent([]perm.Permission{q})[0]
			fill(&e)
			out = append(out, e)
		}
	}
	roleRef := func(id string, r *roleFold) *RoleRef {
		if r == nil {
			return &RoleRef{RoleID: id}
		}
		return &RoleRef{RoleID: id, RoleName: r.name, Wildcard: r.wildcard}
	}
	before, after, r := foldRole(es.roles, p)
	switch p := p.(type) {
	case events.RolePermissionsAdded, events.RolePermissionsRemoved, events.RolePermissionsReplaced, events.RoleDeleted:
		id := events.RoleOf(p)
		gained, lost := diff(before, after)
		var members []index.Member
		if es.expand && es.members != nil && (len(gained) > 0 || len(lost) > 0) {
			members = es.members(id)
		}
		fill := func(e *Effect) { e.Role, e.Members = roleRef(id, r), members }
		emit(Gained, gained, fill)
		emit(Lost, lost, fill)
	case events.UserRoleAssigned:
		out = append(out, es.assignment(base, p, p.Before)...)
	case events.UserRolesAssignedBatch:
		for _, a := range p.Assignments {
			out = append(out, es.assignment(base, a, nil)...)
		}
	case events.UserRoleUnassigned:
		if p.Before != nil {
			rf := es.roles[p.RoleID]
			if rf != nil {
				subj := &events.Actor{Type: events.ActorUser, ID: p.UserID}
				emit(Lost, rf.perms, func(e *Effect) {
					e.Subject, e.Role, e.Namespaces = subj, roleRef(p.RoleID, rf), nss(rf, p.Before.AssignedNamespaces)
				})
			}
		}
	case events.ClientCreated:
		subj := &events.Actor{Type: events.ActorClient, ID: p.ClientID}
		emit(Gained, index.AddPermissions(nil, index.FromEvent(p.Permissions)), func(e *Effect) { e.Subject = subj })
	case events.ClientUpdated:
		var was []perm.Permission
		if p.Before != nil {
			was = index.AddPermissions(nil, index.FromEvent(p.Before.Permissions))
		}
		gained, lost := diff(was, index.AddPermissions(nil, index.FromEvent(p.Permissions)))
		subj := &events.Actor{Type: events.ActorClient, ID: p.ClientID}
		emit(Gained, gained, func(e *Effect) { e.Subject = subj })
		emit(Lost, lost, func(e *Effect) { e.Subject = subj })
	case events.ClientDeleted:
		if p.Before != nil {
			subj := &events.Actor{Type: events.ActorClient, ID: p.ClientID}
			emit(Lost, index.FromEvent(p.Before.Permissions), func(e *Effect) { e.Subject = subj })
		}
	case events.TokenIssued:
		subj := &events.Actor{Type: events.ActorToken, ID: p.TokenID}
		emit(Gained, index.FromEvent(p.Permissions), func(e *Effect) { e.Subject = subj })
		// A bootstrap credential's rotation ends the ones it replaces (which
		// held the same permissions).
		for _, id := range p.Replaces {
			old := &events.Actor{Type: events.ActorToken, ID: id}
			emit(Lost, index.FromEvent(p.Permissions), func(e *Effect) { e.Subject = old })
		}
	case events.TokenRevoked:
		if p.Before != nil {
			subj := &events.Actor{Type: events.ActorToken, ID: p.TokenID}
			emit(Lost, index.FromEvent(p.Before.Permissions), func(e *Effect) { e.Subject = subj })
		}
	}
	return out
}

// assignment derives an assignment's effects: the user gains the role's
// permissions in the new namespaces and loses them in namespaces the
// assignment it replaced had and this one has not.
func (es *EffectsSubscription) assignment(base Effect, a events.UserRoleAssigned, was *events.AssignmentState) []Effect {
	rf := es.roles[a.RoleID]
	if rf == nil {
		return nil
	}
	subj := &events.Actor{Type: events.ActorUser, ID: a.UserID}
	ref := &RoleRef{RoleID: a.RoleID, RoleName: rf.name, Wildcard: rf.wildcard}
	var out []Effect
	add := func(change string, where []string) {
		for _, q := range rf.perms {
			e := base
			e.Change, e.Subject, e.Role, e.Namespaces = change, subj, ref, where
			e.Permission = index.ToEvent([]perm.Permission{q})[0]
			out = append(out, e)
		}
	}
	now := nss(rf, a.AssignedNamespaces)
	if was == nil || was.RoleID != a.RoleID {
		add(Gained, now)
		return out
	}
	prev := nss(rf, was.AssignedNamespaces)
	var gained, lost []string
	for _, n := range now {
		if !slices.Contains(prev, n) {
			gained = append(gained, n)
		}
	}
	for _, n := range prev {
		if !slices.Contains(now, n) {
			lost = append(lost, n)
		}
	}
	if len(gained) > 0 {
		add(Gained, gained)
	}
	if len(lost) > 0 {
		add(Lost, lost)
	}
	return out
}

// nss returns where a role applies: nil (every namespace) for a wildcard role.
func nss(r *roleFold, assigned []string) []string {
	if r.wildcard {
		return nil
	}
	return assigned
}
