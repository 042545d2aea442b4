package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/httpapi"
	"github.com/grantlog/grantlog/internal/metrics"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/internal/testutil"
	"github.com/grantlog/grantlog/query"
)

// discardWriter is a ResponseWriter that keeps nothing but its header map
// (reused), so that a benchmark counts the edge's allocations only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(s int)           { w.status = s }

// BenchmarkHTTPCheck measures POST /v1/check through the whole HTTP
// handler (request id, guard, route, authentication, decode, check,
// encode) on a small warm index, without the network.
func BenchmarkHTTPCheck(b *testing.B) {
	shape := testutil.Shape{Namespaces: 10, Roles: 100, PermsPerRole: 20, Users: 1000,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: 1}
	d := testutil.GenerateDataset(shape)
	st, err := index.Open(index.Options{Dir: filepath.Join(b.TempDir(), "index"), Logger: testutil.Quiet})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Close() })
	for i := 0; i < len(d.Events); i += 5000 {
		require.NoError(b, st.Apply(d.Events[i:min(i+5000, len(d.Events))]))
	}
	eng := query.New(query.Config{}, st, nil)
	c := d.Checks(1, 2)[0]
	body := []byte(fmt.Sprintf(`{"subject":{"type":"user","id":%q},"namespace":%q,"resource":%q,"action":%d}`,
		c.User, c.Namespace, c.Resource, c.Action))
	for _, bc := range benchEdgeConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg
			cfg.Deps, cfg.Auth = &api.Deps{Query: eng}, anyone{}
			h := httpapi.New(cfg)
			rd := bytes.NewReader(body)
			req, err := http.NewRequest(http.MethodPost, "/v1/check", io.NopCloser(rd))
			require.NoError(b, err)
			req.Header.Set("Authorization", "Bearer x")
			req.Header.Set("X-Request-Id", "bench")
			req.RequestURI = "/v1/check"
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				req.ContentLength = int64(len(body))
				clear(w.h)
				w.status = 0
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

type benchEdgeConfig struct {
	name string
	cfg  httpapi.Config
}

func benchEdgeConfigs() []benchEdgeConfig {
	return []benchEdgeConfig{
		{"default", httpapi.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}},
		// What grantlog serve runs: metrics on, JSON access log at info
		// (checks log at debug: not written).
		{"metrics", httpapi.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: metrics.New()}},
		// Every check logged: the cost of a check's access log line.
		{"metrics+debuglog", httpapi.Config{Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Metrics: metrics.New()}},
	}
}
