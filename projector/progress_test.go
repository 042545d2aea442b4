package projector

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A catch-up logs at most a line per period, with the rate and the time
// left, and one line when it reaches the head.
func TestProgressLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	progress := ProgressLog(log, 5*time.Second, func() time.Time { return clock })
	// 1,000 events per batch, 10 batches a second, for 12 s: 10,000 events/s.
	for applied := uint64(1000); applied < 120_000; applied += 1000 {
		progress(applied, 200_000)
		clock = clock.Add(100 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.Equal(t, []string{
		`level=INFO msg="catching up" applied=51000 head=200000 percent=25.5 eventsPerSecond=10000 eta=15s`,
		`level=INFO msg="catching up" applied=101000 head=200000 percent=50.5 eventsPerSecond=10000 eta=10s`,
	}, lines)
	buf.Reset()
	progress(200_000, 200_000)
	progress(200_000, 200_000)
	assert.Equal(t, `level=INFO msg="caught up" applied=200000 head=200000 elapsed=11.9s eventsPerSecond=16722`+"\n", buf.String())
}
