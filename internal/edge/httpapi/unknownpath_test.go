package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/httpapi"
	"github.com/grantlog/grantlog/internal/edge/ratelimit"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestUnknownPathsLimitedAndLogLinesBounded: with a rate limit of 1/s, an
// unauthenticated client's requests to unknown paths are never limited
// (the catch-all handler bypasses the limiter), and each writes the whole
// request path (here 32 KiB) into an info-level access log line.
func TestUnknownPathsLimitedAndLogLinesBounded(t *testing.T) {
	var logs lockedBuf
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Auth: anyone{}, Limiter: ratelimit.New(1, 1),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Ready:  func() (bool, uint64, uint64) { return true, 0, 0 }}))
	t.Cleanup(srv.Close)
	path := "/" + strings.Repeat("x", 32<<10)
	limited := 0
	for range 20 {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	logs.mu.Lock()
	n := logs.b.Len()
	logs.mu.Unlock()
	if limited == 0 || n > 20*4096 {
		t.Fatalf("20 unauthenticated requests to an unknown path at a 1/s limit: %d answered 429; %d bytes of info-level access log written", limited, n)
	}
}
