package projector_test

import (
	"testing"
	"time"

	"github.com/grantlog/grantlog/internal/storage/eventlog"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/projector"
)

// BenchmarkReplay measures projection replay from zero: an ordered consumer
// reading the stream and applying events to a fresh Pebble index in
// batches. One op is one event; events/s is the replay rate.
func BenchmarkReplay(b *testing.B) {
	shape := testutil.Shape{Namespaces: 100, Roles: 200, PermsPerRole: 20, Users: 50_000,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1}
	if testing.Short() {
		shape.Users = 2_000
	}
	d := testutil.GenerateDataset(shape)
	log := testutil.StartLogWith(b, b.TempDir(), false)
	log.Publish(b, d.Events)
	head := uint64(len(d.Events))
	b.ResetTimer()
	var total time.Duration
	var runs int
	for b.Loop() {
		b.StopTimer()
		st := openIndex(b)
		p := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, st)
		b.StartTimer()
		start := time.Now()
		stop := run(p)
		testutil.WaitApplied(b, st, head)
		total += time.Since(start)
		runs++
		b.StopTimer()
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(head)*float64(runs)/total.Seconds(), "events/s")
	b.ReportMetric(float64(head), "events/replay")
}

// BenchmarkReplaySigned is BenchmarkReplay on a signed stream (a signing
// key announced first, every event signed and chained): the cost of
// authenticating events where they are applied.
func BenchmarkReplaySigned(b *testing.B) {
	shape := testutil.Shape{Namespaces: 100, Roles: 200, PermsPerRole: 20, Users: 50_000,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1}
	if testing.Short() {
		shape.Users = 2_000
	}
	d := testutil.GenerateDataset(shape)
	log := testutil.StartLogWith(b, b.TempDir(), false)
	s := log.Signed(b, nil)
	s.Announce(b)
	s.AppendAsync(b, d.Events)
	head := uint64(len(d.Events)) + 1
	b.ResetTimer()
	var total time.Duration
	var runs int
	for b.Loop() {
		b.StopTimer()
		st := openIndex(b)
		p := projector.New(projector.Config{Stream: eventlog.DefaultStream, Logger: testutil.Quiet}, log.JS, st)
		b.StartTimer()
		start := time.Now()
		stop := run(p)
		testutil.WaitApplied(b, st, head)
		total += time.Since(start)
		runs++
		b.StopTimer()
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		if n, _, why := p.Refused(); n != 0 {
			b.Fatalf("%d events refused: %s", n, why)
		}
		_ = st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(head)*float64(runs)/total.Seconds(), "events/s")
	b.ReportMetric(float64(head), "events/replay")
}
