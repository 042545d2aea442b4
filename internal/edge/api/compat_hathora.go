package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/query"
)

// hathoraOps are Hathora's token API at Hathora's paths with Hathora's
// JSON; a Hathora org is a Grantlog namespace.
//
// Hathora's scopes are the scopes of Grantlog's Hathora catalog
// (internal/catalogs/scopes-hathora.json), which must be loaded first
// (POST /v1/catalogs/scopes/hathora); "admin", or no scopes, is every
// scope of that catalog. The tokens are Grantlog tokens (token.issue,
// token.list, token.revoke): never more than their creator holds, their
// scopes fixed at creation.
func hathoraOps() []*Op {
	return []*Op{
		def(Command, "hathora.token.create", post, "/tokens/v1/orgs/{orgId}/create", created,
			"Hathora: create an organization token (its plainTextToken is shown once)",
			func(ctx context.Context, d *Deps, c *Call, in *hathoraCreate) (HathoraCreatedOrgToken, error) {
				names, err := hathoraScopeNames(in.Scopes)
				if err != nil {
					return HathoraCreatedOrgToken{}, err
				}
				t, err := d.Commands.IssueToken(ctx, c.Meta(orDefault(in.Reason.Reason, "hathora CreateOrgToken")), in.OrgID,
					command.IssueToken{Name: in.Name, Scopes: names, ExpiresAt: in.ExpiresAt})
				if err != nil {
					return HathoraCreatedOrgToken{}, hathoraScopeHint(err)
				}
				ot := hathoraToken(&query.Token{TokenID: t.TokenID, Namespace: in.OrgID, Name: in.Name,
					Issuer: c.Caller.Actor, Owner: t.Owner, Scopes: names, ExpiresAt: t.ExpiresAt, IssuedAt: time.Now().UTC()})
				// The issue time as the index records it, when the caller may read it.
				if p, err := d.Query.ListTokens(ctx, c.ReadAt(t.Revision), in.OrgID); err == nil {
					for i := range p.Data {
						if p.Data[i].TokenID == t.TokenID {
							ot.CreatedAt = p.Data[i].IssuedAt
						}
					}
				}
				ot.LastFourCharsOfKey = t.Token[len(t.Token)-4:]
				return HathoraCreatedOrgToken{PlainTextToken: t.Token, OrgToken: ot}, nil
			}).compat("hathora").noStore(),
		def(Read, "hathora.token.list", get, "/tokens/v1/orgs/{orgId}", ok,
			"Hathora: list an organization's tokens (never their secrets)",
			func(ctx context.Context, d *Deps, c *Call, in *hathoraOrg) (HathoraListOrgTokens, error) {
				p, err := d.Query.ListTokens(ctx, c.ReadAt(0), in.OrgID)
				if err != nil {
					return HathoraListOrgTokens{}, err
				}
				out := HathoraListOrgTokens{Tokens: make([]HathoraOrgToken, 0, len(p.Data))}
				for i := range p.Data {
					out.Tokens = append(out.Tokens, hathoraToken(&p.Data[i]))
				}
				return out, nil
			}).compat("hathora"),
		def(Command, "hathora.token.revoke", post, "/tokens/v1/orgs/{orgId}/tokens/{orgTokenId}/revoke", ok,
			"Hathora: revoke an organization token (answers true)",
			func(ctx context.Context, d *Deps, c *Call, in *hathoraRevoke) (bool, error) {
				if _, err := d.Commands.RevokeToken(ctx, c.Meta("hathora RevokeOrgToken"), in.OrgID, in.OrgTokenID); err != nil {
					return false, err
				}
				return true, nil
			}).compat("hathora"),
	}
}

// Hathora's requests.
type (
	hathoraOrg struct {
		OrgID string `json:"orgId" path:"orgId"`
	}
	hathoraCreate struct {
		hathoraOrg
		// Name is the token's readable name.
		Name string `json:"name"`
		// Scopes is "admin" or a list of Hathora scope names; absent: admin.
		Scopes HathoraScopes `json:"scopes,omitempty"`
		// ExpiresAt, when set, ends the token then.
		ExpiresAt *time.Time `json:"expiresAt,omitempty"`
		// Reason (Grantlog's, optional) is recorded in the audit record.
		Reason
	}
	hathoraRevoke struct {
		hathoraOrg
		OrgTokenID string `json:"orgTokenId" path:"orgTokenId"`
	}
)

// Validate refuses a token with no name, as Hathora does.
func (h *hathoraCreate) Validate() error {
	if strings.TrimSpace(h.Name) == "" {
		return Bad("invalidName", `name is required: {"name": "ci-token", "scopes": ["builds:read"]}`)
	}
	return nil
}

// HathoraAdmin is the scopes value of a token that has every scope.
const HathoraAdmin = "admin"

// HathoraScopes are a Hathora token's scopes: in JSON the string "admin"
// or a list of Hathora scope names ("builds:read"...). "admin" is the list
// ["admin"].
type HathoraScopes []string

