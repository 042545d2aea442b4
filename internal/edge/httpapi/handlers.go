package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/checkjson"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

type createRoleBody struct {
	command.CreateRole
	Reason string `json:"reason"`
}

func (a *api) createRole(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body createRoleBody
	if !decode(w, r, &body) {
		return
	}
	ev, rev, err := a.Commands.CreateRole(r.Context(), meta(r, c, body.Reason), body.CreateRole)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeRole(w, r, c, ev.RoleID, rev, http.StatusCreated)
}

type pageResponse[T any] struct {
	Data     []T    `json:"data"`
	Paging   paging `json:"paging"`
	Revision uint64 `json:"revision"`
}

type paging struct {
	Next string `json:"next,omitempty"`
}

func (a *api) listRoles(w http.ResponseWriter, r *http.Request, c events.Caller) {
	o, ok := readOptions(w, r, c)
	if !ok {
		return
	}
	limit, ok := limitParam(w, r)
	if !ok {
		return
	}
	p, err := a.Query.ListRoles(r.Context(), o, r.URL.Query().Get("after"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageResponse[query.Role]{Data: p.Data, Paging: paging{Next: p.Next}, Revision: p.Revision})
}

func (a *api) writeRole(w http.ResponseWriter, r *http.Request, c events.Caller, roleID string, atLeast uint64, status int) {
	role, _, err := a.Query.GetRole(r.Context(), query.ReadOptions{Caller: c, AtLeastRevision: atLeast}, roleID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, status, role)
}

func (a *api) getRole(w http.ResponseWriter, r *http.Request, c events.Caller) {
	o, ok := readOptions(w, r, c)
	if !ok {
		return
	}
	a.writeRole(w, r, c, r.PathValue("roleId"), o.AtLeastRevision, http.StatusOK)
}

type updateRoleBody struct {
	command.UpdateRole
	Reason string `json:"reason"`
}

func (a *api) updateRole(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body updateRoleBody
	if !decode(w, r, &body) {
		return
	}
	rev, err := a.Commands.UpdateRole(r.Context(), meta(r, c, body.Reason), r.PathValue("roleId"), body.UpdateRole)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeRole(w, r, c, r.PathValue("roleId"), rev, http.StatusOK)
}

type revisionResponse struct {
	Revision uint64 `json:"revision"`
}

// writeRevision answers a command that returns only its revision.
func (a *api) writeRevision(w http.ResponseWriter, r *http.Request, status int, rev uint64, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, status, revisionResponse{rev})
}

func (a *api) deleteRole(w http.ResponseWriter, r *http.Request, c events.Caller) {
	rev, err := a.Commands.DeleteRole(r.Context(), meta(r, c, r.URL.Query().Get("reason")), r.PathValue("roleId"))
	a.writeRevision(w, r, http.StatusOK, rev, err)
}

type permissionsBody struct {
	Permissions []perm.Permission `json:"permissions"`
	Reason      string            `json:"reason"`
}

func (a *api) changePermissions(op command.PermissionOp) func(http.ResponseWriter, *http.Request, events.Caller) {
	return func(w http.ResponseWriter, r *http.Request, c events.Caller) {
		var body permissionsBody
		if !decode(w, r, &body) {
			return
		}
		if body.Permissions == nil {
			writeError(w, r, http.StatusBadRequest, "invalidPermission", `body must have "permissions": [{"resource": "...", "action": 1-15}]`)
			return
		}
		rev, err := a.Commands.ChangePermissions(r.Context(), meta(r, c, body.Reason), r.PathValue("roleId"), op, body.Permissions)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeRole(w, r, c, r.PathValue("roleId"), rev, http.StatusOK)
	}
}

