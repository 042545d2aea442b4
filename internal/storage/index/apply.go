package index

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	gojson "github.com/goccy/go-json"

	"github.com/grantlog/grantlog/events"
)

func setJSON(b *writer, k []byte, v any) error {
	raw, err := gojson.Marshal(v)
	if err != nil {
		return fmt.Errorf("index: encode %q: %w", k, err)
	}
	if err := b.Set(k, raw, nil); err != nil {
		return fmt.Errorf("index: batch set: %w", err)
	}
	return nil
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// Apply applies events in order, in one atomic Pebble batch together with the
// new applied revision. Events at or below the applied revision are skipped,
// so re-delivery after a crash never applies an event twice. An event that
// cannot apply to the current state (an assignment of an unknown role, say)
// changes nothing but the namespace's last revision, and is logged. Apply
// returns an error only when the store itself fails; the store then refuses
// further writes and must be reopened.
func (s *Store) Apply(evs []events.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	if s.mu.failed != nil {
		return s.mu.failed
	}
	applied := s.applied.Load()
	s.w.reset(s.db, evs, applied)
	defer s.w.close()
	if s.touched == nil {
		s.touched = map[string][32]byte{}
	}
	clear(s.touched)
	n := 0
	var appliedAt int64
	for i := range evs {
		ev := &evs[i]
		if ev.Revision <= applied {
			continue
		}
		appliedAt = 0 // unknown for an event without an instant
		if !ev.OccurredAt.IsZero() {
			appliedAt = ev.OccurredAt.UnixNano()
		}
		if err := s.applyOne(&s.w, ev); err != nil {
			s.mu.failed = err
			return err
		}
		if err := s.keyed.note(&s.w, ev); err != nil {
			s.mu.failed = err
			return err
		}
		applied = ev.Revision
		n++
	}
	if n == 0 {
		return nil
	}
	for ns, hash := range s.touched {
		info := s.mu.st.ns[ns]
		info.LastHash = ""
		if hash != ([32]byte{}) {
			info.LastHash = hex.EncodeToString(hash[:])
		}
		if err := setJSON(&s.w, nsInfoKey(ns), info); err != nil {
			s.mu.failed = err
			return err
		}
	}
	if err := s.w.Set(keyApplied, u64(applied), nil); err != nil {
		s.mu.failed = fmt.Errorf("index: batch: %w", err)
		return s.mu.failed
	}
	if err := s.w.Set(keyUsers, u64(uint64(s.mu.st.users.len())), nil); err != nil {
		s.mu.failed = fmt.Errorf("index: batch: %w", err)
		return s.mu.failed
	}
	if err := s.w.Set(keyAppliedAt, u64(uint64(appliedAt)), nil); err != nil { //nolint:gosec // the bits of a Unix time, read back as int64
		s.mu.failed = fmt.Errorf("index: batch: %w", err)
		return s.mu.failed
	}
	if err := s.w.commit(); err != nil {
		s.mu.failed = err
		return s.mu.failed
	}
	s.applied.Store(applied)
	s.appliedAt.Store(appliedAt)
	s.broadcast()
	return nil
}

// applyOne folds one event into the state and the batch, and marks its
// namespace as touched. It returns an error only for storage failures.
func (s *Store) applyOne(b *writer, ev *events.Event) error {
	st := &s.mu.st
	if _, refused := ev.Data.(Refused); refused && ev.Namespace == "" {
		return nil // no namespace to record it in: only the applied revision moves
	}
	info := st.ns[ev.Namespace]
	if info == nil {
		info = &NamespaceInfo{Name: ev.Namespace}
		st.ns[ev.Namespace] = info
	}
	info.LastRevision = ev.Revision // LastHash: see Apply
	info.Chained = true

	var err error
	switch p := ev.Data.(type) {
	case events.RoleCreated:
		err = s.roleCreated(b, ev, p)
	case events.RoleUpdated:
		err = s.withRole(b, ev, p.RoleID, func(r *Role) bool {
			if other := st.roleNames[strings.ToLower(p.RoleName)]; other != nil && other != r {
				s.skip(ev, "role name already taken")
				return false
			}
			delete(st.roleNames, strings.ToLower(r.Name))
			r.Name, r.Admin, r.Wildcard, r.Description = p.RoleName, p.AdminRole, p.IsWildcard, p.Description
			st.roleNames[strings.ToLower(r.Name)] = r
			return true
		})
	case events.RolePermissionsAdded:
		err = s.withRole(b, ev, p.RoleID, func(r *Role) bool {
			ps, _ := FoldRolePermissions(r.Permissions, p)
			r.setPermissions(ps)
			return true
		})
	case events.RolePermissionsRemoved:
		err = s.withRole(b, ev, p.RoleID, func(r *Role) bool {
			ps, _ := FoldRolePermissions(r.Permissions, p)
			r.setPermissions(ps)
			return true
		})
	case events.RolePermissionsReplaced:
		err = s.withRole(b, ev, p.RoleID, func(r *Role) bool {
			ps, _ := FoldRolePermissions(r.Permissions, p)
			r.setPermissions(ps)
			return true
		})
	case events.RoleDeleted:
		err = s.roleDeleted(b, ev, p.RoleID)
	case events.UserRoleAssigned:
		err = s.assigned(b, ev, p)
	case events.UserRolesAssignedBatch:
		for _, a := range p.Assignments {
			if err = s.assigned(b, ev, a); err != nil {
				break
			}
		}
	case events.UserRoleUnassigned:
		err = s.unassign(b, ev.Namespace, p.UserID, p.RoleID)
	case events.NamespaceCreated:
		info.Explicit, info.Parent, info.DefaultRoles = true, p.Parent, p.DefaultRoles
		if p.Parent != "" {
			st.parents[ev.Namespace] = p.Parent
		} else {
			delete(st.parents, ev.Namespace)
		}
	case events.NamespaceDeleted:
		err = s.namespaceDeleted(b, ev.Namespace)
		if err == nil {
			err = s.deleteNamespacePrincipals(b, ev.Namespace)
		}
		info.Explicit, info.Parent, info.DefaultRoles = false, "", nil
		delete(st.parents, ev.Namespace)
	case events.LogSigningKeyAdded:
		err = s.signingKeyAdded(b, ev, p)
	case events.TransactionCommitted:
		// Changes no state: its place in the platform namespace's chain.
	case Refused:
		// Refused by the projector (which logged it): its Hash is the
		// namespace's chain head, kept as it was.
	case events.ClientCreated, events.ClientUpdated, events.ClientDeleted,
		events.TokenIssued, events.TokenRevoked,
		events.ScopeDefined, events.ScopeDeleted, events.EndpointRegistered, events.EndpointDeleted,
		events.EndpointsRegisteredBatch:
		err = s.applyPrincipal(b, ev)
	default:
		s.skip(ev, "event type not indexed")
	}
	if err != nil {
		return err
	}
	// The namespace record is written once per batch (see Apply).
	s.touched[ev.Namespace] = ev.Hash
	return nil
}

func (s *Store) skip(ev *events.Event, why string) {
	s.log.Warn("index: event changes nothing", "revision", ev.Revision, "type", ev.Type,
		"namespace", ev.Namespace, "aggregate", ev.AggregateID, "why", why)
}

func (s *Store) roleCreated(b *writer, ev *events.Event, p events.RoleCreated) error {
	st := &s.mu.st
	if st.roles[p.RoleID] != nil {
		s.skip(ev, "role already exists")
		return nil
	}
	if st.roleNames[strings.ToLower(p.RoleName)] != nil {
		s.skip(ev, "role name already taken")
		return nil
	}
	r := &Role{
		ID: p.RoleID, Name: p.RoleName, Admin: p.AdminRole, Wildcard: p.IsWildcard,
		Description: p.Description, CreatedAt: ev.OccurredAt, UpdatedAt: ev.OccurredAt,
		Revision: ev.Revision,
	}
	ps, _ := FoldRolePermissions(nil, p)
	r.setPermissions(ps)
	st.addRole(r)
	st.roleNames[strings.ToLower(r.Name)] = r
	return setJSON(b, roleKey(events.PlatformNamespace, r.ID), r.record())
}

// withRole applies fn to the role and stores it when fn reports a change.
func (s *Store) withRole(b *writer, ev *events.Event, roleID string, fn func(*Role) bool) error {
	r := s.mu.st.roles[roleID]
	if r == nil {
		s.skip(ev, "unknown role")
		return nil
	}
	if !fn(r) {
		return nil
	}
	r.UpdatedAt, r.Revision = ev.OccurredAt, ev.Revision
	return setJSON(b, roleKey(events.PlatformNamespace, r.ID), r.record())
}

func (s *Store) roleDeleted(b *writer, ev *events.Event, roleID string) error {
	st := &s.mu.st
	r := st.roles[roleID]
	if r == nil {
		s.skip(ev, "unknown role")
		return nil
	}
	// End every assignment of the role: walk the reverse index of each
	// namespace (an indexed batch sees this batch's own writes).
	for ns := range st.ns {
		var users []string
		lower := memberPrefix(ns, roleID)
		iter, err := b.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
		if err != nil {
			return fmt.Errorf("index: members of %s: %w", roleID, err)
		}
		for iter.First(); iter.Valid(); iter.Next() {
			users = append(users, string(iter.Key()[len(lower):]))
		}
		if err := iter.Close(); err != nil {
			return fmt.Errorf("index: members of %s: %w", roleID, err)
		}
		for _, u := range users {
			if err := s.unassign(b, ns, u, roleID); err != nil {
				return err
			}
		}
	}
	delete(st.roles, roleID)
	st.roleByNum[r.num] = nil
	delete(st.roleNames, strings.ToLower(r.Name))
	st.deadRoles[roleID] = ev.Revision
	if err := b.Set(deadRoleKey(roleID), binary.BigEndian.AppendUint64(nil, ev.Revision), nil); err != nil {
		return err
	}
	if err := b.Delete(roleKey(events.PlatformNamespace, roleID), nil); err != nil {
		return fmt.Errorf("index: batch delete: %w", err)
	}
	return nil
}

func (s *Store) assigned(b *writer, ev *events.Event, p events.UserRoleAssigned) error {
	st := &s.mu.st
	r := st.roles[p.RoleID]
	if r == nil {
		s.skip(ev, "assignment of unknown role")
		return nil
	}
	nb, na := fromOpt(p.NotBefore), fromOpt(p.NotAfter)
	var off int
	s.val, off = appendAssignmentRecord(s.val[:0], ev.Revision, ev.OccurredAt, nb, na, p.AssignedNamespaces)
	e := entry{ns: ev.Namespace, role: r, rev: ev.Revision, at: packTime(ev.OccurredAt),
		win: window{notBefore: nb, notAfter: na}, nssRaw: s.val[off:], haveRaw: true}
	if err := st.putAssignment(p.UserID, &e); err != nil {
		return fmt.Errorf("index: assignment record: %w", err)
	}
	s.key = appendAssignmentKey(s.key[:0], ev.Namespace, p.UserID, p.RoleID)
	if err := b.Set(s.key, s.val, nil); err != nil {
		return fmt.Errorf("index: batch set: %w", err)
	}
	s.key = appendMemberKey(s.key[:0], ev.Namespace, p.RoleID, p.UserID)
	if err := b.Set(s.key, nil, nil); err != nil {
		return fmt.Errorf("index: batch set: %w", err)
	}
	return nil
}

func (s *Store) unassign(b *writer, ns, userID, roleID string) error {
	s.mu.st.removeAssignment(ns, userID, roleID)
	s.key = appendAssignmentKey(s.key[:0], ns, userID, roleID)
	if err := b.Delete(s.key, nil); err != nil {
		return fmt.Errorf("index: batch delete: %w", err)
	}
	s.key = appendMemberKey(s.key[:0], ns, roleID, userID)
	if err := b.Delete(s.key, nil); err != nil {
		return fmt.Errorf("index: batch delete: %w", err)
	}
	return nil
}

func (s *Store) namespaceDeleted(b *writer, ns string) error {
	lower := kindPrefix(ns, kindAssignment)
	iter, err := b.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("index: assignments of %s: %w", ns, err)
	}
	var keys []parsedKey
	for iter.First(); iter.Valid(); iter.Next() {
		pk, err := parseKey(iter.Key())
		if err != nil {
			_ = iter.Close()
			return err
		}
		keys = append(keys, pk)
	}
	if err := iter.Close(); err != nil {
		return fmt.Errorf("index: assignments of %s: %w", ns, err)
	}
	for _, pk := range keys {
		if err := s.unassign(b, ns, pk.a, pk.b); err != nil {
			return err
		}
	}
	return nil
}
