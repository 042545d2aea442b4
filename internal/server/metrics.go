package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/metrics"
)

// setupMetrics makes the node's metrics (internal/metrics): the edges
// record checks and commands into them; the node's state is read at each
// scrape. With Config.MetricsAddr it binds that listener.
func (s *Server) setupMetrics(auditSvc *audit.Service) error {
	s.metrics = metrics.New()
	node := metrics.Node{
		Applied:          func() uint64 { return s.store.Applied() },
		Head:             s.head.Load,
		EventsApplied:    s.proj.EventsApplied,
		AuditSubscribers: auditSvc.Subscribers,
		NATS: func() (bool, uint64) {
			nc := s.nc
			if nc == nil {
				return false, 0
			}
			return nc.Status() == nats.CONNECTED, nc.Stats().Reconnects
		},
	}
	if s.Commands != nil {
		node.GroupCommit = func() (uint64, uint64, uint64) {
			st := s.Commands.GroupCommitStats()
			return uint64(st.Batches), uint64(st.Batched), uint64(st.Split)
		}
		node.CommandPhases = func(yield func(string, uint64, float64)) {
			st := s.Commands.PhaseStats()
			for _, p := range command.Phases() {
				yield(p.String(), st[p].Count, st[p].Total.Seconds())
			}
		}
	}
	if s.snapshots.taker != nil {
		taker := s.snapshots.taker
		node.Snapshot = func() (time.Time, int64, bool) {
			info, ok := taker.Last()
			return info.CreatedAt, info.Bytes, ok
		}
	}
	s.metrics.SetNode(node)
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics listen %s: %w (pick another --metrics-addr)", s.cfg.MetricsAddr, err)
	}
	s.metricsLn = ln
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	return nil
}

// apiMetricsHandler is what the API listener serves at GET /metrics: the
// metrics, unless they have a listener of their own.
func (s *Server) apiMetricsHandler() http.Handler {
	if s.metricsLn != nil {
		return nil
	}
	return s.metrics.Handler()
}

// MetricsAddr is the address GET /metrics is served on: the metrics
// listener's, or the API's.
func (s *Server) MetricsAddr() string {
	if s.metricsLn != nil {
		return s.metricsLn.Addr().String()
	}
	return s.HTTPAddr()
}

// serveMetrics serves the metrics listener, if any, until ctx ends.
func (s *Server) serveMetrics(ctx context.Context, g *errgroup.Group) {
	if s.metricsHTTP == nil {
		return
	}
	srv, ln := s.metricsHTTP, s.metricsLn
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	})
}

// closeMetrics closes the metrics listener. It is idempotent.
func (s *Server) closeMetrics() {
	if s.metricsHTTP != nil {
		_ = s.metricsHTTP.Close()
		s.metricsHTTP = nil
	} else if s.metricsLn != nil {
		_ = s.metricsLn.Close()
	}
	s.metricsLn = nil
}
