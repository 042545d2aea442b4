package query

import (
	"context"
	"time"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/perm"
)

// BootstrapCredential is a bootstrap Super Admin credential as reads
// return it (never its hash).
type BootstrapCredential struct {
	TokenID  string       `json:"tokenId"`
	Issuer   events.Actor `json:"issuer"`
	IssuedAt time.Time    `json:"issuedAt"`
	Revision uint64       `json:"revision"`
	Live     bool         `json:"live"`
	// RevokedRevision and EndedTokens, on a revoked credential: the
	// revision that revoked it and the tokens that ended with it.
	RevokedRevision uint64   `json:"revokedRevision,omitempty"`
	EndedTokens     []string `json:"endedTokens,omitempty"`
}

// BootstrapCredentials lists every bootstrap credential the stream has had,
// live or revoked, in issue order. It needs ADMIN:BOOTSTRAP [Read].
func (e *Engine) BootstrapCredentials(ctx context.Context, o ReadOptions) (Page[BootstrapCredential], error) {
	if err := e.authorize(ctx, o, auth.PermBootstrap, perm.Read, ""); err != nil {
		return Page[BootstrapCredential]{}, err
	}
	if err := e.WaitFor(ctx, o.AtLeastRevision); err != nil {
		return Page[BootstrapCredential]{}, err
	}
	v := e.store.Acquire()
	defer v.Release()
	p := Page[BootstrapCredential]{Data: []BootstrapCredential{}, Revision: v.Revision()}
	for _, t := range v.BootstrapCredentials() {
		p.Data = append(p.Data, BootstrapCredential{
			TokenID: t.ID, Issuer: t.Issuer, IssuedAt: t.IssuedAt, Revision: t.Revision, Live: t.RevokedRevision == 0,
			RevokedRevision: t.RevokedRevision, EndedTokens: append([]string(nil), t.Cascaded...),
		})
	}
	return p, nil
}
