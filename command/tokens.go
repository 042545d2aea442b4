package command

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// IssueToken is the input of Service.IssueToken.
type IssueToken struct {
	Name string `json:"name"`
	// Owner defaults to the caller (a token acts as its owner).
	Owner *events.Actor `json:"owner,omitempty"`
	// Scopes, Permissions and VastPermissions (templates: constraints may
	// use params "$1"...) together make the token's permission set.
	Scopes      []string          `json:"scopes,omitempty"`
	Permissions []perm.Permission `json:"permissions,omitempty"`
	// VastPermissions is a Vast.ai permission document, the file
	// `vastai create api-key --permission_file` takes:
	// {"api": {"<category>": {} or {"<endpoint>": {"constraints": {...}}}}},
	// mapped onto the Vast.ai scope catalog (internal/catalogs/vastai.go).
	// The CLI reads it from --vast-permission-file.
	VastPermissions json.RawMessage `json:"vastPermissions,omitempty" cli:"vast-permission-file,file"`
	// Params fill the params "$1", "$2"... of the permissions, in order;
	// a param that reads as a number is a number. The CLI takes them as
	// repeated --param.
	Params    []perm.Value `json:"params,omitempty" cli:"param"`
	NotBefore *time.Time   `json:"notBefore,omitempty"`
	ExpiresAt *time.Time   `json:"expiresAt,omitempty"`
}

// vastTemplates maps a Vast.ai permission document onto permission
// templates (nil for none).
func vastTemplates(doc json.RawMessage) ([]perm.Permission, error) {
	if len(doc) == 0 || string(doc) == "null" {
		return nil, nil
	}
	ps, err := catalogs.VastPermissions(doc)
	if err != nil {
		if errors.Is(err, catalogs.ErrVastPermissions) {
			// The message without the package's prefix: it is the user's.
			return nil, errorf(ErrInvalid, "invalidVastPermissions", "vastPermissions: %s", strings.TrimPrefix(err.Error(), "catalogs: "))
		}
		return nil, err
	}
	return ps, nil
}

// TokenIssued is what IssueToken returns: the token is shown once.
type TokenIssued struct {
	TokenID     string            `json:"tokenId"`
	Token       string            `json:"token"`
	Owner       events.Actor      `json:"owner"`
	Scopes      []string          `json:"scopes,omitempty"`
	Permissions []perm.Permission `json:"permissions"`
	ExpiresAt   *time.Time        `json:"expiresAt,omitempty"`
	Revision    uint64            `json:"revision"`
}

// Limits on tokens.
const (
	MaxTokenPermissions = 200
	MaxScopesPerToken   = 50
)

// ownerOf resolves the default owner: the caller, a token's owner, or the
// bootstrap admin user for the bootstrap credential.
func ownerOf(v index.View, c events.Caller) (events.Actor, bool) {
	if c.Type == events.ActorToken {
		t := v.Token(c.ID)
		if t == nil {
			return events.Actor{}, false
		}
		return t.Owner, true
	}
	return c.Actor, true
}

