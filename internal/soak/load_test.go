package soak_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/perm"
)

// sent is one logical command a writer sent (one Idempotency-Key, however
// many attempts): acknowledged with a revision, or not.
type sent struct {
	key      string
	op       string
	roleID   string // for role.create: the role id the request named
	acked    bool
	refused  bool // a retry (attempt 2 or later) was refused with a 4xx
	revision uint64
	attempts int
	took     time.Duration // from the first attempt to the answer given up or acknowledged
	lastErr  string
}

// stats are counters shared by every goroutine of the load.
type stats struct {
	mu        sync.Mutex
	sent      []sent
	errCodes  map[string]int // final errors of unacknowledged commands
	retryErrs map[string]int // errors that were retried
	findings  []string       // wrong answers: the soak fails
	// refusedRetries are retries refused with a 4xx (first examples).
	refusedRetries []string
	refusedCount   int

	checksAnswered  map[string]*atomic.Int64 // by transport
	checksErrors    map[string]*atomic.Int64
	checksVerified  atomic.Int64 // answers compared with the writer's model
	batchesAnswered atomic.Int64
}

func newStats() *stats {
	s := &stats{errCodes: map[string]int{}, retryErrs: map[string]int{},
		checksAnswered: map[string]*atomic.Int64{}, checksErrors: map[string]*atomic.Int64{}}
	for _, tr := range transports {
		s.checksAnswered[tr] = &atomic.Int64{}
		s.checksErrors[tr] = &atomic.Int64{}
	}
	return s
}

func (s *stats) finding(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.findings = append(s.findings, fmt.Sprintf(format, args...))
}

func (s *stats) refusedRetry(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusedCount++
	if len(s.refusedRetries) < 10 {
		s.refusedRetries = append(s.refusedRetries, msg)
	}
}

func (s *stats) record(c sent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, c)
	if !c.acked {
		s.errCodes[c.op+": "+c.lastErr]++
	}
}

func (s *stats) retried(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryErrs[errCode(err)]++
}

// errCode names an error for the counters: the API's errorCode, or the
// kind of transport failure.
func errCode(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return fmt.Sprintf("%d %s", ae.Status, ae.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "transport error"
}

// retryable: the command may be sent again with the same key (the node was
// down or busy, or the outcome is unknown). A 4xx refusal is final.
func retryable(err error) bool {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return true
	}
	switch {
	case ae.Status >= 500, ae.Status == http.StatusTooManyRequests:
		return true
	case ae.Status == http.StatusConflict && ae.Code == "concurrentModification":
		return true
	case errors.Is(err, client.ErrWrongNode):
		return true
	}
	return false
}

// The check transports.
const (
	trHTTP     = "http"
	trNATS     = "nats"
	trFollower = "follower"
)

var transports = []string{trHTTP, trNATS, trFollower}

// cluster is what the load talks to.
type cluster struct {
	writers  []*client.Client // command nodes (HTTP)
	checkers []*client.Client // check nodes (HTTP)
	nats     *client.NATSClient
	follower *client.Follower
}

func (c *cluster) checker(tr string, rng *rand.Rand) client.Checker {
	switch tr {
	case trNATS:
		return c.nats
	case trFollower:
		return c.follower
	}
	return c.checkers[rng.IntN(len(c.checkers))]
}

// Assignment states in a writer's model.
const (
	absent = iota
	present
	unsure // a command about it was not acknowledged
)

type assignKey struct{ user, ns, role string }

type roleModel struct {
	id     string
	extras map[int]int // EXTRA<k> resource → absent, present or unsure
}

// writer sends commands of its own roles and users (no other writer touches
// them), so it knows what each check must answer.
type writer struct {
	id      int
	seed    uint64
	rng     *rand.Rand
	cl      *cluster
	st      *stats
	retryBy time.Duration

	// target is the command node the writer sends to; it moves to the
	// other one when a send fails (see send).
	target int
	random bool // every attempt to a random command node
	pace   time.Duration
	// abandon is the percentage of commands whose first attempt is
	// abandoned after 1-20ms.
	abandon int

	n      int
	roles  []*roleModel
	assign map[assignKey]int
	// tainted (user/ns) pairs had a command that was not acknowledged:
	// their checks are not verified.
	tainted map[string]bool
}

const (
	namespaces = 4
	usersPer   = 12
	extras     = 6
)

var soakBase = perm.Permission{Resource: "NAMESPACE:{namespace}:ITEM", Action: perm.Read | perm.Create}

func newWriter(id int, seed uint64, cl *cluster, st *stats, retryBy time.Duration) *writer {
	return &writer{id: id, seed: seed, rng: rand.New(rand.NewPCG(seed, uint64(id))), cl: cl, st: st, retryBy: retryBy,
		target: id % len(cl.writers), assign: map[assignKey]int{}, tainted: map[string]bool{}}
}

