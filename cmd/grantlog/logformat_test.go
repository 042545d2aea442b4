package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// safeBuffer is an io.Writer safe for the server's goroutines.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogFormatRefused(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"serve", "--log-format", "yaml", "--data-dir", t.TempDir()}, &out, &errOut))
	assert.Contains(t, errOut.String(), `--log-format "yaml": use text or json`)
	errOut.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--metrics-addr", "nope"}, &out, &errOut))
	assert.Contains(t, errOut.String(), `metrics address "nope"`)
	errOut.Reset()
	t.Setenv("GRANTLOG_LOG_FORMAT", "xml")
	assert.Equal(t, 2, run(context.Background(), []string{"serve", "--data-dir", t.TempDir()}, &out, &errOut))
	assert.Contains(t, errOut.String(), `--log-format "xml"`)
}

// TestServeJSONLogs runs grantlog serve --log-format json: every line on
// stderr is a JSON object, and a request has its access line.
func TestServeJSONLogs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut safeBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--log-format", "json", "--data-dir", t.TempDir(),
			"--http-addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}, &out, &errOut)
	}()
	addr := regexp.MustCompile(`serving HTTP on http://(\S+)`)
	var base string
	require.Eventually(t, func() bool {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			base = "http://" + m[1]
			return true
		}
		return false
	}, 20*time.Second, 20*time.Millisecond, "serve did not start: %s", errOut.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/roles", http.NoBody)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "cli-log-test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", http.NoBody)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "/metrics on the API listener, no credential")
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, "%s", errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	found := false
	sc := bufio.NewScanner(strings.NewReader(errOut.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "not JSON: %s", sc.Text())
		if line["msg"] == "request" && line["requestId"] == "cli-log-test" {
			found = true
			assert.Equal(t, "role.list", line["operation"])
			assert.Equal(t, "unauthorized", line["errorCode"])
			assert.InDelta(t, 401, line["status"], 0)
		}
	}
	assert.True(t, found, "no access line for the request: %s", errOut.String())
}
