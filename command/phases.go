package command

import (
	"sync/atomic"
	"time"
)

// Phase is a part of a command's time on this node, in the order a
// command passes them (see PhaseStats).
type Phase int

// The phases of a command.
const (
	// PhaseQueue is the wait for the namespace's command lock: another
	// command of the same namespace was being decided, appended and
	// applied.
	PhaseQueue Phase = iota
	// PhaseDecide reads the index, decides the event, encodes and signs it.
	PhaseDecide
	// PhaseAppend is the append's round trip: from the publish to the
	// stream's acknowledgement (stored, and synced to disk when the
	// stream syncs every write), through the group committer.
	PhaseAppend
	// PhaseApply is the wait, after the acknowledgement, for this node's
	// index to apply the event (read-your-writes; bounded by
	// Config.ApplyWait).
	PhaseApply
	numPhases
)

var phaseNames = [numPhases]string{"queue", "decide", "append", "apply"}

// String returns the phase's name: queue, decide, append or apply.
func (p Phase) String() string {
	if p < 0 || p >= numPhases {
		return "unknown"
	}
	return phaseNames[p]
}

// Phases lists every phase, in order.
func Phases() []Phase { return []Phase{PhaseQueue, PhaseDecide, PhaseAppend, PhaseApply} }

// PhaseTime is how often a phase was passed and the time spent in it.
type PhaseTime struct {
	Count uint64
	Total time.Duration
}

// Mean is Total / Count (zero when Count is zero).
func (t PhaseTime) Mean() time.Duration {
	if t.Count == 0 {
		return 0
	}
	return t.Total / time.Duration(t.Count) //nolint:gosec // counts stay far below 2^63
}

// Sub returns t minus an earlier reading.
func (t PhaseTime) Sub(earlier PhaseTime) PhaseTime {
	return PhaseTime{Count: t.Count - earlier.Count, Total: t.Total - earlier.Total}
}

// PhaseStats is, per phase, the time this node's single commands spent
// in it since the Service was made: where a command's latency goes. A
// command that lost an optimistic-concurrency race passes decide and
// append once per attempt. Transactions are not counted.
type PhaseStats [numPhases]PhaseTime

// Sub returns s minus an earlier reading, phase by phase.
func (s PhaseStats) Sub(earlier PhaseStats) PhaseStats {
	for p := range s {
		s[p] = s[p].Sub(earlier[p])
	}
	return s
}

type phaseCounters [numPhases]struct{ n, ns atomic.Uint64 }

// since records that phase p began at start and ends now; it returns now,
// when the next phase begins.
func (c *phaseCounters) since(p Phase, start time.Time) time.Time {
	now := time.Now()
	if c == nil {
		return now
	}
	c[p].n.Add(1)
	c[p].ns.Add(uint64(now.Sub(start))) //nolint:gosec // a monotonic difference, never negative
	return now
}

// PhaseStats returns the time single commands spent in each phase.
func (s *Service) PhaseStats() PhaseStats {
	var st PhaseStats
	if s.phases == nil {
		return st
	}
	for p := range st {
		st[p] = PhaseTime{Count: s.phases[p].n.Load(), Total: time.Duration(s.phases[p].ns.Load())} //nolint:gosec // sums of durations
	}
	return st
}
