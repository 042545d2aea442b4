package soak_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
)

// TestSoakProofsCatch: the soak's proofs fail on what they exist to find: a
// command id stored twice, an acknowledged command missing from the
// stream or answered with a revision that holds another command, and a
// created role stored under another id; an unacknowledged command stored
// once or not at all passes.
func TestSoakProofsCatch(t *testing.T) {
	caller := auth.BootstrapCredential("tok-1")
	id := func(key string) string { return command.DeriveCommandID(caller, key) }
	ev := func(key, aggregate string) stored {
		return stored{msgID: id(key), env: events.Envelope{Actor: caller.Actor, OnBehalfOf: caller.OnBehalfOf,
			CommandID: id(key), AggregateID: aggregate, Type: "x.v1"}}
	}
	bySeq := map[uint64]stored{
		1: ev("k1", "a"),
		2: ev("k2", "a"),
		3: ev("k2", "a"), // stored twice
		4: ev("k5", "a"), // unacknowledged, stored once
		5: ev("k7", "other-role"),
		6: ev("k8", "a"),
	}
	byID := map[string][]uint64{}
	for seq := uint64(1); seq <= 6; seq++ {
		byID[bySeq[seq].msgID] = append(byID[bySeq[seq].msgID], seq)
	}
	st := newStats()
	st.sent = []sent{
		{key: "k1", op: "assign", acked: true, revision: 1},
		{key: "k2", op: "assign", acked: true, revision: 2},
		{key: "k3", op: "assign", acked: true, revision: 6},                         // not in the stream
		{key: "k5", op: "assign", refused: true, lastErr: "404 assignmentNotFound"}, // retry refused, stored
		{key: "k6", op: "assign"},
		{key: "k7", op: "role.create", roleID: "r7", acked: true, revision: 5},
		{key: "k8", op: "unassign", acked: true, revision: 4}, // stored at 6
	}
	rep := &soakReport{AckedByOp: map[string]int{}}
	checkSent(9, true, st, rep, bySeq, byID)

	require.Len(t, st.findings, 5, "findings: %s", strings.Join(st.findings, "\n"))
	joined := strings.Join(st.findings, "\n")
	assert.Contains(t, joined, "command id "+id("k2")+" is stored 2 times, at revisions [2 3]")
	assert.Contains(t, joined, "acknowledged assign (key k3, revision 6) is not in the stream")
	assert.Contains(t, joined, "acknowledged unassign (key k8) answered revision 4, but it is stored at [6]")
	assert.Contains(t, joined, "role.create (key k7) of role r7 stored role other-role")
	assert.Contains(t, joined, "assign (key k5) is stored at revision 4, but its retry was refused: 404 assignmentNotFound")
	assert.Equal(t, 1, rep.RefusedButStored)
	for _, f := range st.findings {
		assert.True(t, strings.HasPrefix(f, "seed 9: "), "every finding names the seed: %s", f)
	}
	assert.Equal(t, 5, rep.CommandsAcked)
	assert.Equal(t, 2, rep.Unacked)
	assert.Equal(t, 1, rep.UnackedStored)

	// Nothing wrong: no finding.
	st2 := newStats()
	st2.sent = []sent{{key: "k1", op: "assign", acked: true, revision: 1}, {key: "k5", op: "assign"}}
	checkSent(9, true, st2, &soakReport{AckedByOp: map[string]int{}}, map[uint64]stored{1: ev("k1", "a"), 2: ev("k5", "a")},
		map[string][]uint64{id("k1"): {1}, id("k5"): {2}})
	assert.Empty(t, st2.findings)

	// Not strict: the refused retry is counted, not a finding.
	st3 := newStats()
	st3.sent = []sent{{key: "k1", op: "assign", acked: true, revision: 1}, {key: "k5", op: "assign", refused: true}}
	rep3 := &soakReport{AckedByOp: map[string]int{}}
	checkSent(9, false, st3, rep3, map[uint64]stored{1: ev("k1", "a"), 2: ev("k5", "a")},
		map[string][]uint64{id("k1"): {1}, id("k5"): {2}})
	assert.Empty(t, st3.findings)
	assert.Equal(t, 1, rep3.RefusedButStored)
}

func TestSoakDumpDiff(t *testing.T) {
	want := map[string]string{"a": "1", "b": "2"}
	assert.Empty(t, dumpDiff(want, map[string]string{"a": "1", "b": "2"}))
	assert.Equal(t, `"b" = "3", replay has "2"; extra "c"`, dumpDiff(want, map[string]string{"a": "1", "b": "3", "c": "x"}))
	assert.Equal(t, `missing "a"`, dumpDiff(want, map[string]string{"b": "2"}))
}
