package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/projector"
)

// NodeRole is what a node does (the --role flag, and "role" in status
// messages and NATS metadata); not to be confused with the roles that
// hold permissions.
type NodeRole string

// Node roles.
const (
	// NodeRoleAll writes and answers checks: the single-machine Grantlog
	// (embedded NATS unless Config.NATSURL is set).
	NodeRoleAll NodeRole = "all"
	// NodeRoleCommand writes (it keeps its own index to decide commands) and
	// serves reads, but not checks. It needs Config.NATSURL.
	NodeRoleCommand NodeRole = "command"
	// NodeRoleReplica answers checks and reads over HTTP and NATS, and refuses
	// commands. It needs Config.NATSURL.
	NodeRoleReplica NodeRole = "replica"
)

// Valid reports whether r is one of the node roles ("" counts as NodeRoleAll).
func (r NodeRole) Valid() bool {
	return r == "" || r == NodeRoleAll || r == NodeRoleCommand || r == NodeRoleReplica
}

// checks reports whether the node role answers checks.
func (r NodeRole) checks() bool { return r == NodeRoleAll || r == NodeRoleReplica }

// writes reports whether the node role runs commands.
func (r NodeRole) writes() bool { return r == NodeRoleAll || r == NodeRoleCommand }

// defaultNodeName is "<host>-<role>-<8 hex of the data directory's hash>":
// stable across restarts, distinct per data directory, and a single NATS
// subject token.
func defaultNodeName(nodeRole NodeRole, dataDir string) string {
	host, _ := os.Hostname()
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	h := sha256.Sum256([]byte(abs))
	return sanitizeToken(host) + "-" + string(nodeRole) + "-" + hex.EncodeToString(h[:4])
}

// sanitizeToken keeps letters, digits, '-' and '_' (a NATS subject token).
func sanitizeToken(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "node"
	}
	return b.String()
}

// Status is what a node does (its NodeRole) and its progress.
type Status = api.NodeStatus

// Status reports the node's NodeRole, applied revision, the stream head (as
// last polled, at most Config.StatusInterval old) and the lag between them.
func (s *Server) Status() Status {
	applied := s.store.Applied()
	head := max(s.head.Load(), applied)
	st := Status{
		Role: string(s.cfg.NodeRole), Node: s.cfg.NodeName, Ready: s.Ready(),
		Region: s.cfg.Region, Stream: s.streamName(), Connected: s.nc.IsConnected(),
		Revision: applied, Head: head, HeadAtStart: s.proj.Head(),
	}
	stale, heardAt, since := s.staleness(time.Now())
	st.Stale = stale
	if !heardAt.IsZero() {
		st.LastHeardAt, st.StaleSeconds = &heardAt, since.Seconds()
	}
	if !stale {
		lag := head - applied
		st.Lag = &lag
	}
	if n, last, why := s.proj.Refused(); n > 0 {
		st.Refused = &api.RefusedStatus{Count: n, LastRevision: last, LastReason: why}
	}
	if h := s.proj.Halted(); h != nil {
		st.Halted = h.Reason
	}
	return st
}

// statusMessage is what a node publishes on grantlog.status.<node>.
type statusMessage struct {
	Status
	Time time.Time `json:"time"`
}

