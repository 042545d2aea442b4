package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/logsig"
)

// The log signing key (package logsig): a node that writes loads it from
// the KV bucket logsig.DefaultBucket of the command account (generating
// it when the bucket has none), signs every event it appends and every
// snapshot it takes with it, and, once its index has caught up, announces
// it in the event log unless the log has it (the stream's first key is its
// trust anchor). A log that trusts other keys only stops the node: its
// events would all be refused.

// loadSigningKey returns the log signing key of a node that writes (nil on
// a replica).
func (s *Server) loadSigningKey(ctx context.Context) error {
	if !s.cfg.NodeRole.writes() {
		return nil
	}
	key, created, err := logsig.EnsureKey(ctx, s.js, logsig.DefaultBucket, s.cfg.StreamReplicas)
	if err != nil {
		return fmt.Errorf("log signing key: %w", err)
	}
	if created {
		s.log.Info("generated the log signing key", "keyId", key.ID(), "bucket", logsig.DefaultBucket)
	}
	s.signKey = key
	return nil
}

// announceSigningKey appends the node's key to the log unless it is there.
func (s *Server) announceSigningKey(ctx context.Context) error {
	if s.signKey == nil {
		return nil
	}
	rev, appended, err := s.Commands.AnnounceSigningKey(ctx, command.Meta{Caller: auth.Bootstrap(),
		Reason: "the command side's log signing key"})
	switch {
	case errors.Is(err, command.ErrForeignKey):
		return fmt.Errorf("%w: bucket %s holds key %s, which the log never announced; restore the bucket the log's key came from",
			err, logsig.DefaultBucket, s.signKey.ID())
	case err != nil:
		return fmt.Errorf("announce the log signing key: %w", err)
	case appended:
		s.log.Info("announced the log signing key in the event log", "keyId", s.signKey.ID(), "revision", rev)
	}
	return nil
}