func (a *api) roleMembers(w http.ResponseWriter, r *http.Request, c events.Caller) {
	o, ok := readOptions(w, r, c)
	if !ok {
		return
	}
	limit, ok := limitParam(w, r)
	if !ok {
		return
	}
	p, err := a.Query.RoleMembers(r.Context(), o, r.PathValue("roleId"), r.URL.Query().Get("after"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageResponse[any]{Data: anySlice(p.Data), Paging: paging{Next: p.Next}, Revision: p.Revision})
}

func anySlice[T any](in []T) []any {
	out := make([]any, len(in))
	for i := range in {
		out[i] = in[i]
	}
	return out
}

type assignBody struct {
	RoleID             string     `json:"roleId"`
	AssignedNamespaces []string   `json:"assignedNamespaces"`
	NotBefore          *time.Time `json:"notBefore"`
	NotAfter           *time.Time `json:"notAfter"`
	Reason             string     `json:"reason"`
}

func (a *api) assignRole(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body assignBody
	if !decode(w, r, &body) {
		return
	}
	if body.RoleID == "" {
		writeError(w, r, http.StatusBadRequest, "invalidRoleId", `body must name the role: {"roleId": "...", "assignedNamespaces": ["..."]}`)
		return
	}
	rev, err := a.Commands.AssignRole(r.Context(), meta(r, c, body.Reason),
		r.PathValue("namespace"), r.PathValue("userId"), body.RoleID, body.AssignedNamespaces,
		command.AssignOptions{NotBefore: body.NotBefore, NotAfter: body.NotAfter})
	a.writeRevision(w, r, http.StatusCreated, rev, err)
}

func (a *api) unassignRole(w http.ResponseWriter, r *http.Request, c events.Caller) {
	rev, err := a.Commands.UnassignRole(r.Context(), meta(r, c, r.URL.Query().Get("reason")),
		r.PathValue("namespace"), r.PathValue("userId"), r.PathValue("roleId"))
	a.writeRevision(w, r, http.StatusOK, rev, err)
}

func (a *api) userRoles(w http.ResponseWriter, r *http.Request, c events.Caller) {
	o, ok := readOptions(w, r, c)
	if !ok {
		return
	}
	p, err := a.Query.UserRoles(r.Context(), o, r.PathValue("namespace"), r.PathValue("userId"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageResponse[query.UserRole]{Data: p.Data, Revision: p.Revision})
}

func (a *api) check(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var req query.CheckRequest
	if !decode(w, r, &req) {
		return
	}
	res, err := a.Query.CheckAs(r.Context(), c, &req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// MaxBatchBodyBytes bounds a bulk assignment body (10,000 assignments).
const MaxBatchBodyBytes = 8 << 20

type batchBody struct {
	Assignments []command.BatchAssignment `json:"assignments"`
	Reason      string                    `json:"reason"`
}

func (a *api) assignBatch(w http.ResponseWriter, r *http.Request, c events.Caller) {
	var body batchBody
	if !decodeLimit(w, r, &body, MaxBatchBodyBytes) {
		return
	}
	rev, err := a.Commands.AssignBatch(r.Context(), meta(r, c, body.Reason), r.PathValue("namespace"), body.Assignments)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"revision": rev, "count": len(body.Assignments)})
}

// checkBatch answers many checks at one revision (POST /v1/checks). It
// reads the body into a pooled buffer, decodes it with checkjson's fast
// path (the generic decoder, with its errors, for anything else) and
// writes the answer with checkjson's encoder: the same JSON as writeJSON.
func (a *api) checkBatch(w http.ResponseWriter, r *http.Request, c events.Caller) {
	bb := checkjson.GetBuffers()
	defer bb.Release()
	data, ok := readBody(w, r, &bb.In, MaxBodyBytes)
	if !ok {
		return
	}
	req := &bb.Req
	if !checkjson.DecodeBatchRequest(data, req) {
		req = &query.BatchRequest{}
		if !decodeFrom(w, r, data, req, MaxBodyBytes) {
			return
		}
	}
	if err := a.Query.CheckBatchAsInto(r.Context(), c, req, &bb.Res); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := checkjson.AppendBatchResult(bb.Out[:0], &bb.Res)
	if err != nil {
		a.fail(w, r, fmt.Errorf("httpapi: encode batch answer: %w", err))
		return
	}
	out = append(out, '\n') // as json.Encoder writes it
	bb.Out = out
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