// watchStatus polls the stream head and publishes the node's status on
// grantlog.status.<node> every StatusInterval until ctx ends.
func (s *Server) watchStatus(ctx context.Context, stream jetstream.Stream) error {
	t := time.NewTicker(s.cfg.StatusInterval)
	defer t.Stop()
	subject := natsapi.StatusSubjectPrefix + "." + s.cfg.NodeName
	for {
		ictx, cancel := context.WithTimeout(ctx, s.cfg.StatusInterval)
		info, err := stream.Info(ictx)
		cancel()
		if err == nil {
			s.heard(info)
		} else if ctx.Err() == nil {
			s.log.Debug("status: stream info", "err", err)
		}
		s.noteStaleness()
		msg, err := json.Marshal(statusMessage{Status: s.Status(), Time: time.Now().UTC()})
		if err == nil {
			err = s.nc.Publish(subject, msg)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Debug("status: publish", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// serveNATS starts the micro service once the index has caught up, and
// stops it when ctx ends: check endpoints on roles that answer checks,
// command endpoints on roles that write.
func (s *Server) serveNATS(ctx context.Context) error {
	for !s.caughtUp() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Checks are served in the readers' account (where API clients import
	// them from), commands in the command account: on the embedded server
	// a role all node has a connection in each; against an external NATS a
	// node has one, in the account of its credential.
	var svcs []*natsapi.Service
	defer func() {
		for _, svc := range svcs {
			_ = svc.Close()
		}
	}()
	start := func(cfg natsapi.Config) error {
		svc, err := natsapi.Start(cfg)
		if err != nil {
			return err
		}
		svcs = append(svcs, svc)
		return nil
	}
	base := natsapi.Config{Deps: s.apiDeps, Auth: s.auth, Node: s.cfg.NodeName, NodeRole: string(s.cfg.NodeRole), Logger: s.log, Limiter: s.ops.limiter, Metrics: s.metrics}
	readers := []api.Kind{api.Check, api.Read}
	switch s.cfg.NodeRole {
	case NodeRoleReplica:
		cfg := base
		cfg.Conn, cfg.Serve = s.nc, readers
		if err := start(cfg); err != nil {
			return err
		}
	default: // the command side
		cfg := base
		cfg.Conn, cfg.Serve = s.nc, []api.Kind{api.Command}
		if err := start(cfg); err != nil {
			return err
		}
		if s.cfg.NodeRole.checks() && s.readerNC != nil {
			cfg := base
			cfg.Conn, cfg.Serve = s.readerNC, readers
			if err := start(cfg); err != nil {
				return err
			}
		} else if s.cfg.NodeRole.checks() {
			s.log.Info("checks over NATS are served by replica nodes (the readers' account); this node answers checks over HTTP")
		}
	}
	s.natsServing.Store(true)
	<-ctx.Done()
	s.natsServing.Store(false)
	return nil
}

// heard records a stream poll that answered: the head, and when the
// stream last heard from its origin (now, less a mirror's time since its
// last contact with the home stream).
func (s *Server) heard(info *jetstream.StreamInfo) {
	s.head.Store(projector.StreamHead(info))
	at := time.Now()
	if m := info.Mirror; m != nil {
		if m.Active < 0 {
			return // the mirror has never heard from the home stream
		}
		at = at.Add(-m.Active)
	}
	s.heardAt.Store(at.UnixNano())
}

// staleness reports whether the node cannot know its stream's head now,
// when it last heard from the origin (zero: never) and how long ago.
func (s *Server) staleness(now time.Time) (stale bool, heardAt time.Time, since time.Duration) {
	n := s.heardAt.Load()
	if n == 0 {
		return true, time.Time{}, 0
	}
	heardAt = time.Unix(0, n).UTC()
	since = max(now.Sub(heardAt), 0)
	return !s.nc.IsConnected() || since > s.staleAfter(), heardAt, since
}

// staleAfter is how long without news from the origin makes the node
// stale: a few status polls (mirrors hear a heartbeat every second).
func (s *Server) staleAfter() time.Duration { return max(3*s.cfg.StatusInterval, 3*time.Second) }

// tooStale applies the readiness policy (Config.MaxStaleness).
func (s *Server) tooStale() bool {
	if s.cfg.MaxStaleness <= 0 {
		return false
	}
	stale, heardAt, since := s.staleness(time.Now())
	return stale && (heardAt.IsZero() || since > s.cfg.MaxStaleness)
}

// noteStaleness logs when the node becomes stale and when it hears from
// its origin again.
func (s *Server) noteStaleness() {
	stale, heardAt, since := s.staleness(time.Now())
	if s.wasStale.Swap(stale) == stale {
		return
	}
	if stale {
		s.log.Warn("stale: no news from the stream's origin; answering at the last applied revision",
			"stream", s.streamName(), "region", s.cfg.Region, "revision", s.store.Applied(), "lastHeardAt", heardAt, "for", since.Round(time.Millisecond), "connected", s.nc.IsConnected())
		return
	}
	s.log.Info("fresh: hearing from the stream's origin again", "stream", s.streamName(), "region", s.cfg.Region, "revision", s.store.Applied(), "head", s.head.Load())
}
