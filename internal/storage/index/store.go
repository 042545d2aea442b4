package index

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
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
	// IdempotencyWindow is how long, in event time, the index remembers
	// the revision of each command made with an Idempotency-Key (a retry
	// within it is answered with the command's first outcome); default
	// DefaultIdempotencyWindow, negative to remember none.
	IdempotencyWindow time.Duration
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
	if o.IdempotencyWindow == 0 {
		o.IdempotencyWindow = DefaultIdempotencyWindow
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
	// appliedAt is the occurredAt of the applied revision's event (Unix
	// nanoseconds; 0 when unknown: revision 0, or an index written
	// before it was recorded).
	appliedAt atomic.Int64
	// touched are the namespaces of the batch being applied, each with the
	// hash of its last event in the batch (Apply's own, under mu).
	touched map[string][32]byte
	// key and val are Apply's scratch buffers for batch keys and values.
	key, val []byte
	w        writer
	// keyed are the commands made with an Idempotency-Key within the
	// window (under mu; idempotency.go).
	keyed keyedLog

	notify struct {
		sync.Mutex
		ch chan struct{}
	}
}

type state struct {
	roles     map[string]*Role
	roleNames map[string]*Role // by lower-cased name
	// roleByNum are the roles by Role.num (nil: deleted), for the
	// assignment records of users (users.go).
	roleByNum []*Role
	// users are the assignment records by user id (users.go); names
	// numbers the namespaces they name.
	users     userTable
	names     names
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
	routes      routeTable           // endpoints by method and path (routes.go)
	parents     map[string]string    // namespace → parent studio, for those with one
	// deadRoles are the ids of deleted roles: never used again (a
	// namespace's default roles or a client's roles may still name one),
	// with the revision of their deletion (0 if not recorded).
	deadRoles map[string]uint64
	// buf and ids are scratch buffers of the writer (under the lock).
	buf []byte
	ids []uint32
	// assignedIn counts the assignments naming each namespace in their
	// assignedNamespaces, by the namespace's name id (names; see
	// refAssigned): a slice, not a map by name, because loading counts
	// once per assigned namespace of every assignment (at ten million
	// users, hashing the names cost 2 s of a 23 s load).
	assignedIn []int32
}

func newState() state {
	return state{
		roles:       map[string]*Role{},
		roleNames:   map[string]*Role{},
		users:       newUserTable(),
		names:       newNames(),
		ns:          map[string]*NamespaceInfo{},
		clients:     map[string]*Client{},
		tokens:      map[string]*Token{},
		tokenHash:   map[[32]byte]*Token{},
		bootstrap:   map[string]*Token{},
		deadIssuers: map[string]bool{},
		scopes:      map[string]*Scope{},
		endpoints:   map[string]*Endpoint{},
		parents:     map[string]string{},
		deadRoles:   map[string]uint64{},
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
	// Loading reads every key while compactions wait: an index restored
	// from a snapshot holds the LSM shape of the node that took it (after
	// a bulk import, a deep level 0), and its compactions took a core
	// from loading on two (on a million users they cost as much CPU as
	// the load itself). The index is reopened with compactions on once
	// it is in memory; they run while the node serves, from memory.
	popts.DisableAutomaticCompactions = true
	db, err := pebble.Open(opts.Dir, popts)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, log: opts.Logger}
	s.keyed.window = opts.IdempotencyWindow
	s.notify.ch = make(chan struct{})
	err = s.load()
	if err == nil {
		err = s.loadDeadRoles()
	}
	if err == nil {
		err = s.keyed.load(s)
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("index: close %s after loading: %w", opts.Dir, cerr)
	}
	if err != nil {
		return nil, err
	}
	popts.DisableAutomaticCompactions = false
	if s.db, err = pebble.Open(opts.Dir, popts); err != nil {
		return nil, fmt.Errorf("index: reopen %s: %w", opts.Dir, err)
	}
	return s, nil
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

// Sync flushes the Pebble WAL to disk.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	return s.db.LogData(nil, pebble.Sync)
}
