package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	gojson "github.com/goccy/go-json"

	"github.com/grantlog/grantlog/events"
)

// Errors returned by the store.
var (
	// ErrClosed is returned by operations on a closed store.
	ErrClosed = errors.New("index: closed")
	// ErrLayout is returned by Open when the directory holds an index written
	// with another key layout; rebuild it by replaying the stream.
	ErrLayout = errors.New("index: unsupported key layout")
)

// Options configure a Store. The zero value of each field takes the default
// documented on it.
type Options struct {
	// Dir is the directory of the Pebble database. Required.
	Dir string
	// FS is the file system; default vfs.Default (the OS). Tests may use vfs.NewMem().
	FS vfs.FS
	// CacheSize is Pebble's block cache in bytes; default 16 MiB. Checks
	// never read Pebble (the index is held in memory); the cache serves
	// Open's single pass and the few reads that list from disk (members),
	// and what it holds is resident memory of every replica.
	CacheSize int64
	// MemTableSize is Pebble's memtable size in bytes; default 64 MiB (small
	// memtables stall under large projection batches).
	MemTableSize uint64
	// Logger receives index warnings (events that cannot apply); default slog.Default().
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheSize == 0 {
		o.CacheSize = 16 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Store is the permission index. See the package documentation for its
// concurrency contract.
type Store struct {
	db  *pebble.DB
	log *slog.Logger

	mu struct {
		sync.RWMutex
		st     state
		failed error
		closed bool
	}
	applied atomic.Uint64
	// touched are the namespaces of the batch being applied, each with the
	// hash of its last event in the batch (Apply's own, under mu).
	touched map[string][32]byte
	// key and val are Apply's scratch buffers for batch keys and values.
	key, val []byte
	w        writer

	notify struct {
		sync.Mutex
		ch chan struct{}
	}
}

type state struct {
	roles     map[string]*Role
	roleNames map[string]*Role // by lower-cased name
	users     map[string][]*Assignment
	ns        map[string]*NamespaceInfo
	clients   map[string]*Client
	tokens    map[string]*Token
	tokenHash map[[32]byte]*Token // by SHA-256 of the secret
	// bootstrap holds every bootstrap credential, live or revoked;
	// deadIssuers the revoked ones and the tokens that ended with them.
	bootstrap   map[string]*Token
	deadIssuers map[string]bool
	scopes      map[string]*Scope
	endpoints   map[string]*Endpoint // by service + "/" + name
	parents     map[string]string    // namespace → parent studio, for those with one
	in          *interner            // strings and lists shared by assignments
	// assignedIn counts the assignments naming each namespace in their
	// assignedNamespaces (see refAssigned; nil until the first).
	assignedIn map[string]int32
}

func newState() state {
	return state{
		roles:       map[string]*Role{},
		roleNames:   map[string]*Role{},
		users:       map[string][]*Assignment{},
		ns:          map[string]*NamespaceInfo{},
		clients:     map[string]*Client{},
		tokens:      map[string]*Token{},
		tokenHash:   map[[32]byte]*Token{},
		bootstrap:   map[string]*Token{},
		deadIssuers: map[string]bool{},
		scopes:      map[string]*Scope{},
		endpoints:   map[string]*Endpoint{},
		parents:     map[string]string{},
		in:          newInterner(),
	}
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(string, ...any) {}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}

// Open opens (creating if needed) the index in opts.Dir and loads it into
// memory.
func Open(opts Options) (*Store, error) {
	opts.ensureDefaults()
	if opts.Dir == "" {
		return nil, errors.New("index: Options.Dir is required")
	}
	if opts.FS == vfs.Default {
		if err := privateDir(opts.Dir); err != nil {
			return nil, err
		}
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	popts := &pebble.Options{
		FS:                 opts.FS,
		Cache:              cache,
		FormatMajorVersion: pebble.FormatNewest,
		MemTableSize:       opts.MemTableSize,
		Logger:             pebbleLogger{opts.Logger},
	}
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(opts.Dir, popts)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, log: opts.Logger}
	s.notify.ch = make(chan struct{})
	if err := s.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

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

	st := newState()
	if v, err := s.get(keyUsers); err != nil {
		return err
	} else if len(v) == 8 {
		// Size the users map once instead of growing it through a million
		// rehashes (a hint: capped, so a corrupt value cannot exhaust memory).
		st.users = make(map[string][]*Assignment, min(binary.BigEndian.Uint64(v), 1<<26))
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
		st.roles[r.ID] = r
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
	for valid := iter.First(); valid; {
		k := iter.Key()
		if ns, user, role, ok := splitAssignmentKey(k); ok {
			if err := st.loadAssignment(&run, k, ns, user, role, iter.Value()); err != nil {
				return fmt.Errorf("index: load %q: %w", k, err)
			}
			valid = iter.Next()
			continue
		}
		pk, err := parseKey(k)
		if err != nil {
			return fmt.Errorf("index: load key %q: %w", k, err)
		}
		switch pk.kind {
		case kindMember, kindRole:
			// The reverse index is not held in memory, and roles were read
			// first: skip the namespace's.
			valid = iter.SeekGE(prefixEnd(kindPrefix(pk.ns, pk.kind)))
			continue
		case kindInfo:
			var info NamespaceInfo
			if err := gojson.Unmarshal(iter.Value(), &info); err != nil {
				return fmt.Errorf("index: load namespace %s: %w", pk.ns, err)
			}
			st.ns[pk.ns] = &info
			if info.Parent != "" {
				st.parents[pk.ns] = info.Parent
			}
		case kindClient, kindToken, kindScope, kindEndpoint:
			if err := st.loadPrincipal(pk, iter.Value()); err != nil {
				return fmt.Errorf("index: load %q: %w", k, err)
			}
		}
		valid = iter.Next()
	}
	if err := iter.Error(); err != nil {
		return fmt.Errorf("index: load: %w", err)
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
		run.ns = st.in.bytes(ns) // keys come namespace by namespace
	}
	rec, err := decodeAssignmentRecord(value)
	if err != nil {
		return err
	}
	nss, err := st.in.namespaces(&rec)
	if err != nil {
		return err
	}
	if rec.json {
		run.buf, _ = appendAssignmentRecord(run.buf[:0], rec.rev, rec.assignedAt, rec.notBefore, rec.notAfter, nss)
		if err := run.rewrite(key, run.buf); err != nil {
			return fmt.Errorf("rewrite in binary: %w", err)
		}
	}
	if !bytes.Equal(user, run.user) {
		run.flush(st)
		run.user = append(run.user[:0], user...)
	}
	run.vals = append(run.vals, Assignment{
		Namespace: run.ns, AssignedNamespaces: nss, Revision: rec.rev,
		assignedAt: packTime(rec.assignedAt), role: r, window: newWindow(rec.notBefore, rec.notAfter),
	})
	return nil
}

// scan calls fn at each key in [lower, upper).
func (s *Store) scan(lower, upper []byte, fn func(*pebble.Iterator) error) error {
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("index: load: %w", err)
	}
	defer iter.Close()
	for iter.First(); iter.Valid(); iter.Next() {
		if err := fn(iter); err != nil {
			return err
		}
	}
	return iter.Error()
}

func (s *Store) get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("index: get %q: %w", k, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// Close closes the store. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil
	}
	s.mu.closed = true
	return s.db.Close()
}

// Applied returns the revision of the last applied event.
func (s *Store) Applied() uint64 { return s.applied.Load() }

// Changed returns a channel closed at the next change of the applied revision.
func (s *Store) Changed() <-chan struct{} {
	s.notify.Lock()
	defer s.notify.Unlock()
	return s.notify.ch
}

func (s *Store) broadcast() {
	s.notify.Lock()
	close(s.notify.ch)
	s.notify.ch = make(chan struct{})
	s.notify.Unlock()
}

// WaitApplied blocks until the store has applied revision rev or ctx ends,
// returning ctx's error in the latter case.
func (s *Store) WaitApplied(ctx context.Context, rev uint64) error {
	for {
		ch := s.Changed()
		if s.applied.Load() >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// View is a consistent read-only view of the index at one revision. It holds
// a read lock: Release it promptly, and do not use anything reached through
// it after Release.
type View struct{ s *Store }

// Acquire returns a View. Every Acquire must be paired with Release.
func (s *Store) Acquire() View {
	s.mu.RLock()
	return View{s}
}

// Release ends the view.
func (v View) Release() { v.s.mu.RUnlock() }

// Revision is the revision the view reflects.
func (v View) Revision() uint64 { return v.s.applied.Load() }

// Role returns the role with id, or nil.
func (v View) Role(id string) *Role { return v.s.mu.st.roles[id] }

// RoleByName returns the role named name (case-insensitively), or nil.
func (v View) RoleByName(name string) *Role { return v.s.mu.st.roleNames[strings.ToLower(name)] }

// Roles returns every role sorted by name.
func (v View) Roles() []*Role {
	out := make([]*Role, 0, len(v.s.mu.st.roles))
	for _, r := range v.s.mu.st.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// Assignments returns the user's assignments across all namespaces, sorted
// by namespace, then role id. The slice must not be modified.
func (v View) Assignments(userID string) []*Assignment { return v.s.mu.st.users[userID] }

// Namespace returns what the index knows of ns.
func (v View) Namespace(ns string) (NamespaceInfo, bool) {
	info, ok := v.s.mu.st.ns[ns]
	if !ok {
		return NamespaceInfo{Name: ns}, false
	}
	return *info, true
}

// Members lists the holders of role roleID in namespace order, then user id
// order, starting after cursor (a value returned as next, or "" to start),
// at most limit of them (every one when limit <= 0). next is "" when the
// list is complete.
func (v View) Members(roleID, cursor string, limit int) (members []Member, next string, err error) {
	namespaces := make([]string, 0, len(v.s.mu.st.ns))
	for ns := range v.s.mu.st.ns {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	afterNS, afterUser, _ := strings.Cut(cursor, "/")
	for _, ns := range namespaces {
		if ns < afterNS {
			continue
		}
		lower := memberPrefix(ns, roleID)
		upper := prefixEnd(lower)
		if ns == afterNS && afterUser != "" {
			lower = append(memberKey(ns, roleID, afterUser), 0)
		}
		iter, err := v.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return nil, "", fmt.Errorf("index: members: %w", err)
		}
		for iter.First(); iter.Valid(); iter.Next() {
			if limit > 0 && len(members) == limit {
				last := members[len(members)-1]
				_ = iter.Close()
				return members, last.Namespace + "/" + last.UserID, nil
			}
			pk, err := parseKey(iter.Key())
			if err != nil {
				_ = iter.Close()
				return nil, "", err
			}
			members = append(members, Member{Namespace: ns, UserID: pk.b})
		}
		if err := iter.Close(); err != nil {
			return nil, "", fmt.Errorf("index: members: %w", err)
		}
	}
	return members, "", nil
}

// Export calls fn with every key and value of the namespace-keyed index (not
// the store's metadata), in key order. With ns non-empty, only that
// namespace's keys.
func (s *Store) Export(ns string, fn func(key, value []byte) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lower, upper := []byte("n/"), []byte("n0")
	if ns != "" {
		lower = nsPrefix(ns)
		upper = prefixEnd(lower)
	}
	iter, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("index: export: %w", err)
	}
	defer iter.Close()
	for iter.First(); iter.Valid(); iter.Next() {
		if err := fn(iter.Key(), iter.Value()); err != nil {
			return err
		}
	}
	return iter.Error()
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
	for i := range evs {
		ev := &evs[i]
		if ev.Revision <= applied {
			continue
		}
		if err := s.applyOne(&s.w, ev); err != nil {
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
	if err := s.w.Set(keyUsers, u64(uint64(len(s.mu.st.users))), nil); err != nil {
		s.mu.failed = fmt.Errorf("index: batch: %w", err)
		return s.mu.failed
	}
	if err := s.w.commit(); err != nil {
		s.mu.failed = err
		return s.mu.failed
	}
	s.applied.Store(applied)
	s.broadcast()
	return nil
}

// Sync flushes the Pebble WAL to disk.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	return s.db.LogData(nil, pebble.Sync)
}
