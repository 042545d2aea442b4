package index

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/grantlog/grantlog/events"
)

// DefaultIdempotencyWindow is how long the index remembers commands made
// with an Idempotency-Key, by default.
const DefaultIdempotencyWindow = 24 * time.Hour

// keyedPrefix holds one record per remembered command: the key is the
// prefix and the command id (a transaction's id for a transaction), the
// value its revision and when it was accepted (unix nanoseconds), 8 bytes
// each, big endian.
var keyedPrefix = []byte("\x00keyed/")

// keyedLog remembers, for the window, the revision of each command made
// with an Idempotency-Key: a command id derived from a key is a version 5
// UUID (command.DeriveCommandID), a random one version 4. The window is
// measured in event time (the newest remembered command's acceptance
// minus the window), so every index that applied the same events
// remembers the same ones. Cost: one Pebble record and about 150 bytes of
// memory per keyed command in the window.
type keyedLog struct {
	window time.Duration
	recs   map[string]keyedRecord
	// order holds the remembered ids from order[head] on, oldest first.
	order []string
	head  int
}

type keyedRecord struct {
	rev uint64
	at  int64
}

// isKeyed reports whether id was derived from an Idempotency-Key.
func isKeyed(id string) bool { return len(id) == 36 && id[14] == '5' }

// note records ev when it ends a keyed command (or a keyed transaction),
// and forgets the records the window has passed.
func (k *keyedLog) note(b *writer, ev *events.Event) error {
	if k.window < 0 {
		return nil
	}
	id := ev.CommandID
	if ev.Tx != nil {
		if ev.TxOpen() {
			return nil
		}
		id = ev.Tx.ID
	}
	if !isKeyed(id) {
		return nil
	}
	if k.recs == nil {
		k.recs = map[string]keyedRecord{}
	}
	at := ev.OccurredAt.UnixNano()
	if _, dup := k.recs[id]; !dup {
		k.order = append(k.order, id)
	}
	k.recs[id] = keyedRecord{rev: ev.Revision, at: at}
	var v [16]byte
	binary.BigEndian.PutUint64(v[:8], ev.Revision)
	binary.BigEndian.PutUint64(v[8:], uint64(at))
	if err := b.Set(keyedKey(id), v[:], nil); err != nil {
		return err
	}
	return k.prune(b, at)
}

// prune forgets the records accepted before now minus the window.
func (k *keyedLog) prune(b *writer, now int64) error {
	horizon := now - int64(k.window)
	for k.head < len(k.order) {
		id := k.order[k.head]
		if r, ok := k.recs[id]; ok && r.at >= horizon {
			break
		}
		delete(k.recs, id)
		if err := b.Delete(keyedKey(id), nil); err != nil {
			return err
		}
		k.order[k.head] = ""
		k.head++
	}
	if k.head > 1024 && k.head > len(k.order)/2 {
		k.order = append(k.order[:0:0], k.order[k.head:]...)
		k.head = 0
	}
	return nil
}

func keyedKey(id string) []byte { return append(append([]byte(nil), keyedPrefix...), id...) }

// load reads the remembered commands.
func (k *keyedLog) load(s *Store) error {
	k.recs = map[string]keyedRecord{}
	err := s.scan(keyedPrefix, prefixEnd(keyedPrefix), func(it *pebble.Iterator) error {
		v := it.Value()
		if len(v) != 16 {
			return fmt.Errorf("index: load keyed command %q: malformed record", it.Key())
		}
		id := string(it.Key()[len(keyedPrefix):])
		k.recs[id] = keyedRecord{rev: binary.BigEndian.Uint64(v[:8]), at: int64(binary.BigEndian.Uint64(v[8:]))}
		k.order = append(k.order, id)
		return nil
	})
	slices.SortFunc(k.order, func(a, b string) int {
		ra, rb := k.recs[a].rev, k.recs[b].rev
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	return err
}

// Keyed returns the revision of the command (or transaction) with id, when
// it was made with an Idempotency-Key within the index's window.
func (v View) Keyed(id string) (uint64, bool) {
	r, ok := v.s.keyed.recs[id]
	return r.rev, ok
}

// deadRolePrefix marks the id of a deleted role (an empty value).
var deadRolePrefix = []byte("\x00deadrole/")

func deadRoleKey(id string) []byte { return append(append([]byte(nil), deadRolePrefix...), id...) }

// loadDeadRoles reads the ids of deleted roles.
func (s *Store) loadDeadRoles() error {
	return s.scan(deadRolePrefix, prefixEnd(deadRolePrefix), func(it *pebble.Iterator) error {
		// The revision of the deletion; none (0) in indexes written
		// before it was recorded.
		var rev uint64
		if v := it.Value(); len(v) == 8 {
			rev = binary.BigEndian.Uint64(v)
		}
		s.mu.st.deadRoles[string(it.Key()[len(deadRolePrefix):])] = rev
		return nil
	})
}

// RoleDeleted reports whether a role with id existed and was deleted (in
// the overlay, too): its id is never used again.
func (v View) RoleDeleted(id string) bool {
	if v.ov != nil {
		if r, ok := v.ov.roles[id]; ok && r == nil {
			return true
		}
	}
	_, ok := v.s.mu.st.deadRoles[id]
	return ok
}

// RoleDeletedAt returns the revision of the event that deleted role id,
// and whether it was deleted; the revision is 0 when the index was
// written before it recorded deletions' revisions.
func (v View) RoleDeletedAt(id string) (uint64, bool) {
	if v.ov != nil {
		if r, ok := v.ov.roles[id]; ok && r == nil {
			return 0, true
		}
	}
	rev, ok := v.s.mu.st.deadRoles[id]
	return rev, ok
}
