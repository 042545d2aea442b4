package server

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/auth"
)

// The bootstrap Super Admin credential lives in the event log (a
// token.issued.v1 with bootstrap set, holding the token's SHA-256, never
// the token): every node authenticates it from its index, and it is
// rotated and revoked by commands (POST /v1/admin/bootstrap-token:rotate,
// DELETE /v1/admin/bootstrap-token). The clear token is written once, mode
// 0600, to <data-dir>/bootstrap-token of the node that made it.
//
// At start, once its index has caught up, a node that writes (role all or
// command) gives a stream that never had a bootstrap credential one:
//   - the hash of a bootstrap token made by a version before the credential
//     lived in the log (<data-dir>/bootstrap-token.sha256, or the deprecated
//     Config.BootstrapTokenHashFile), so that the old token keeps working,
//     now on every node;
//   - else the hash of the token in <data-dir>/bootstrap-token, which New
//     writes on a new stream.
//
// Registration is one command that appends nothing when the stream has had
// a bootstrap credential, so concurrent nodes and restarts register once;
// a stream that has had one never takes another from a file.

// BootstrapToken says what a node did about the bootstrap token file.
type BootstrapToken struct {
	// Path is <data-dir>/bootstrap-token.
	Path string
	// Created is true when New made a new bootstrap credential (a new
	// stream) and wrote its token to Path; Run registers it in the log.
	Created bool
}

// bootState is what New found for the bootstrap credential.
type bootState struct {
	// legacy is the hash of a bootstrap token made before the credential
	// lived in the log, and legacyFrom the file it came from.
	legacy     *[sha256.Size]byte
	legacyFrom string
	// pending is the hash of the token in <data-dir>/bootstrap-token.
	pending *[sha256.Size]byte
}

// loadLegacyHash reads the bootstrap token hash that versions before the
// bootstrap credential lived in the event log kept in a file: the
// deprecated Config.BootstrapTokenHashFile, else
// <data-dir>/bootstrap-token.sha256. A missing file is no error.
func (s *Server) loadLegacyHash() error {
	path := filepath.Join(s.cfg.DataDir, auth.BootstrapHashFile)
	if f := s.cfg.BootstrapTokenHashFile; f != "" {
		s.log.Warn("--bootstrap-token-hash-file is deprecated and no longer needed: every node reads the bootstrap credential from the event log. "+
			"It is read only to carry a bootstrap token made by an older version into the log", "file", f)
		path = f
	}
	h, ok, err := auth.ReadHashFile(path)
	if err != nil {
		return fmt.Errorf("bootstrap token hash: %w", err)
	}
	if ok {
		s.boot.legacy, s.boot.legacyFrom = &h, path
	}
	return nil
}

// prepareBootstrapToken, on a node that writes, reads the data directory's
// bootstrap token, or makes one when the stream is new (and no older
// version left a hash to carry over). Run registers it.
func (s *Server) prepareBootstrapToken() error {
	s.Bootstrap.Path = filepath.Join(s.cfg.DataDir, auth.BootstrapTokenFile)
	if !s.cfg.NodeRole.writes() {
		return nil
	}
	secret, ok, err := auth.ReadTokenFile(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("bootstrap token: %w", err)
	}
	if !ok && s.fresh && s.boot.legacy == nil {
		if secret, _, err = auth.NewBootstrapSecret(); err != nil {
			return err
		}
		if err := auth.WriteTokenFile(s.cfg.DataDir, secret); err != nil {
			return err
		}
		ok, s.Bootstrap.Created = true, true
	}
	if ok {
		h := sha256.Sum256([]byte(secret))
		s.boot.pending = &h
	}
	return nil
}

// ensureBootstrapCredential runs on a node that writes once its index has
// caught up: it registers the data directory's bootstrap credential when
// the stream never had one (see the top of this file), or replaces the
// live one when Config.ResetBootstrapToken is set, and says what is stale.
func (s *Server) ensureBootstrapCredential(ctx context.Context) error {
	v := s.store.Acquire()
	had := v.HadBootstrap()
	v.Release()
	if !had {
		h, from := s.boot.legacy, s.boot.legacyFrom
		if h == nil {
			h, from = s.boot.pending, s.Bootstrap.Path
		}
		if h != nil {
			m := command.Meta{Caller: auth.Bootstrap(), Reason: "bootstrap credential of " + s.cfg.NodeName + " from " + filepath.Base(from)}
			ok, id, rev, err := s.Commands.RegisterBootstrapCredential(ctx, m, *h)
			if err != nil {
				return fmt.Errorf("register the bootstrap credential: %w", err)
			}
			if ok {
				s.log.Info("registered the bootstrap credential in the event log", "tokenId", id, "revision", rev, "from", from)
			}
		} else if !s.cfg.ResetBootstrapToken {
			s.log.Warn("the event stream has no bootstrap credential yet, and this data directory holds none to register: " +
				"it is registered when the node that created the stream starts with this version " +
				"(or start one command node with --reset-bootstrap-token to issue a new one)")
		}
	}
	if s.cfg.ResetBootstrapToken {
		return s.resetBootstrapToken(ctx)
	}
	s.checkTokenFile()
	return nil
}

