package httpapi

import (
	"net/http"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/query"
)

type handler = func(http.ResponseWriter, *http.Request, events.Caller)

// routesModel registers namespaces, clients, tokens, scopes, endpoints and presets.
func (a *api) routesModel(v1 func(string, handler)) {
	v1("POST /v1/namespaces", a.createNamespace)
	v1("GET /v1/namespaces", a.listNamespaces)
	v1("GET /v1/namespaces/{namespace}", a.getNamespace)
	v1("DELETE /v1/namespaces/{namespace}", a.deleteNamespace)

	v1("POST /v1/namespaces/{namespace}/clients", a.createClient)
	v1("GET /v1/namespaces/{namespace}/clients", a.listClients)
	v1("GET /v1/namespaces/{namespace}/clients/{clientId}", a.getClient)
	v1("PATCH /v1/namespaces/{namespace}/clients/{clientId}", a.updateClient)
	v1("DELETE /v1/namespaces/{namespace}/clients/{clientId}", a.deleteClient)
	v1("POST /v1/namespaces/{namespace}/clients/{clientId}/permissions", a.clientPermissions(command.AddPermissions))
	v1("PUT /v1/namespaces/{namespace}/clients/{clientId}/permissions", a.clientPermissions(command.ReplacePermissions))
	v1("DELETE /v1/namespaces/{namespace}/clients/{clientId}/permissions", a.clientPermissions(command.RemovePermissions))

	v1("POST /v1/namespaces/{namespace}/tokens", a.issueToken)
	v1("GET /v1/namespaces/{namespace}/tokens", a.listTokens)
	v1("DELETE /v1/namespaces/{namespace}/tokens/{tokenId}", a.revokeToken)

	v1("PUT /v1/scopes/{name}", a.defineScope)
	v1("GET /v1/scopes", a.listScopes)
	v1("GET /v1/scopes/{name}", a.getScope)
	v1("DELETE /v1/scopes/{name}", a.deleteScope)

	v1("PUT /v1/endpoints/{service}/{endpoint}", a.registerEndpoint)
	v1("GET /v1/endpoints", a.listEndpoints)
	v1("DELETE /v1/endpoints/{service}/{endpoint}", a.deleteEndpoint)

	v1("GET /v1/presets", a.listPresets)
	v1("POST /v1/presets/{name}", a.applyPreset)
	v1("POST /v1/catalogs/scopes/{name}", a.loadScopes)
	v1("POST /v1/catalogs/endpoints/{name}", a.loadEndpoints)
}

// readAnd runs a read after parsing common options.
func readAnd[T any](a *api, w http.ResponseWriter, r *http.Request, c events.Caller, read func(query.ReadOptions) (T, error)) {
	o, ok := readOptions(w, r, c)
	if !ok {
		return
	}
	out, err := read(o)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func page[T any](p query.Page[T], err error) (pageResponse[T], error) {
	return pageResponse[T]{Data: p.Data, Paging: paging{Next: p.Next}, Revision: p.Revision}, err
}

type namespaceBody struct {
	command.CreateNamespace
	Reason string `json:"reason"`
}

func (a *api) createNamespace(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body namespaceBody
	if !decode(w, r, &body) {
		return
	}
	ev, rev, err := a.Commands.CreateNamespace(r.Context(), meta(r, c, body.Reason), body.CreateNamespace)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"namespace": ev.Namespace, "parent": ev.Parent, "defaultRoles": ev.DefaultRoles, "revision": rev,
	})
}

func (a *api) listNamespaces(w http.ResponseWriter, r *http.Request, c events.Caller) {
	readAnd(a, w, r, c, func(o query.ReadOptions) (pageResponse[query.Namespace], error) {
		return page(a.Query.ListNamespaces(r.Context(), o))
	})
}

func (a *api) getNamespace(w http.ResponseWriter, r *http.Request, c events.Caller) {
	readAnd(a, w, r, c, func(o query.ReadOptions) (query.Namespace, error) {
		return a.Query.GetNamespace(r.Context(), o, r.PathValue("namespace"))
	})
}

func (a *api) deleteNamespace(w http.ResponseWriter, r *http.Request, c events.Caller) {
	rev, err := a.Commands.DeleteNamespace(r.Context(), meta(r, c, r.URL.Query().Get("reason")), r.PathValue("namespace"))
	a.writeRevision(w, r, http.StatusOK, rev, err)
}

type clientBody struct {
	command.CreateClient
	Reason string `json:"reason"`
}

