package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/grantlog/grantlog/internal/edge/ratelimit"
)

// OpsConfig are the operator's settings of a node beyond the API: the
// admin listener (profiling) and the per-caller rate limit. Config embeds
// it.
type OpsConfig struct {
	// AdminAddr, when set, is the HOST:PORT of the admin listener: it
	// serves net/http/pprof under /debug/pprof/ and nothing else, without
	// authentication, so it must not be reachable from outside the
	// operator's network (docs/SECURITY.md). Default "": no admin
	// listener. The API listener never serves /debug/pprof.
	AdminAddr string
	// RateLimit is the requests a second each caller may make over HTTP
	// and NATS together (keyed by the authenticated caller's actor type
	// and id; requests without a credential over HTTP by remote address);
	// more are refused with 429, errorCode rateLimited, and Retry-After.
	// Default 0: no limit.
	RateLimit float64
	// RateBurst is how many requests a caller may make at once above the
	// rate; default (0) the rate rounded up.
	RateBurst int
}

// validateOps reports the problems of the OpsConfig settings.
func (c *Config) validateOps() []error {
	var errs []error
	if c.AdminAddr != "" {
		if _, port, err := net.SplitHostPort(c.AdminAddr); err != nil {
			errs = append(errs, fmt.Errorf("admin address %q: want HOST:PORT, e.g. 127.0.0.1:6060 (%w)", c.AdminAddr, err))
		} else if c.AdminAddr == c.HTTPAddr && port != "0" {
			errs = append(errs, fmt.Errorf("admin address %q is the HTTP API's address: give the admin listener a port of its own", c.AdminAddr))
		}
	}
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("rate limit %v: use 0 (off) or a positive number of requests a second", c.RateLimit))
	}
	if c.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("rate burst %d: use 0 (the rate rounded up) or a positive number of requests", c.RateBurst))
	}
	if c.RateBurst > 0 && c.RateLimit == 0 {
		errs = append(errs, errors.New("--rate-burst needs --rate-limit (requests a second per caller)"))
	}
	return errs
}

// opsState is the admin listener and the rate limiter of a Server.
type opsState struct {
	limiter *ratelimit.Limiter // nil: no limit
	adminLn net.Listener
	admin   *http.Server
}

// startOps makes the rate limiter and binds the admin listener.
func (s *Server) startOps() error {
	s.ops.limiter = ratelimit.New(s.cfg.RateLimit, s.cfg.RateBurst)
	if s.cfg.AdminAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin listen %s: %w (pick another --admin-addr)", s.cfg.AdminAddr, err)
	}
	s.ops.adminLn = ln
	s.ops.admin = &http.Server{Handler: adminHandler(), ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// adminHandler serves net/http/pprof (its own mux: the handlers
// net/http/pprof registers on http.DefaultServeMux are served nowhere).
func adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// AdminAddr is the address of the admin listener ("" without one).
func (s *Server) AdminAddr() string {
	if s.ops.adminLn == nil {
		return ""
	}
	return s.ops.adminLn.Addr().String()
}

// serveAdmin serves the admin listener until ctx ends.
func (s *Server) serveAdmin(ctx context.Context) error {
	if s.ops.admin == nil {
		return nil
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.ops.admin.Shutdown(sctx) // profiles in progress are cut after a second
		_ = s.ops.admin.Close()
	}()
	if err := s.ops.admin.Serve(s.ops.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin listener: %w", err)
	}
	return nil
}

// closeOps closes the admin listener.
func (s *Server) closeOps() {
	if s.ops.admin != nil {
		_ = s.ops.admin.Close()
	}
	if s.ops.adminLn != nil {
		_ = s.ops.adminLn.Close()
	}
}
