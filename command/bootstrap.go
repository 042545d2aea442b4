package command

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// The bootstrap Super Admin credential is a token.issued.v1 with Bootstrap
// set, in the platform namespace, owned by the bootstrap admin user: its
// hash is in the event log, so every node in every region authenticates
// it from its index; it is rotated and revoked by commands, and the tokens
// it issued end with it (see events.TokenIssued.Bootstrap).

func bootstrapEvent(id, hash string, issuer events.Actor, replaces []string) events.TokenIssued {
	return events.TokenIssued{
		TokenID: id, Name: auth.BootstrapTokenName,
		Owner:  events.Actor{Type: events.ActorUser, ID: auth.BootstrapAdminID},
		Issuer: issuer, Permissions: []events.Permission{{Resource: "*", Action: uint8(perm.CRUD)}},
		SecretHash: hash, Bootstrap: true, Replaces: replaces,
	}
}

var errHadBootstrap = errors.New("the stream already has had a bootstrap credential")

// RegisterBootstrapCredential makes the token whose SHA-256 is hash the
// bootstrap credential of a stream that never had one: the service calls
// it on a new stream, and to carry over the bootstrap token of a data
// directory written before the credential lived in the event log. It
// appends nothing, and registered is false, when the stream has had a
// bootstrap credential (even a revoked one: a file never brings one back).
// The caller must be the service itself (auth.Bootstrap).
func (s *Service) RegisterBootstrapCredential(ctx context.Context, m Meta, hash [32]byte) (registered bool, tokenID string, rev uint64, err error) {
	if !m.Caller.Root || m.Caller.Type != events.ActorUser {
		return false, "", 0, errorf(ErrForbidden, "forbidden", "only the service registers a bootstrap credential; rotate it with POST /v1/admin/bootstrap-token:rotate")
	}
	if err := validateMeta(&m); err != nil {
		return false, "", 0, err
	}
	id := uuid.NewString()
	rev, err = s.execute(ctx, events.PlatformNamespace, &m, req("RegisterBootstrapCredential", hex.EncodeToString(hash[:])), func(v index.View) (decision, error) {
		if v.HadBootstrap() {
			return decision{}, errHadBootstrap
		}
		return decision{kind: events.KindToken, aggregateID: id,
			payload: bootstrapEvent(id, hex.EncodeToString(hash[:]), m.Caller.Actor, nil)}, nil
	})
	if errors.Is(err, errHadBootstrap) {
		return false, "", 0, nil
	}
	if err != nil {
		return false, "", 0, err
	}
	return true, id, rev, nil
}

// BootstrapRotated is what RotateBootstrapCredential returns: the new
// bootstrap token is shown once.
type BootstrapRotated struct {
	TokenID string `json:"tokenId"`
	Token   string `json:"token"`
	// Revoked are the bootstrap credentials the new one replaced.
	Revoked []string `json:"revoked"`
	// EndedTokens are the tokens that ended with them (issued by them,
	// directly or through tokens they issued), as the command saw them.
	EndedTokens []string `json:"endedTokens"`
	Revision    uint64   `json:"revision"`
}

