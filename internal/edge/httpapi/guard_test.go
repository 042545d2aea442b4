package httpapi_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/edge/httpapi"
)

type anyone struct{}

func (anyone) Authenticate(h string) (events.Caller, error) {
	if h == "" {
		return events.Caller{}, errors.New("no credential")
	}
	return auth.Bootstrap(), nil
}

// serve runs the API with no command or query side: the tests here are
// answered before either is reached.
func serve(t *testing.T, bodyTimeout time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Auth: anyone{}, BodyReadTimeout: bodyTimeout,
		Ready: func() (bool, uint64, uint64) { return true, 0, 0 }}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// rawResponse sends raw on a new connection (then body, one byte at a time
// every gap, while the server reads) and reads the answer, waiting at
// most a generous 20s.
func rawResponse(t *testing.T, addr, raw, body string, gap time.Duration) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(conn, raw)
	require.NoError(t, err)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(body); i++ {
			select {
			case <-stop:
				return
			case <-time.After(gap):
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server must answer (not hold the request open)")
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, out
}

func jsonError(t *testing.T, resp *http.Response, raw []byte) map[string]any {
	t.Helper()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(raw, &out), "a %d answer must be a JSON error, not %q", resp.StatusCode, raw)
	assert.NotEmpty(t, out["errorCode"])
	assert.NotEmpty(t, out["errorMessage"])
	return out
}

// TestSlowBodyTimesOut (issue 10, item 9): a body sent one byte at a time
// does not hold the request open: past the body read timeout the server
// answers 408 with a JSON error.
func TestSlowBodyTimesOut(t *testing.T) {
	addr := serve(t, 300*time.Millisecond)
	body := `{"roleName": "Slow", "description": "` + strings.Repeat("x", 1000) + `"}`
	raw := fmt.Sprintf("POST /v1/roles HTTP/1.1\r\nHost: grantlog\r\nAuthorization: Bearer x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	resp, out := rawResponse(t, addr, raw, body, 50*time.Millisecond)
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	assert.Equal(t, "requestTimeout", jsonError(t, resp, out)["errorCode"])
}

// TestNonCanonicalPathIsJSON (issue 10, item 9): a path with "..", "." or
// "//" gets a JSON 400 naming the canonical path, not ServeMux's bodyless
// 307 redirect.
func TestNonCanonicalPathIsJSON(t *testing.T) {
	addr := serve(t, 0)
	for _, p := range []string{"/v1/../healthz", "/v1/roles/../roles", "/v1/./roles", "//v1/roles", "/v1/roles/%2e%2e/x"} {
		resp, out := rawResponse(t, addr, "GET "+p+" HTTP/1.1\r\nHost: grantlog\r\nAuthorization: Bearer x\r\n\r\n", "", 0)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, p)
		assert.Equal(t, "invalidPath", jsonError(t, resp, out)["errorCode"], p)
	}
	resp, out := rawResponse(t, addr, "GET /healthz HTTP/1.1\r\nHost: grantlog\r\n\r\n", "", 0)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", out)
}

// TestOversizedHeaderIsJSON (issue 10, item 9): headers over
// httpapi.MaxHeaderBytes get a JSON 431. (Headers over the http.Server's
// own limit are answered by net/http itself, in plain text, before any
// handler runs: that cannot be JSON.)
func TestOversizedHeaderIsJSON(t *testing.T) {
	addr := serve(t, 0)
	big := strings.Repeat("a", httpapi.MaxHeaderBytes)
	resp, out := rawResponse(t, addr, "GET /v1/roles HTTP/1.1\r\nHost: grantlog\r\nAuthorization: Bearer x\r\nX-Big: "+big+"\r\n\r\n", "", 0)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	assert.Equal(t, "requestHeaderTooLarge", jsonError(t, resp, out)["errorCode"])

	resp, _ = rawResponse(t, addr, "GET /v1/roles HTTP/1.1\r\nHost: grantlog\r\nX-Huge: "+strings.Repeat("a", http.DefaultMaxHeaderBytes+8192)+"\r\n\r\n", "", 0)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode, "net/http's own limit: plain text")
}

// TestInvalidUTF8BodyIsRefused (issue 10, item 9): a body that is not
// valid UTF-8 is refused before decoding (encoding/json would store U+FFFD).
func TestInvalidUTF8BodyIsRefused(t *testing.T) {
	addr := serve(t, 0)
	body := `{"roleName": "R", "description": "a` + "\xff" + `"}`
	resp, out := rawResponse(t, addr, fmt.Sprintf("POST /v1/roles HTTP/1.1\r\nHost: grantlog\r\nAuthorization: Bearer x\r\nContent-Length: %d\r\n\r\n%s", len(body), body), "", 0)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "invalidUtf8", jsonError(t, resp, out)["errorCode"])
}
