package httpapi

import (
	"net/http"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/query"
)

// routesBootstrap registers the bootstrap Super Admin credential's
// endpoints: see it, rotate it, revoke it (ADMIN:BOOTSTRAP Read, Update,
// Delete). The reason of a rotation or revocation is the "reason" query
// parameter, as for every DELETE.
func (a *api) routesBootstrap(v1 func(string, handler)) {
	v1("GET /v1/admin/bootstrap-token", a.bootstrapCredentials)
	v1("POST /v1/admin/bootstrap-token:rotate", a.rotateBootstrap)
	v1("DELETE /v1/admin/bootstrap-token", a.revokeBootstrap)
}

func (a *api) bootstrapCredentials(w http.ResponseWriter, r *http.Request, c events.Caller) {
	readAnd(a, w, r, c, func(o query.ReadOptions) (pageResponse[query.BootstrapCredential], error) {
		return page(a.Query.BootstrapCredentials(r.Context(), o))
	})
}

// rotateBootstrap answers 201 {tokenId, token, revoked, endedTokens,
// revision}: the new bootstrap token, shown once.
func (a *api) rotateBootstrap(w http.ResponseWriter, r *http.Request, c events.Caller) {
	out, err := a.Commands.RotateBootstrapCredential(r.Context(), meta(r, c, r.URL.Query().Get("reason")))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

func (a *api) revokeBootstrap(w http.ResponseWriter, r *http.Request, c events.Caller) {
	out, err := a.Commands.RevokeBootstrapCredential(r.Context(), meta(r, c, r.URL.Query().Get("reason")))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