// expandScopes returns the permissions of the named scopes and what they
// include.
func expandScopes(v index.View, names []string) ([]perm.Permission, error) {
	var out []perm.Permission
	seen := map[string]bool{}
	var walk func(name string, depth int) error
	walk = func(name string, depth int) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		sc := v.Scope(name)
		if sc == nil {
			return errorf(ErrInvalid, "unknownScope", "scope %q does not exist; define it with PUT /v1/scopes/%s or list them with GET /v1/scopes", name, name)
		}
		if depth > 16 {
			return errorf(ErrInvalid, "invalidScope", "scope %q includes scopes more than 16 deep", name)
		}
		out = append(out, sc.Permissions...)
		for _, inc := range sc.Includes {
			if err := walk(inc, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := walk(n, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// IssueToken issues a token (API key) in namespace ns. Its permissions are
// its scopes' and its own, with params filled; they can never exceed what
// the caller or the owner holds, and never change after issue.
func (s *Service) IssueToken(ctx context.Context, m Meta, ns string, in IssueToken) (TokenIssued, error) {
	if !events.ValidNamespace(ns) {
		return TokenIssued{}, invalidNamespace("namespace", ns)
	}
	if err := validateMeta(&m); err != nil {
		return TokenIssued{}, err
	}
	if err := validateName("name", in.Name, 128); err != nil {
		return TokenIssued{}, err
	}
	if len(in.Scopes) > MaxScopesPerToken {
		return TokenIssued{}, errorf(ErrInvalid, "tooManyScopes", "%d scopes; the limit is %d", len(in.Scopes), MaxScopesPerToken)
	}
	if len(in.Permissions) > MaxTokenPermissions {
		return TokenIssued{}, errorf(ErrInvalid, "tooManyPermissions", "%d permissions; the limit is %d", len(in.Permissions), MaxTokenPermissions)
	}
	if err := validateWindow(in.NotBefore, in.ExpiresAt); err != nil {
		return TokenIssued{}, err
	}
	vast, err := vastTemplates(in.VastPermissions)
	if err != nil {
		return TokenIssued{}, err
	}
	if len(in.Params) > perm.MaxParams {
		return TokenIssued{}, errorf(ErrInvalid, "tooManyParams", "%d params; the limit is %d ($1 to $%d)", len(in.Params), perm.MaxParams, perm.MaxParams)
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.cfg.Now()) {
		return TokenIssued{}, errorf(ErrInvalid, "invalidExpiry", "expiresAt %s is in the past", in.ExpiresAt.Format(time.RFC3339))
	}
	if in.Owner != nil {
		if (in.Owner.Type != events.ActorUser && in.Owner.Type != events.ActorClient) || !events.ValidID(in.Owner.ID) {
			return TokenIssued{}, errorf(ErrInvalid, "invalidOwner", `owner must be {"type": "user" or "client", "id": "..."}`)
		}
	}
	id := uuid.NewString()
	secret, hash := s.credentialSecret(TokenPrefix, &m, id)
	var out TokenIssued
	r := req("IssueToken", in.Name, in.Owner, in.Scopes, in.Permissions, in.Params, utcPtr(in.NotBefore), utcPtr(in.ExpiresAt))
	var stored events.Payload
	r.replay = &stored
	if vast != nil {
		r.args = append(r.args, vast)
	}
	rev, err := s.execute(ctx, ns, &m, r, func(v index.View) (decision, error) {
		owner, ok := ownerOf(v, m.Caller)
		if in.Owner != nil {
			owner, ok = *in.Owner, true
		}
		if !ok {
			return decision{}, errorf(ErrInvalid, "invalidOwner", "the calling token no longer exists")
		}
		if owner.Type == events.ActorClient {
			if c := v.Client(owner.ID); c == nil || c.Namespace != ns {
				return decision{}, clientNotFound(ns, owner.ID)
			}
		}
		tmpl, err := expandScopes(v, in.Scopes)
		if err != nil {
			return decision{}, err
		}
		tmpl = append(tmpl, in.Permissions...)
		tmpl = append(tmpl, vast...)
		if len(tmpl) == 0 {
			return decision{}, errorf(ErrInvalid, "noPermissions", "give the token scopes, permissions or vastPermissions")
		}
		if len(tmpl) > MaxTokenPermissions {
			return decision{}, errorf(ErrInvalid, "tooManyPermissions", "the token would hold %d permissions; the limit is %d", len(tmpl), MaxTokenPermissions)
		}
		ps := make([]perm.Permission, 0, len(tmpl))
		for i, p := range tmpl {
			vp, err := perm.ValidateTemplate(p)
			if err == nil {
				vp, err = perm.FillParams(vp, in.Params)
			}
			if err != nil {
				return decision{}, errorf(ErrInvalid, "invalidPermission", "permission %d (%s): %v", i, p.Resource, err)
			}
			ps = append(ps, vp)
		}
		out = TokenIssued{TokenID: id, Token: secret, Owner: owner, Scopes: in.Scopes, Permissions: ps, ExpiresAt: utcPtr(in.ExpiresAt)}
		return decision{kind: events.KindToken, aggregateID: id, payload: events.TokenIssued{
			TokenID: id, Name: in.Name, Owner: owner, Issuer: m.Caller.Actor, Scopes: in.Scopes,
			Permissions: index.ToEvent(ps), SecretHash: hash, NotBefore: utcPtr(in.NotBefore), ExpiresAt: utcPtr(in.ExpiresAt),
		}, check: func() error {
			if err := s.authorize(ctx, &m, auth.PermToken(ns, owner.ID), perm.Create, ns); err != nil {
				return err
			}
			bind := perm.RequiredBinding{Namespace: ns, UserID: owner.ID}
			// Never more than the issuer holds...
			if err := s.holds(ctx, &m, ns, ps, bind, "the token"); err != nil {
				return err
			}
			// ...nor more than the owner holds at issue.
			if err := s.authz.HoldsAll(ctx, events.Caller{Actor: owner}, ns, ps, bind, "the token (for its owner)"); err != nil {
				return err
			}
			return nil
		}}, nil
	})
	if err != nil {
		return TokenIssued{}, err
	}
	if p, ok := stored.(events.TokenIssued); ok {
		// A retry: the token the first attempt issued, to a caller who may
		// still issue it (its secret is a credential).
		if err := s.authorize(ctx, &m, auth.PermToken(ns, p.Owner.ID), perm.Create, ns); err != nil {
			return TokenIssued{}, err
		}
		out = TokenIssued{TokenID: p.TokenID, Owner: p.Owner, Scopes: p.Scopes, Permissions: index.FromEvent(p.Permissions), ExpiresAt: p.ExpiresAt}
		secret, hash = s.credentialSecret(TokenPrefix, &m, p.TokenID)
		if out.Token, err = replayedSecret("token", p.TokenID, secret, hash, p.SecretHash); err != nil {
			return TokenIssued{}, err
		}
	}
	out.Revision = rev
	return out, nil
}

// RevokeToken revokes a token; every replica denies it once it applies the event.
func (s *Service) RevokeToken(ctx context.Context, m Meta, ns, id string) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	return s.execute(ctx, ns, &m, req("RevokeToken", id), func(v index.View) (decision, error) {
		t := v.Token(id)
		if t == nil || t.Namespace != ns {
			return decision{}, errorf(ErrNotFound, "tokenNotFound", "namespace %s has no token %q", ns, id)
		}
		owner := t.Owner.ID
		return decision{kind: events.KindToken, aggregateID: id, payload: events.TokenRevoked{TokenID: id, Before: tokenState(t)}, check: func() error {
			return s.authorize(ctx, &m, auth.PermToken(ns, owner), perm.Delete, ns)
		}}, nil
	})
}
