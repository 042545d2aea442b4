package projector

import (
	"log/slog"
	"sync"
	"time"
)

// ProgressLog returns a Config.Progress that logs a catch-up's progress
// to log at most once per every (default 5s) as time is told by now
// (default time.Now): the applied and head revisions, the percentage, the
// rate since the last line and the estimated time left; and one line when
// the head is reached, with the whole catch-up's duration and rate. A
// replay of millions of events (a replica started from zero) so says where
// it is without a line per batch. It is safe for concurrent use.
func ProgressLog(log *slog.Logger, every time.Duration, now func() time.Time) func(applied, head uint64) {
	if every <= 0 {
		every = 5 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	var (
		mu                sync.Mutex
		started, lastAt   time.Time
		first, lastRev    uint64
		reported, running bool
	)
	return func(applied, head uint64) {
		mu.Lock()
		defer mu.Unlock()
		t := now()
		if !running {
			// The first batch: its events count from the revision before it
			// is unknown; the rate counts from here.
			running, started, lastAt, first, lastRev = true, t, t, applied, applied
		}
		if applied >= head {
			if !reported {
				el := t.Sub(started)
				args := []any{"applied", applied, "head", head, "elapsed", el.Round(time.Millisecond)}
				if el > 0 && applied > first {
					args = append(args, "eventsPerSecond", int64(float64(applied-first)/el.Seconds()))
				}
				log.Info("caught up", args...)
				reported = true
			}
			return
		}
		if t.Sub(lastAt) < every {
			return
		}
		rate := float64(applied-lastRev) / t.Sub(lastAt).Seconds()
		args := []any{"applied", applied, "head", head,
			"percent", float64(int64(float64(applied)/float64(head)*1000)) / 10,
			"eventsPerSecond", int64(rate)}
		if rate > 0 {
			args = append(args, "eta", time.Duration(float64(head-applied)/rate*float64(time.Second)).Round(time.Second))
		}
		log.Info("catching up", args...)
		lastAt, lastRev = t, applied
	}
}
