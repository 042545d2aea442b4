package ratelimit

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/api"
)

// clock is a settable time for a limiter.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newAt(t *testing.T, perSecond float64, burst int) (*Limiter, *clock) {
	t.Helper()
	l := New(perSecond, burst)
	require.NotNil(t, l)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	l.now = c.now
	return l, c
}

func TestOffIsNil(t *testing.T) {
	assert.Nil(t, New(0, 10))
	assert.Nil(t, New(-1, 10))
	var l *Limiter
	assert.Equal(t, "off", l.String())
}

func TestBurstThenRefused(t *testing.T) {
	l, c := newAt(t, 2, 3)
	for i := range 3 {
		ok, _ := l.Allow("user:a")
		require.True(t, ok, "request %d of the burst", i)
	}
	ok, wait := l.Allow("user:a")
	require.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait)
	// A refused request spends nothing: the token is back after 0.5s.
	ok, _ = l.Allow("user:a")
	require.False(t, ok)
	c.t = c.t.Add(500 * time.Millisecond)
	ok, _ = l.Allow("user:a")
	assert.True(t, ok)
	// Another key has its own bucket.
	ok, _ = l.Allow("user:b")
	assert.True(t, ok)
}

func TestDefaultBurstIsTheRateRoundedUp(t *testing.T) {
	assert.Equal(t, 3, New(2.5, 0).Burst())
	assert.Equal(t, 1, New(0.1, 0).Burst())
}

func TestCheckError(t *testing.T) {
	l, _ := newAt(t, 0.25, 1)
	require.NoError(t, l.Check("user:a"))
	err := l.Check("user:a")
	require.Error(t, err)
	e, internal := api.ErrorOf(err)
	assert.False(t, internal)
	assert.Equal(t, http.StatusTooManyRequests, e.Status)
	assert.Equal(t, Code, e.Code)
	assert.Contains(t, e.Message, "retry in 4 s")
	secs, ok := RetryAfter(err)
	assert.True(t, ok)
	assert.Equal(t, "4", secs)
	_, ok = RetryAfter(errors.New("other"))
	assert.False(t, ok)
	// A wait under a second is still Retry-After: 1.
	assert.Equal(t, 1, (&Error{RetryAfter: 10 * time.Millisecond}).Seconds())
}

func TestIdleBucketsAreForgotten(t *testing.T) {
	l, c := newAt(t, 10, 10) // refills in 1s
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k)
	}
	assert.Equal(t, 3, l.Len())
	c.t = c.t.Add(2 * time.Second)
	l.Allow("d") // a new key sweeps
	assert.Equal(t, 1, l.Len())
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	l, _ := newAt(t, 1, 1)
	l.maxKeys = 100
	for i := range 1000 {
		l.Allow(string(rune('a'+i%26)) + string(rune(i)))
		require.LessOrEqual(t, l.Len(), 100)
	}
}

func TestKeys(t *testing.T) {
	assert.Equal(t, "client:c1", CallerKey(events.Caller{Actor: events.Actor{Type: "client", ID: "c1"}}))
	assert.Equal(t, "addr:192.0.2.7", AddrKey("192.0.2.7:5555"))
	assert.Equal(t, "addr:2001:db8:1:2::/64", AddrKey("[2001:db8:1:2:3:4:5:6]:443"))
	assert.Equal(t, AddrKey("[2001:db8:1:2::9]:1"), AddrKey("[2001:db8:1:2::1]:2"), "one /64, one bucket")
	assert.Equal(t, "addr:garbage", AddrKey("garbage"))
}

// TestConcurrent: many goroutines on a few keys take exactly the burst
// each (the clock does not move), with the race detector watching.
func TestConcurrent(t *testing.T) {
	l, _ := newAt(t, 1, 50)
	const keys, workers, each = 4, 16, 40
	allowed := make(chan int, workers)
	for w := range workers {
		go func() {
			n := 0
			for i := range each {
				if ok, _ := l.Allow(string(rune('a' + (w+i)%keys))); ok {
					n++
				}
			}
			allowed <- n
		}()
	}
	total := 0
	for range workers {
		total += <-allowed
	}
	assert.Equal(t, keys*50, total)
}
