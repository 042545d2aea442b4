package index

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	gojson "github.com/goccy/go-json"

	"github.com/grantlog/grantlog/events"
)

func (s *Store) load() error {
	if v, err := s.get(keyLayout); err != nil {
		return err
	} else if v == nil || string(v) == layoutVersionV1 {
		// A new index, or one of layout 1: this binary reads its JSON
		// assignment records, and writes binary ones from now on, which
		// binaries of layout 1 cannot read.
		b := s.db.NewBatch()
		_ = b.Set(keyLayout, []byte(layoutVersion), nil)
		if v == nil {
			_ = b.Set(keyPebbleFormat, []byte(strconv.FormatUint(uint64(s.db.FormatMajorVersion()), 10)), nil)
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("index: init: %w", err)
		}
	} else if string(v) != layoutVersion {
		return fmt.Errorf("%w %q (this binary reads %q)", ErrLayout, v, layoutVersion)
	}
	if v, err := s.get(keyApplied); err != nil {
		return err
	} else if len(v) == 8 {
		s.applied.Store(binary.BigEndian.Uint64(v))
	}
	if v, err := s.get(keyAppliedAt); err != nil {
		return err
	} else if len(v) == 8 {
		s.appliedAt.Store(int64(binary.BigEndian.Uint64(v))) //nolint:gosec // written from an int64
	}

	st := newState()
	if v, err := s.get(keyUsers); err != nil {
		return err
	} else if len(v) == 8 {
		// Size the users table once instead of growing it through a million
		// moves (a hint: capped, so a corrupt value cannot exhaust memory).
		st.users.reserve(int(min(binary.BigEndian.Uint64(v), 1<<26))) //nolint:gosec // capped
	}
	// Roles first: assignments point to them.
	rolePrefix := kindPrefix(events.PlatformNamespace, kindRole)
	if err := s.scan(rolePrefix, prefixEnd(rolePrefix), func(iter *pebble.Iterator) error {
		pk, err := parseKey(iter.Key())
		if err != nil {
			return fmt.Errorf("index: load key %q: %w", iter.Key(), err)
		}
		var rec roleRecord
		if err := gojson.Unmarshal(iter.Value(), &rec); err != nil {
			return fmt.Errorf("index: load role %s: %w", pk.a, err)
		}
		r := roleFromRecord(rec)
		st.addRole(r)
		st.roleNames[strings.ToLower(r.Name)] = r
		return nil
	}); err != nil {
		return err
	}
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte("n/"), UpperBound: []byte("n0")})
	if err != nil {
		return fmt.Errorf("index: load: %w", err)
	}
	defer iter.Close()
	var run loadRun
	// Layout 1's JSON records are rewritten in binary as they are read, so
	// that the next open reads binary only. A crash before a rewrite is
	// committed leaves JSON records, which read as well.
	var upgrade *pebble.Batch
	run.rewrite = func(k, v []byte) error {
		if upgrade == nil {
			upgrade = s.db.NewBatch()
		}
		if err := upgrade.Set(k, v, nil); err != nil {
			return err
		}
		if upgrade.Len() < 4<<20 {
			return nil
		}
		err := upgrade.Commit(pebble.NoSync)
		_ = upgrade.Close()
		upgrade = nil
		return err
	}
	defer func() {
		if upgrade != nil {
			_ = upgrade.Close()
		}
	}()
	chunks := make(chan *loadChunk, 4)
	free := make(chan *loadChunk, 6)
	stop := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		readForLoad(iter, chunks, free, stop)
	}()
	defer func() {
		close(stop) // ends a reader still sending
		<-read      // the iterator is closed after it
	}()
	fold := func(k, v []byte) error {
		if ns, user, role, ok := splitAssignmentKey(k); ok {
			if err := st.loadAssignment(&run, k, ns, user, role, v); err != nil {
				return fmt.Errorf("index: load %q: %w", k, err)
			}
			return nil
		}
		pk, err := parseKey(k)
		if err != nil {
			return fmt.Errorf("index: load key %q: %w", k, err)
		}
		switch pk.kind {
		case kindInfo:
			var info NamespaceInfo
			if err := gojson.Unmarshal(v, &info); err != nil {
				return fmt.Errorf("index: load namespace %s: %w", pk.ns, err)
			}
			st.ns[pk.ns] = &info
			if info.Parent != "" {
				st.parents[pk.ns] = info.Parent
			}
		case kindClient, kindToken, kindScope, kindEndpoint:
			if err := st.loadPrincipal(pk, v); err != nil {
				return fmt.Errorf("index: load %q: %w", k, err)
			}
		}
		return nil
	}
	for c := range chunks {
		if err := c.each(fold); err != nil {
			return err
		}
		if c.err != nil {
			return c.err
		}
		select {
		case free <- c:
		default:
		}
	}
	run.flush(&st)
	if upgrade != nil {
		if err := upgrade.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("index: rewrite layout 1 records: %w", err)
		}
	}
	s.mu.st = st
	return nil
}

// loadAssignment reads the assignment record at key into run (flushing the
// run of the previous user first).
func (st *state) loadAssignment(run *loadRun, key, ns, user, roleID, value []byte) error {
	r := run.role
	if r == nil || r.ID != string(roleID) {
		if r = st.roles[string(roleID)]; r == nil {
			return nil // cannot happen: role deletion removes its assignments in the same batch
		}
		run.role = r
	}
	if run.ns != string(ns) {
		run.nsID = st.names.idBytes(ns)
		run.ns = st.names.list[run.nsID] // keys come namespace by namespace
	}
	rec, err := decodeAssignmentRecord(value)
	if err != nil {
		return err
	}
	if rec.json {
		var off int
		run.buf, off = appendAssignmentRecord(run.buf[:0], rec.rev, rec.assignedAt, rec.notBefore, rec.notAfter, rec.namespaces)
		if err := run.rewrite(key, run.buf); err != nil {
			return fmt.Errorf("rewrite in binary: %w", err)
		}
		rec.raw = run.buf[off:]
	}
	e := entry{ns: run.ns, nsID: run.nsID + 1, role: r, rev: rec.rev, at: packTime(rec.assignedAt),
		win: window{notBefore: rec.notBefore, notAfter: rec.notAfter}, nssRaw: rec.raw, haveRaw: true}
	return run.add(st, user, &e)
}