// RotateBootstrapCredential issues a new bootstrap credential and revokes
// the live one, in one event: the old token, and every token it issued,
// stop working on each node as soon as it applies the event. It needs
// ADMIN:BOOTSTRAP [Update]. With no live bootstrap credential (it was
// revoked) it issues one.
func (s *Service) RotateBootstrapCredential(ctx context.Context, m Meta) (BootstrapRotated, error) {
	if err := s.authorize(ctx, &m, auth.PermBootstrap, perm.Update, ""); err != nil {
		return BootstrapRotated{}, err
	}
	if err := validateMeta(&m); err != nil {
		return BootstrapRotated{}, err
	}
	secret, hash, err := auth.NewBootstrapSecret()
	if err != nil {
		return BootstrapRotated{}, err
	}
	id := uuid.NewString()
	out := BootstrapRotated{TokenID: id, Token: secret}
	rev, err := s.execute(ctx, events.PlatformNamespace, &m, req("RotateBootstrapCredential"), func(v index.View) (decision, error) {
		if err := callerStillValid(v, m.Caller); err != nil {
			return decision{}, err
		}
		out.Revoked, out.EndedTokens = []string{}, []string{}
		for _, t := range v.LiveBootstrap() {
			out.Revoked = append(out.Revoked, t.ID)
			out.EndedTokens = append(out.EndedTokens, v.BootstrapDependents(t.ID)...)
		}
		return decision{kind: events.KindToken, aggregateID: id,
			payload: bootstrapEvent(id, hex.EncodeToString(hash[:]), m.Caller.Actor, slices.Clone(out.Revoked))}, nil
	})
	if err != nil {
		return BootstrapRotated{}, err
	}
	out.Revision = rev
	return out, nil
}

// callerStillValid refuses a token caller whose token has been revoked
// since it was authenticated.
func callerStillValid(v index.View, c events.Caller) error {
	if c.Type == events.ActorToken && v.Token(c.ID) == nil {
		return errorf(ErrUnauthorized, "unauthorized", "the calling token %s has been revoked", c.ID)
	}
	return nil
}

// BootstrapRevoked is what RevokeBootstrapCredential returns.
type BootstrapRevoked struct {
	Revoked     string   `json:"revoked"`
	EndedTokens []string `json:"endedTokens"`
	Revision    uint64   `json:"revision"`
}

// RevokeBootstrapCredential revokes the live bootstrap credential with no
// replacement: it and every token it issued stop working on each node as
// soon as it applies the event. It needs ADMIN:BOOTSTRAP [Delete], held
// through another credential: a caller that would end with it is refused
// (rotate instead), so there is always an administrator left.
func (s *Service) RevokeBootstrapCredential(ctx context.Context, m Meta) (BootstrapRevoked, error) {
	if err := s.authorize(ctx, &m, auth.PermBootstrap, perm.Delete, ""); err != nil {
		return BootstrapRevoked{}, err
	}
	if err := validateMeta(&m); err != nil {
		return BootstrapRevoked{}, err
	}
	var out BootstrapRevoked
	rev, err := s.execute(ctx, events.PlatformNamespace, &m, req("RevokeBootstrapCredential"), func(v index.View) (decision, error) {
		if err := callerStillValid(v, m.Caller); err != nil {
			return decision{}, err
		}
		live := v.LiveBootstrap()
		switch {
		case len(live) == 0:
			return decision{}, errorf(ErrNotFound, "bootstrapCredentialNotFound", "there is no live bootstrap credential; POST /v1/admin/bootstrap-token:rotate issues one")
		case len(live) > 1:
			return decision{}, errorf(ErrConflict, "severalBootstrapCredentials", "%d bootstrap credentials are live; rotate (which replaces them all) instead", len(live))
		}
		t := live[0]
		ended := v.BootstrapDependents(t.ID)
		if c := m.Caller; c.Type == events.ActorToken && (c.ID == t.ID || slices.Contains(ended, c.ID)) {
			return decision{}, errorf(ErrConflict, "wouldRevokeCaller",
				"revoking the bootstrap credential would also revoke the credential you are calling with (%s): "+
					"revoke it as another administrator, or rotate it instead (POST /v1/admin/bootstrap-token:rotate)", c.ID)
		}
		out = BootstrapRevoked{Revoked: t.ID, EndedTokens: append([]string{}, ended...)}
		return decision{kind: events.KindToken, aggregateID: t.ID,
			payload: events.TokenRevoked{TokenID: t.ID, Before: tokenState(t)}}, nil
	})
	if err != nil {
		return BootstrapRevoked{}, err
	}
	out.Revision = rev
	return out, nil
}