func (a *api) createClient(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body clientBody
	if !decode(w, r, &body) {
		return
	}
	out, err := a.Commands.CreateClient(r.Context(), meta(r, c, body.Reason), r.PathValue("namespace"), body.CreateClient)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (a *api) listClients(w http.ResponseWriter, r *http.Request, c events.Caller) {
	readAnd(a, w, r, c, func(o query.ReadOptions) (pageResponse[query.Client], error) {
		return page(a.Query.ListClients(r.Context(), o, r.PathValue("namespace")))
	})
}

func (a *api) writeClient(w http.ResponseWriter, r *http.Request, c events.Caller, rev uint64) {
	out, err := a.Query.GetClient(r.Context(), query.ReadOptions{Caller: c, AtLeastRevision: rev}, r.PathValue("namespace"), r.PathValue("clientId"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) getClient(w http.ResponseWriter, r *http.Request, c events.Caller) {
	o, ok := readOptions(w, r, c)
	if !ok {
		return
	}
	a.writeClient(w, r, c, o.AtLeastRevision)
}

type updateClientBody struct {
	command.UpdateClient
	Reason string `json:"reason"`
}

func (a *api) updateClient(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body updateClientBody
	if !decode(w, r, &body) {
		return
	}
	rev, err := a.Commands.UpdateClient(r.Context(), meta(r, c, body.Reason), r.PathValue("namespace"), r.PathValue("clientId"), body.UpdateClient)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeClient(w, r, c, rev)
}

func (a *api) deleteClient(w http.ResponseWriter, r *http.Request, c events.Caller) {
	rev, err := a.Commands.DeleteClient(r.Context(), meta(r, c, r.URL.Query().Get("reason")), r.PathValue("namespace"), r.PathValue("clientId"))
	a.writeRevision(w, r, http.StatusOK, rev, err)
}

func (a *api) clientPermissions(op command.PermissionOp) handler {
	return func(w http.ResponseWriter, r *http.Request, c events.Caller) {
		var body permissionsBody
		if !decode(w, r, &body) {
			return
		}
		if body.Permissions == nil {
			writeError(w, r, http.StatusBadRequest, "invalidPermission", `body must have "permissions": [{"resource": "...", "action": 1-15}]`)
			return
		}
		rev, err := a.Commands.ChangeClientPermissions(r.Context(), meta(r, c, body.Reason), r.PathValue("namespace"), r.PathValue("clientId"), op, body.Permissions)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeClient(w, r, c, rev)
	}
}

type tokenBody struct {
	command.IssueToken
	Reason string `json:"reason"`
}

func (a *api) issueToken(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body tokenBody
	if !decode(w, r, &body) {
		return
	}
	out, err := a.Commands.IssueToken(r.Context(), meta(r, c, body.Reason), r.PathValue("namespace"), body.IssueToken)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (a *api) listTokens(w http.ResponseWriter, r *http.Request, c events.Caller) {
	readAnd(a, w, r, c, func(o query.ReadOptions) (pageResponse[query.Token], error) {
		return page(a.Query.ListTokens(r.Context(), o, r.PathValue("namespace")))
	})
}

func (a *api) revokeToken(w http.ResponseWriter, r *http.Request, c events.Caller) {
	rev, err := a.Commands.RevokeToken(r.Context(), meta(r, c, r.URL.Query().Get("reason")), r.PathValue("namespace"), r.PathValue("tokenId"))
	a.writeRevision(w, r, http.StatusOK, rev, err)
}

type scopeBody struct {
	command.DefineScope
	Reason string `json:"reason"`
}

func (a *api) defineScope(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body scopeBody
	if !decode(w, r, &body) {
		return
	}
	rev, err := a.Commands.DefineScope(r.Context(), meta(r, c, body.Reason), r.PathValue("name"), body.DefineScope)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.Query.GetScope(r.Context(), query.ReadOptions{Caller: c, AtLeastRevision: rev}, r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) listScopes(w http.ResponseWriter, r *http.Request, c events.Caller) {
	readAnd(a, w, r, c, func(o query.ReadOptions) (pageResponse[query.Scope], error) {
		return page(a.Query.ListScopes(r.Context(), o))
	})
}

func (a *api) getScope(w http.ResponseWriter, r *http.Request, c events.Caller) {
	readAnd(a, w, r, c, func(o query.ReadOptions) (query.Scope, error) {
		return a.Query.GetScope(r.Context(), o, r.PathValue("name"))
	})
}

func (a *api) deleteScope(w http.ResponseWriter, r *http.Request, c events.Caller) {
	rev, err := a.Commands.DeleteScope(r.Context(), meta(r, c, r.URL.Query().Get("reason")), r.PathValue("name"))
	a.writeRevision(w, r, http.StatusOK, rev, err)
}

type endpointBody struct {
	command.RegisterEndpoint
	Reason string `json:"reason"`
}

func (a *api) registerEndpoint(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body endpointBody
	if !decode(w, r, &body) {
		return
	}
	rev, err := a.Commands.RegisterEndpoint(r.Context(), meta(r, c, body.Reason), r.PathValue("service"), r.PathValue("endpoint"), body.RegisterEndpoint)
	a.writeRevision(w, r, http.StatusOK, rev, err)
}

func (a *api) listEndpoints(w http.ResponseWriter, r *http.Request, c events.Caller) {
	readAnd(a, w, r, c, func(o query.ReadOptions) (pageResponse[query.Endpoint], error) {
		return page(a.Query.ListEndpoints(r.Context(), o))
	})
}

func (a *api) deleteEndpoint(w http.ResponseWriter, r *http.Request, c events.Caller) {
	rev, err := a.Commands.DeleteEndpoint(r.Context(), meta(r, c, r.URL.Query().Get("reason")), r.PathValue("service"), r.PathValue("endpoint"))
	a.writeRevision(w, r, http.StatusOK, rev, err)
}

func (a *api) listPresets(w http.ResponseWriter, r *http.Request, _ events.Caller) {
	ps, err := catalogs.Presets()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	type presetInfo struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
	}
	out := []presetInfo{}
	for _, p := range ps {
		info := presetInfo{Name: p.Name}
		for _, role := range p.Roles {
			info.Roles = append(info.Roles, role.RoleName)
		}
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (a *api) applyPreset(w http.ResponseWriter, r *http.Request, c events.Caller) {
	p, ok, err := catalogs.PresetByName(r.PathValue("name"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !ok {
		writeError(w, r, http.StatusNotFound, "presetNotFound", "no preset "+r.PathValue("name")+"; list them with GET /v1/presets")
		return
	}
	roles := make([]command.CreateRole, 0, len(p.Roles))
	for _, role := range p.Roles {
		roles = append(roles, command.CreateRole{RoleName: role.RoleName, AdminRole: role.AdminRole,
			IsWildcard: role.IsWildcard, Description: role.Description, Permissions: role.Permissions})
	}
	out, err := a.Commands.ApplyPreset(r.Context(), meta(r, c, "preset "+p.Name), roles)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"preset": p.Name, "roles": out})
}

func (a *api) loadScopes(w http.ResponseWriter, r *http.Request, c events.Caller) {
	scopes, err := catalogs.Scopes(r.PathValue("name"))
	if err != nil {
		writeError(w, r, http.StatusNotFound, "catalogNotFound", "no scope catalog "+r.PathValue("name")+" (try hathora or vastai)")
		return
	}
	// Included scopes first: a scope may only include defined scopes.
	done := map[string]bool{}
	var rev uint64
	for len(done) < len(scopes) {
		progress := false
		for _, s := range scopes {
			if done[s.Name] || !includesDone(s.Includes, done) {
				continue
			}
			rv, err := a.Commands.DefineScope(r.Context(), loopMeta(r, c, "catalog "+r.PathValue("name")), s.Name,
				command.DefineScope{Description: s.Description, Permissions: s.Permissions, Includes: s.Includes})
			if err != nil {
				a.fail(w, r, err)
				return
			}
			rev, done[s.Name], progress = rv, true, true
		}
		if !progress {
			writeError(w, r, http.StatusInternalServerError, "catalogCycle", "the catalog's includes form a cycle")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"catalog": r.PathValue("name"), "scopes": len(scopes), "revision": rev})
}

func includesDone(inc []string, done map[string]bool) bool {
	for _, n := range inc {
		if !done[n] {
			return false
		}
	}
	return true
}

func (a *api) loadEndpoints(w http.ResponseWriter, r *http.Request, c events.Caller) {
	eps, err := catalogs.Endpoints(r.PathValue("name"))
	if err != nil {
		writeError(w, r, http.StatusNotFound, "catalogNotFound", "no endpoint catalog "+r.PathValue("name")+" (try accelbyte or hathora)")
		return
	}
	var rev uint64
	for _, e := range eps {
		rev, err = a.Commands.RegisterEndpoint(r.Context(), loopMeta(r, c, "catalog "+r.PathValue("name")), e.Service, e.Name,
			command.RegisterEndpoint{Method: e.Method, Path: e.Path, Resource: e.Resource, Action: e.Action})
		if err != nil {
			a.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"catalog": r.PathValue("name"), "endpoints": len(eps), "revision": rev})
}

// loopMeta is meta for one of several commands of one request: each gets its
// own command id (an Idempotency-Key would make them one).
func loopMeta(r *http.Request, c events.Caller, reason string) command.Meta {
	m := meta(r, c, reason)
	m.CommandID = ""
	return m
}
