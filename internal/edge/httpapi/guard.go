package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
)

// Limits of the request guard.
const (
	// DefaultBodyReadTimeout bounds the time a request body may take to
	// arrive (Config.BodyReadTimeout).
	DefaultBodyReadTimeout = 30 * time.Second
	// MaxHeaderBytes bounds a request's line and headers: larger ones are
	// refused with 431 and a JSON error. Headers beyond the http.Server's
	// own MaxHeaderBytes (net/http's default, 1 MiB) never reach a
	// handler: net/http answers them itself with a plain-text 431, which
	// cannot be made JSON.
	MaxHeaderBytes = 64 << 10
)

// guard refuses, with JSON errors, what net/http would otherwise answer
// without a body or let through: a path that is not canonical (ServeMux
// would answer 307 with no body) and headers over MaxHeaderBytes. It puts
// a deadline on reading the request body (a body sent a byte at a time
// would otherwise hold the request open indefinitely); the deadline is
// lifted once the body is read, so long answers (the audit stream) are
// not cut.
func (a *server) guard(next http.Handler) http.Handler {
	timeout := a.BodyReadTimeout
	if timeout == 0 {
		timeout = DefaultBodyReadTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; !canonicalPath(p) {
			writeError(w, r, http.StatusBadRequest, "invalidPath",
				fmt.Sprintf("path %q is not canonical (it has empty, '.' or '..' segments); send %s", p, cleanPath(p)))
			return
		}
		if n := headerBytes(r); n > MaxHeaderBytes {
			w.Header().Set("Connection", "close")
			writeError(w, r, http.StatusRequestHeaderFieldsTooLarge, "requestHeaderTooLarge",
				fmt.Sprintf("the request line and headers are %d bytes; the limit is %d", n, MaxHeaderBytes))
			return
		}
		if timeout > 0 && r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: timeout}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline once the body is read.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	done    bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// cleanPath is p as ServeMux would redirect it to.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

func canonicalPath(p string) bool {
	return p == "" || p == "*" || cleanPath(p) == p
}

// headerBytes is about the size of r's request line and headers.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