// MarshalJSON writes "admin" for ["admin"], else the list ([] for none).
func (s HathoraScopes) MarshalJSON() ([]byte, error) {
	if len(s) == 1 && s[0] == HathoraAdmin {
		return []byte(`"admin"`), nil
	}
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(s))
}

// UnmarshalJSON reads "admin" or a list of scope names.
func (s *HathoraScopes) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		if one != HathoraAdmin {
			return Bad("invalidScope", `scopes must be "admin" or a list of scope names, not the string %q`, one)
		}
		*s = HathoraScopes{HathoraAdmin}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return Bad("invalidScope", `scopes must be "admin" or a list of scope names ["builds:read", ...]`)
	}
	*s = list
	return nil
}

// Hathora's answers.
type (
	// HathoraOrgToken is Hathora's OrgToken: a token without its secret.
	HathoraOrgToken struct {
		OrgTokenID string `json:"orgTokenId"`
		OrgID      string `json:"orgId"`
		Name       string `json:"name"`
		// Status is active, or expired past its expiresAt (a revoked token
		// is gone from the list).
		Status string `json:"status"`
		// CreatedBy is the id of the user or client that created it (for
		// a token created with a token: the token's owner).
		CreatedBy string    `json:"createdBy"`
		CreatedAt time.Time `json:"createdAt"`
		// LastFourCharsOfKey is set in the answer of create only: Grantlog
		// keeps nothing of the secret but its hash, so lists carry "".
		LastFourCharsOfKey string `json:"lastFourCharsOfKey"`
		// Scopes is "admin" (every Hathora scope) or the token's scopes;
		// [] for a token issued with permissions only.
		Scopes    HathoraScopes `json:"scopes"`
		ExpiresAt *time.Time    `json:"expiresAt,omitempty"`
	}
	// HathoraCreatedOrgToken is Hathora's CreatedOrgToken.
	HathoraCreatedOrgToken struct {
		PlainTextToken string          `json:"plainTextToken"`
		OrgToken       HathoraOrgToken `json:"orgToken"`
	}
	// HathoraListOrgTokens is Hathora's ListOrgTokens.
	HathoraListOrgTokens struct {
		Tokens []HathoraOrgToken `json:"tokens"`
	}
)

// hathoraCatalog is the names of the Hathora scope catalog, sorted.
func hathoraCatalog() ([]string, error) {
	scopes, err := catalogs.Scopes("hathora")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(scopes))
	for _, s := range scopes {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names, nil
}

// hathoraScopeNames is the Grantlog scopes of a Hathora scopes value:
// every catalog scope for "admin" or none, else the names, each checked
// against the catalog.
func hathoraScopeNames(s HathoraScopes) ([]string, error) {
	all, err := hathoraCatalog()
	if err != nil {
		return nil, err
	}
	if s == nil || (len(s) == 1 && s[0] == HathoraAdmin) {
		return all, nil
	}
	if len(s) == 0 {
		return nil, Bad("invalidScope", `scopes is empty: give "admin" or at least one of %s`, strings.Join(all, ", "))
	}
	for _, n := range s {
		i := sort.SearchStrings(all, n)
		if i == len(all) || all[i] != n {
			return nil, Bad("unknownScope", "scope %q is not a Hathora scope Grantlog knows: use \"admin\" or any of %s", n, strings.Join(all, ", "))
		}
	}
	return []string(s), nil
}

// hathoraScopeHint adds how to load the catalog to an unknown scope.
func hathoraScopeHint(err error) error {
	var ce *command.Error
	if errors.As(err, &ce) && ce.Code == "unknownScope" {
		return &command.Error{Kind: ce.Kind, Code: ce.Code,
			Message: ce.Message + "; load Hathora's scopes first: POST /v1/catalogs/scopes/hathora (grantlog catalog scopes load --name hathora)"}
	}
	return err
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// hathoraToken is t as Hathora lists it.
func hathoraToken(t *query.Token) HathoraOrgToken {
	out := HathoraOrgToken{
		OrgTokenID: t.TokenID, OrgID: t.Namespace, Name: t.Name, Status: "active",
		CreatedBy: t.Issuer.ID, CreatedAt: t.IssuedAt, Scopes: HathoraScopes(t.Scopes), ExpiresAt: t.ExpiresAt,
	}
	if t.Issuer.Type == events.ActorToken {
		// A token acts as its owner, who is the default owner of the
		// tokens it creates: Hathora names the user.
		out.CreatedBy = t.Owner.ID
	}
	if t.Expired {
		out.Status = "expired"
	}
	if out.Scopes == nil {
		out.Scopes = HathoraScopes{}
	}
	if all, err := hathoraCatalog(); err == nil && len(t.Scopes) > 0 {
		have := make(map[string]bool, len(t.Scopes))
		for _, s := range t.Scopes {
			have[s] = true
		}
		admin := true
		for _, n := range all {
			admin = admin && have[n]
		}
		if admin {
			out.Scopes = HathoraScopes{HathoraAdmin}
		}
	}
	return out
}