// send sends one command with a fresh Idempotency-Key, retrying with the
// same key on every error that may be transient, for up to retryBy.
func (w *writer) send(op, roleID string, do func(ctx context.Context, c *client.Client, opt client.CallOption) (uint64, error)) sent {
	w.n++
	s := sent{key: fmt.Sprintf("soak-%d-w%d-%d", w.seed, w.id, w.n), op: op, roleID: roleID}
	opt := client.WithIdempotencyKey(s.key)
	begin := time.Now()
	deadline := begin.Add(w.retryBy)
	backoff := 50 * time.Millisecond
	for {
		s.attempts++
		if w.random {
			w.target = w.rng.IntN(len(w.cl.writers))
		}
		c := w.cl.writers[w.target]
		timeout := 8 * time.Second
		if s.attempts == 1 && w.rng.IntN(100) < w.abandon {
			// Give up on the answer almost at once: the command may or
			// may not be stored, and is retried with the same key.
			timeout = time.Duration(1+w.rng.IntN(20)) * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		rev, err := do(ctx, c, opt)
		cancel()
		if err == nil {
			s.acked, s.revision = true, rev
			break
		}
		s.lastErr = errCode(err)
		if !retryable(err) {
			// The writer sends only what its model allows: a refusal is
			// either a bug, or an earlier attempt that was stored and is
			// now answered as a new request would be.
			if s.attempts == 1 {
				w.st.finding("%s (key %s) refused on its first attempt: %v", op, s.key, err)
			} else {
				s.refused = true
				w.st.refusedRetry(fmt.Sprintf("%s (key %s) refused on attempt %d: %v", op, s.key, s.attempts, err))
			}
			break
		}
		if time.Now().After(deadline) {
			break
		}
		w.st.retried(err)
		// Try the other command node. The writer stays with the node that
		// answers: a node that acknowledged a command has applied every
		// earlier one, so the next command is decided on a state that
		// holds all of this writer's acknowledged commands.
		w.target = (w.target + 1) % len(w.cl.writers)
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
	s.took = time.Since(begin)
	w.st.record(s)
	if w.pace > 0 {
		time.Sleep(w.pace)
	}
	return s
}

func (w *writer) user(i int) string { return fmt.Sprintf("w%du%d", w.id, i) }
func ns(i int) string               { return fmt.Sprintf("soak%d", i) }

// step sends one command chosen at random among those the model allows.
func (w *writer) step() {
	live := w.roles
	r := w.rng.IntN(100)
	switch {
	case len(live) < 2 || r < 8:
		w.createRole()
	case r < 50:
		w.assignOne()
	case r < 70:
		w.unassignOne()
	case r < 83:
		w.changeExtra(true)
	case r < 93:
		w.changeExtra(false)
	case len(live) > 3:
		w.deleteRole()
	default:
		w.assignOne()
	}
}

func (w *writer) createRole() {
	id := fmt.Sprintf("soak-%d-w%d-r%d", w.seed, w.id, w.n+1)
	name := fmt.Sprintf("Soak%dW%dR%d", w.seed, w.id, w.n+1) // role names are letters and digits
	in := client.CreateRole{RoleID: id, RoleName: name, Permissions: []perm.Permission{soakBase}}
	s := w.send("role.create", id, func(ctx context.Context, c *client.Client, opt client.CallOption) (uint64, error) {
		role, err := c.CreateRole(ctx, in, opt)
		if err == nil && role.RoleID != id {
			w.st.finding("role.create key %s: answered role id %q, asked for %q", w.keyOf(), role.RoleID, id)
		}
		return role.Revision, err
	})
	if s.acked {
		w.roles = append(w.roles, &roleModel{id: id, extras: map[int]int{}})
	}
	// An unacknowledged role may exist: it is never used, so it changes
	// no check the writer verifies.
}

func (w *writer) keyOf() string { return fmt.Sprintf("soak-%d-w%d-%d", w.seed, w.id, w.n) }

func (w *writer) pick() *roleModel { return w.roles[w.rng.IntN(len(w.roles))] }

func (w *writer) assignOne() {
	role := w.pick()
	k := assignKey{w.user(w.rng.IntN(usersPer)), ns(w.rng.IntN(namespaces)), role.id}
	if w.assign[k] != absent {
		return
	}
	s := w.send("assign", "", func(ctx context.Context, c *client.Client, opt client.CallOption) (uint64, error) {
		return c.AssignRole(ctx, k.ns, k.user, k.role, []string{k.ns}, opt)
	})
	w.settle(k, s, present)
}

func (w *writer) unassignOne() {
	var keys []assignKey
	for k, v := range w.assign {
		if v == present {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		w.assignOne()
		return
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	k := keys[w.rng.IntN(len(keys))]
	s := w.send("unassign", "", func(ctx context.Context, c *client.Client, opt client.CallOption) (uint64, error) {
		return c.UnassignRole(ctx, k.ns, k.user, k.role, opt)
	})
	w.settle(k, s, absent)
}

// settle updates the model after an assignment command and, when it was
// acknowledged, verifies a check about it at its revision.
func (w *writer) settle(k assignKey, s sent, to int) {
	pair := k.user + "/" + k.ns
	if !s.acked {
		w.assign[k] = unsure
		w.tainted[pair] = true
		return
	}
	w.assign[k] = to
	if w.tainted[pair] {
		return
	}
	want := false
	for key, v := range w.assign {
		if key.user == k.user && key.ns == k.ns && v == present {
			want = true
		}
	}
	w.verify(k.user, k.ns, want, s.revision)
}

// changeExtra adds (or removes) an EXTRA<k> permission of a role: these
// never change what the verified checks (ITEM) answer.
func (w *writer) changeExtra(add bool) {
	role := w.pick()
	k := w.rng.IntN(extras)
	from, to := absent, present
	if !add {
		from, to = present, absent
	}
	if role.extras[k] != from {
		return
	}
	p := []perm.Permission{{Resource: fmt.Sprintf("NAMESPACE:{namespace}:EXTRA%d", k), Action: perm.Update}}
	op := "role.permissions.add"
	if !add {
		op = "role.permissions.remove"
		p[0].Action = 0
	}
	s := w.send(op, "", func(ctx context.Context, c *client.Client, opt client.CallOption) (uint64, error) {
		var role2 client.Role
		var err error
		if add {
			role2, err = c.AddPermissions(ctx, role.id, p, opt)
		} else {
			role2, err = c.RemovePermissions(ctx, role.id, p, opt)
		}
		return role2.Revision, err
	})
	if s.acked {
		role.extras[k] = to
	} else {
		role.extras[k] = unsure
	}
}

func (w *writer) deleteRole() {
	i := w.rng.IntN(len(w.roles))
	role := w.roles[i]
	s := w.send("role.delete", "", func(ctx context.Context, c *client.Client, opt client.CallOption) (uint64, error) {
		return c.DeleteRole(ctx, role.id, opt)
	})
	// Acknowledged or not, the role is not used again.
	w.roles = append(w.roles[:i], w.roles[i+1:]...)
	for k, v := range w.assign {
		if k.role != role.id {
			continue
		}
		if s.acked {
			delete(w.assign, k) // deleting a role ends its assignments
		} else if v != absent {
			w.assign[k] = unsure
			w.tainted[k.user+"/"+k.ns] = true
		}
	}
}

// verify asks one check of user in namespace at revision rev over the next
// transport and compares it with want; errors are retried for a while and
// counted, a wrong answer is a finding.
func (w *writer) verify(user, namespace string, want bool, rev uint64) {
	tr := transports[w.n%len(transports)]
	req := &client.CheckRequest{Subject: client.Subject{Type: "user", ID: user}, Namespace: namespace,
		Resource: "NAMESPACE:" + namespace + ":ITEM", Action: perm.Read, AtLeastRevision: rev}
	deadline := time.Now().Add(w.retryBy)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		res, err := w.cl.checker(tr, w.rng).Check(ctx, req)
		cancel()
		if err == nil {
			w.st.checksAnswered[tr].Add(1)
			w.st.checksVerified.Add(1)
			if res.Allowed != want || res.Revision < rev {
				w.st.finding("check over %s: user %s in %s at atLeastRevision %d answered allowed=%v at revision %d, want allowed=%v (writer %d, key %s)",
					tr, user, namespace, rev, res.Allowed, res.Revision, want, w.id, w.keyOf())
			}
			return
		}
		w.st.checksErrors[tr].Add(1)
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// background asks batches of random checks over HTTP and NATS and single
// checks of the follower until stop: load, counted, not verified.
func background(cl *cluster, st *stats, seed uint64, id, writers int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, 1000+uint64(id)))
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(20+rng.IntN(40)) * time.Millisecond):
		}
		tr := transports[i%len(transports)]
		batch := &client.BatchRequest{}
		for range 20 {
			n := ns(rng.IntN(namespaces))
			batch.Checks = append(batch.Checks, client.CheckRequest{
				Subject:   client.Subject{Type: "user", ID: fmt.Sprintf("w%du%d", rng.IntN(writers), rng.IntN(usersPer))},
				Namespace: n, Resource: "NAMESPACE:" + n + ":ITEM", Action: perm.Read})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := cl.checker(tr, rng).CheckBatch(ctx, batch)
		cancel()
		if err != nil {
			st.checksErrors[tr].Add(1)
			continue
		}
		st.batchesAnswered.Add(1)
		st.checksAnswered[tr].Add(int64(len(batch.Checks)))
	}
}
