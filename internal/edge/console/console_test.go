package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/console"
	"github.com/grantlog/grantlog/internal/edge/httpapi"
)

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Console: console.Handler()}))
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, http.NoBody)
	require.NoError(t, err)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// Every embedded file is served at /console/<path> with its type and the
// console's security headers; the page itself is never stored.
func TestAssetsServedWithHeaders(t *testing.T) {
	srv := serve(t)
	want := map[string]string{".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
	n := 0
	require.NoError(t, fs.WalkDir(console.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() {
			return nil
		}
		n++
		resp, body := fetch(t, "GET", srv.URL+"/console/"+p)
		require.Equal(t, http.StatusOK, resp.StatusCode, p)
		raw, err := fs.ReadFile(console.Assets(), p)
		require.NoError(t, err)
		assert.Equal(t, string(raw), body, p)
		ext := p[strings.LastIndex(p, "."):]
		assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), want[ext]), "%s: %s", p, resp.Header.Get("Content-Type"))
		assertSecurityHeaders(t, resp.Header, p)
		if ext == ".html" {
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), p)
		}
		return nil
	}))
	require.GreaterOrEqual(t, n, 6, "index.html, console.css and the modules")

	resp, body := fetch(t, "GET", srv.URL+"/console/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `<script type="module" src="js/app.js">`)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assertSecurityHeaders(t, resp.Header, "/console/")

	resp, _ = fetch(t, "HEAD", srv.URL+"/console/js/app.js")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func assertSecurityHeaders(t *testing.T, h http.Header, what string) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		assert.Contains(t, csp, d, what)
	}
	assert.NotContains(t, csp, "unsafe-inline", what)
	assert.NotContains(t, csp, "unsafe-eval", what)
	assert.Equal(t, "DENY", h.Get("X-Frame-Options"), what)
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), what)
	assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"), what)
}

// /console redirects to /console/; unknown assets, dot files and escapes
// are 404; the console answers no other method.
func TestPathsAndMethods(t *testing.T) {
	srv := serve(t)
	resp, _ := fetch(t, "GET", srv.URL+"/console")
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	assert.Equal(t, "/console/", resp.Header.Get("Location"))

	for _, p := range []string{"/console/nope.js", "/console/js/", "/console/.hidden", "/console/js/../../go.mod"} {
		resp, _ := fetch(t, "GET", srv.URL+p)
		assert.Contains(t, []int{http.StatusNotFound, http.StatusBadRequest}, resp.StatusCode, p)
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		resp, _ := fetch(t, m, srv.URL+"/console/")
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m)
	}
	// Without a Console the API serves none.
	bare := httptest.NewServer(httpapi.New(httpapi.Config{}))
	defer bare.Close()
	resp, _ = fetch(t, "GET", bare.URL+"/console/")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// Nothing is fetched from elsewhere: no asset names an http(s) URL, and the
// page loads no script or style from anywhere but itself.
func TestNoExternalURLs(t *testing.T) {
	url := regexp.MustCompile(`(?i)https?://|//[a-z0-9.-]+\.[a-z]{2,}/`)
	require.NoError(t, fs.WalkDir(console.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() {
			return nil
		}
		raw, err := fs.ReadFile(console.Assets(), p)
		require.NoError(t, err)
		assert.Empty(t, url.FindAllString(string(raw), -1), "%s names an external URL", p)
		return nil
	}))
}

// The credential is kept in sessionStorage only: no asset touches
// localStorage, cookies or IndexedDB, and no asset builds markup from
// strings (innerHTML), so no API data reaches the HTML parser.
func TestCredentialStaysInTheSession(t *testing.T) {
	forbidden := []string{"localStorage", "document.cookie", "indexedDB", "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"}
	var sawSession bool
	require.NoError(t, fs.WalkDir(console.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() || !strings.HasSuffix(p, ".js") {
			return nil
		}
		raw, err := fs.ReadFile(console.Assets(), p)
		require.NoError(t, err)
		code := stripComments(string(raw))
		for _, f := range forbidden {
			if strings.Contains(code, f) {
				t.Errorf("%s uses %s", p, f)
			}
		}
		sawSession = sawSession || strings.Contains(string(raw), "sessionStorage")
		return nil
	}))
	assert.True(t, sawSession, "the credential is kept in sessionStorage")
}

// stripComments drops // line comments (whole lines and trailing ones
// after code), so the rules above read the code, not the prose about it.
func stripComments(src string) string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		if i := strings.Index(line, "// "); i >= 0 && !strings.Contains(line[:i], "`") && !strings.Contains(line[:i], "'") {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
