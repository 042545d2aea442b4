package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/query"
)

func TestErrorOf(t *testing.T) {
	for _, tc := range []struct {
		err      error
		status   int
		code     string
		internal bool
	}{
		{&query.Error{Kind: query.ErrInvalid, Code: "invalidSubject", Message: "m"}, http.StatusBadRequest, "invalidSubject", false},
		{fmt.Errorf("wrapped: %w", &query.Error{Kind: query.ErrNotFound, Code: "endpointNotFound", Message: "m"}), http.StatusNotFound, "endpointNotFound", false},
		{&query.Error{Kind: query.ErrNotYet, Code: "revisionNotYetApplied", Message: "m", Revision: 7}, http.StatusServiceUnavailable, "revisionNotYetApplied", false},
		{&query.Error{Kind: query.ErrGone, Code: "revisionCompacted", Message: "m", Oldest: 5}, http.StatusGone, "revisionCompacted", false},
		{&query.Error{Kind: query.ErrUnavailable, Code: "historyUnavailable", Message: "m"}, http.StatusNotImplemented, "historyUnavailable", false},
		{&auth.Error{Kind: auth.ErrUnauthorized, Code: "unauthorized", Message: "m"}, http.StatusUnauthorized, "unauthorized", false},
		{&auth.Error{Kind: auth.ErrForbidden, Code: "forbidden", Message: "m"}, http.StatusForbidden, "forbidden", false},
		{&command.Error{Kind: command.ErrConflict, Code: "duplicateRoleName", Message: "m"}, http.StatusConflict, "duplicateRoleName", false},
		{&command.Error{Kind: command.ErrInvalid, Code: "invalidRoleName", Message: "m"}, http.StatusBadRequest, "invalidRoleName", false},
		{fmt.Errorf("audit: %w", audit.ErrInvalid), http.StatusBadRequest, "invalidFilter", false},
		{audit.ErrClosed, http.StatusServiceUnavailable, "shuttingDown", false},
		{api.Bad("malformedJson", "x"), http.StatusBadRequest, "malformedJson", false},
		{context.Canceled, http.StatusServiceUnavailable, "canceled", false},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", false},
		{errors.New("disk on fire"), http.StatusInternalServerError, "internal", true},
	} {
		e, internal := api.ErrorOf(tc.err)
		assert.Equal(t, tc.status, e.Status, "%v", tc.err)
		assert.Equal(t, tc.code, e.Code, "%v", tc.err)
		assert.Equal(t, tc.internal, internal, "%v", tc.err)
		assert.NotEmpty(t, e.Message, "%v", tc.err)
	}
	e, _ := api.ErrorOf(&query.Error{Kind: query.ErrNotYet, Code: "revisionNotYetApplied", Revision: 7})
	assert.Equal(t, uint64(7), e.Revision)
	e, _ = api.ErrorOf(fmt.Errorf("w: %w", &query.Error{Kind: query.ErrGone, Code: "revisionCompacted", Message: "m", Oldest: 5}))
	assert.Equal(t, uint64(5), e.OldestRevision, "410 names the oldest answerable revision")
	e, _ = api.ErrorOf(context.DeadlineExceeded)
	assert.Contains(t, e.Message, "Idempotency-Key", "a timeout says how to retry safely, on every edge")
}
