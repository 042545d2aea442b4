// Package ratelimit limits the requests of each caller: a token bucket
// (golang.org/x/time/rate) per authenticated caller (its actor type and
// id, never its secret) or, for requests without a credential, per
// remote address. Both edges (HTTP and NATS) share one Limiter, so a
// credential's limit holds across them. A nil *Limiter allows everything:
// disabled, the edges pay a nil check.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
)

// Code is the errorCode of a refused request (HTTP 429).
const Code = "rateLimited"

// RetryAfterHeader carries the seconds to wait, on an HTTP answer and on a
// NATS error reply.
const RetryAfterHeader = "Retry-After"

// DefaultMaxKeys bounds the callers the limiter remembers at once.
const DefaultMaxKeys = 100_000

// Limiter holds a token bucket per key. Buckets that have refilled are
// forgotten (they are the same as new ones), so memory follows the callers
// active in the last burst/rate seconds, at most MaxKeys of them.
type Limiter struct {
	limit rate.Limit
	burst int
	// idle is how long a bucket takes to refill from empty: an entry
	// unused for longer is a fresh bucket and is dropped.
	idle    time.Duration
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// New returns a limiter allowing perSecond requests a second per key with
// bursts of burst (at least 1; 0 means ceil(perSecond)). perSecond <= 0
// returns nil: no limit.
func New(perSecond float64, burst int) *Limiter {
	if perSecond <= 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
		return nil
	}
	if burst <= 0 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	idle := time.Duration(float64(burst) / perSecond * float64(time.Second))
	return &Limiter{
		limit: rate.Limit(perSecond), burst: burst, idle: max(idle, time.Second),
		maxKeys: DefaultMaxKeys, now: time.Now, buckets: map[string]*bucket{},
	}
}

// Rate and Burst are the limiter's settings.
func (l *Limiter) Rate() float64 { return float64(l.limit) }

// Burst is the bucket size.
func (l *Limiter) Burst() int { return l.burst }

// Allow takes a token of key's bucket. When there is none it returns
// false and how long until there is one.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		l.sweep(now)
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if wait > 0 {
		r.CancelAt(now) // a refused request spends nothing
	}
	l.mu.Unlock()
	return wait <= 0, wait
}

// sweep forgets refilled buckets, at most once per idle period, or when the
// map is full; a map still full after that is cleared (its callers start
// with full buckets: the limiter errs on the side of serving). l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	full := len(l.buckets) >= l.maxKeys
	if !full && now.Sub(l.lastSweep) < l.idle {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.used) >= l.idle {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.maxKeys {
		clear(l.buckets)
	}
}

// Len is the number of buckets held (for tests).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// CallerKey is the key of an authenticated caller: its actor type and id
// (a token's: its owner's).
func CallerKey(c events.Caller) string {
	if c.OnBehalfOf != nil {
		// A token acts for its owner: every token of one owner (and the
		// owner's own credential) share one allowance, so issuing more
		// tokens buys no more requests.
		return c.OnBehalfOf.Type + ":" + c.OnBehalfOf.ID
	}
	return c.Type + ":" + c.ID
}

// AddrKey is the key of a request without a credential: its remote host
// (an IPv6 address by its /64, which one client usually holds whole).
func AddrKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		host = ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return "addr:" + host
}

// Error is a refused request: the API's error (429, errorCode
// rateLimited) and how long to wait.
type Error struct {
	API        *api.Error
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.API.Message }

// Unwrap is the API error, for api.ErrorOf.
func (e *Error) Unwrap() error { return e.API }

// Seconds is Retry-After's value: the wait rounded up to whole seconds, at
// least 1.
func (e *Error) Seconds() int { return max(1, int(math.Ceil(e.RetryAfter.Seconds()))) }

// Check takes a token of key's bucket and returns nil, or the *Error to
// answer.
func (l *Limiter) Check(key string) error {
	ok, wait := l.Allow(key)
	if ok {
		return nil
	}
	e := &Error{RetryAfter: wait}
	e.API = api.Errorf(http.StatusTooManyRequests, Code,
		"too many requests from this caller: the limit is %s requests a second (bursts of %d); retry in %d s (Retry-After)",
		strconv.FormatFloat(float64(l.limit), 'f', -1, 64), l.burst, e.Seconds())
	return e
}

// RetryAfter is the Retry-After value (seconds) of a rate-limit error
// anywhere in err's chain.
func RetryAfter(err error) (string, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return "", false
	}
	return strconv.Itoa(e.Seconds()), true
}

// String describes the limit.
func (l *Limiter) String() string {
	if l == nil {
		return "off"
	}
	return fmt.Sprintf("%g/s burst %d", float64(l.limit), l.burst)
}