// checkTokenFile warns about a token file or hash file that no longer
// authenticates, and removes a token file this start wrote for a
// credential another node's was registered before.
func (s *Server) checkTokenFile() {
	if s.boot.legacy != nil && s.cfg.BootstrapTokenHashFile == "" {
		s.log.Info("the bootstrap credential is in the event log: " + auth.BootstrapHashFile + " is no longer read once it is registered, and may be deleted")
	}
	if s.boot.pending == nil {
		return
	}
	v := s.store.Acquire()
	t := v.TokenByHash(*s.boot.pending)
	live := t != nil && t.Bootstrap
	v.Release()
	switch {
	case live:
	case s.Bootstrap.Created:
		// Another node registered a credential for this new stream first.
		if err := os.Remove(s.Bootstrap.Path); err != nil {
			s.log.Error("removing an unregistered bootstrap token", "file", s.Bootstrap.Path, "err", err)
		}
		s.Bootstrap.Created = false
		s.log.Warn("another node gave the new stream its bootstrap credential first: the token this node wrote was never valid and is removed; "+
			"use the other node's bootstrap-token", "file", s.Bootstrap.Path)
	default:
		s.log.Warn("the bootstrap token in this data directory no longer works (it was rotated or revoked); delete the file", "file", s.Bootstrap.Path)
	}
}

// resetBootstrapToken issues a new bootstrap credential replacing the live
// one (Config.ResetBootstrapToken), and writes its token to the data
// directory: the way back in when the bootstrap token is lost.
func (s *Server) resetBootstrapToken(ctx context.Context) error {
	m := command.Meta{Caller: auth.Bootstrap(), Reason: "bootstrap credential reset at the start of " + s.cfg.NodeName + " (--reset-bootstrap-token)"}
	out, err := s.Commands.RotateBootstrapCredential(ctx, m)
	if err != nil {
		return fmt.Errorf("reset the bootstrap credential: %w", err)
	}
	if err := auth.WriteTokenFile(s.cfg.DataDir, out.Token); err != nil {
		return fmt.Errorf("reset the bootstrap credential: its token (tokenId %s) could not be written, start again with --reset-bootstrap-token: %w", out.TokenID, err)
	}
	s.log.Warn("issued a new bootstrap credential (--reset-bootstrap-token): the previous one and the tokens it issued no longer work; "+
		"start without --reset-bootstrap-token from now on", "tokenId", out.TokenID, "revoked", out.Revoked,
		"endedTokens", len(out.EndedTokens), "revision", out.Revision, "file", s.Bootstrap.Path)
	return nil
}

// bootstrap, on a fresh stream, creates the default roles (AccelByte's
// User, View Only, Game Admin, Super Admin) and assigns Super Admin to the
// user the bootstrap credential acts as, so that tokens it issues for itself
// hold what it holds. On a node that writes it then makes sure the stream
// has its bootstrap credential (ensureBootstrapCredential). It waits for the
// projector to catch up first, and calls serve when the API may serve: at
// once, unless the stream is fresh.
func (s *Server) bootstrap(ctx context.Context, serve func()) error {
	defer serve()
	defer s.bootstrapped.Store(true)
	if !s.fresh {
		serve()
	}
	if !s.fresh && !s.cfg.NodeRole.writes() {
		return nil
	}
	for !s.proj.Ready() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := s.announceSigningKey(ctx); err != nil {
		return err
	}
	if s.fresh {
		if err := s.defaultRoles(ctx); err != nil {
			return err
		}
	}
	return s.ensureBootstrapCredential(ctx)
}

// defaultRoles creates the default roles and the bootstrap admin's Super
// Admin assignment.
func (s *Server) defaultRoles(ctx context.Context) error {
	m := command.Meta{Caller: auth.Bootstrap(), Reason: "bootstrap: default roles"}
	applied, err := s.Commands.ApplyPreset(ctx, m, DefaultsPreset)
	if err != nil {
		return fmt.Errorf("bootstrap: default roles preset %q: %w", DefaultsPreset, err)
	}
	created := applied.Roles
	for _, r := range created {
		if r.RoleName == SuperAdminRole {
			m.Reason = "bootstrap: the bootstrap credential is a Super Admin"
			if _, err := s.Commands.AssignRole(ctx, m, auth.BootstrapNamespace, auth.BootstrapAdminID, r.RoleID, nil); err != nil {
				return fmt.Errorf("bootstrap: assign %s: %w", SuperAdminRole, err)
			}
		}
	}
	s.log.Info("created the default roles", "roles", len(created))
	return nil
}

// Default roles.
const (
	DefaultsPreset = "accelbyte-defaults"
	SuperAdminRole = "SuperAdmin"
)
