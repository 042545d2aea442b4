package index

import (
	"log/slog"
	"testing"

	"github.com/grantlog/grantlog/internal/dataset"
)

// BenchmarkApply measures applying BenchmarkReplay's dataset (50k users,
// ~100k events) to a fresh on-disk index in batches of 1000, the
// projector's catch-up batch size, without the stream. One op is one
// event.
func BenchmarkApply(b *testing.B) {
	shape := dataset.Shape{Namespaces: 100, Roles: 200, PermsPerRole: 20, Users: 50_000,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1}
	if testing.Short() {
		shape.Users = 2_000
	}
	evs := dataset.Generate(shape).Events
	b.ReportAllocs()
	b.ResetTimer()
	applied := 0
	for b.Loop() {
		b.StopTimer()
		s := openStore(b, Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}) // production defaults
		b.StartTimer()
		for i := 0; i < len(evs); i += 1000 {
			if err := s.Apply(evs[i:min(i+1000, len(evs))]); err != nil {
				b.Fatal(err)
			}
		}
		applied += len(evs)
		b.StopTimer()
		_ = s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "events/s")
}
