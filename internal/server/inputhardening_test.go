package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestReasonIsBoundedOnEveryCommand (issue 10, item 9): a reason over 1,024
// bytes, or with a control character, is refused with 400 invalidReason
// on every command, whether it comes in the body or, on DELETE, as the
// reason query parameter; nothing is appended.
func TestReasonIsBoundedOnEveryCommand(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	self := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Self",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:TOKEN", "action": 15}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/g/users/u/roles", map[string]any{"roleId": self["roleId"], "assignedNamespaces": []string{"g"}})
	tok := root.must(http.StatusCreated, "POST", "/v1/namespaces/g/tokens", map[string]any{"name": "mine",
		"owner": map[string]any{"type": "user", "id": "u"}, "permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:USER:{userId}:TOKEN", "action": 15}}})
	u := root.as(tok["token"].(string))
	head := streamHead(t, srv)

	long := strings.Repeat("x", 1025)
	for _, reason := range []string{long, "ok\x00", "bell\a", "esc\x1b[31m", "c1\u0085"} {
		q := "?reason=" + url.QueryEscape(reason)
		out := u.must(http.StatusBadRequest, "DELETE", "/v1/namespaces/g/tokens/"+tok["tokenId"].(string)+q, nil)
		assert.Equal(t, "invalidReason", out["errorCode"], "%q", reason)
		assert.Equal(t, "invalidReason", root.must(http.StatusBadRequest, "DELETE", "/v1/roles/"+self["roleId"].(string)+q, nil)["errorCode"])
		assert.Equal(t, "invalidReason", root.must(http.StatusBadRequest, "DELETE", "/v1/namespaces/g"+q, nil)["errorCode"])
		assert.Equal(t, "invalidReason", root.must(http.StatusBadRequest, "DELETE", "/v1/scopes/none"+q, nil)["errorCode"])
		assert.Equal(t, "invalidReason", root.must(http.StatusBadRequest, "POST", "/v1/roles",
			map[string]any{"roleName": "R", "reason": reason})["errorCode"])
		assert.Equal(t, "invalidReason", root.must(http.StatusBadRequest, "POST", "/v1/namespaces/g/users/v/roles",
			map[string]any{"roleId": self["roleId"], "assignedNamespaces": []string{"g"}, "reason": reason})["errorCode"])
	}
	assert.Equal(t, head, streamHead(t, srv), "nothing was appended")

	// At the limit, and with line breaks, a reason is fine.
	ok := strings.Repeat("y", 1020) + "\r\n\t."
	u.must(http.StatusOK, "DELETE", "/v1/namespaces/g/tokens/"+tok["tokenId"].(string)+"?reason="+url.QueryEscape(ok), nil)
}

// TestTextIsStrictUTF8WithoutControlCharacters (issue 10, item 9): invalid
// UTF-8 in a body is refused (encoding/json would store U+FFFD), and so are
// control characters in names and descriptions (a NUL would be stored as
// is), with a 400 JSON error; nothing is appended.
func TestTextIsStrictUTF8WithoutControlCharacters(t *testing.T) {
	srv, root := startServer(t, t.TempDir())
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "Plain", "description": "multi\nline\tdescription"})
	head := streamHead(t, srv)

	for _, c := range []struct{ method, path, body, code string }{
		{"POST", "/v1/roles", `{"roleName": "R1", "description": "a` + "\xff" + `b"}`, "invalidUtf8"},
		{"POST", "/v1/roles", `{"roleName": "R1", "description": "` + "\xc3\x28" + `"}`, "invalidUtf8"},
		{"POST", "/v1/namespaces/g/clients", `{"clientName": "bot` + "\xed\xa0\x80" + `"}`, "invalidUtf8"},
		{"POST", "/v1/roles", `{"roleName": "R1", "description": "a\u0000b"}`, "invalidDescription"},
		{"POST", "/v1/roles", `{"roleName": "R1", "description": "\u001b[31mred"}`, "invalidDescription"},
		{"PATCH", "/v1/roles/" + role["roleId"].(string), `{"description": "nul\u0000"}`, "invalidDescription"},
		{"POST", "/v1/namespaces/g/clients", `{"clientName": "bot\u0000"}`, "invalidName"},
		{"POST", "/v1/namespaces/g/clients", `{"clientName": "bot\u0085"}`, "invalidName"},
		{"POST", "/v1/namespaces/g/tokens", `{"name": "t\u009b", "permissions": [{"resource": "NAMESPACE:g:X", "action": 2}]}`, "invalidName"},
		{"PUT", "/v1/scopes/s1", `{"description": "x\u0000", "permissions": [{"resource": "X", "action": 2}]}`, "invalidDescription"},
		{"PUT", "/v1/endpoints/svc/ep", `{"method": "GET", "path": "/a\u0000", "resource": "X", "action": 2}`, "invalidEndpoint"},
		{"POST", "/v1/namespaces", `{"namespace": "bad\u0000"}`, "invalidNamespace"},
		{"POST", "/v1/roles", `{"roleName": "R1", "reason": "why\u0000"}`, "invalidReason"},
	} {
		out := root.must(http.StatusBadRequest, c.method, c.path, c.body)
		assert.Equal(t, c.code, out["errorCode"], "%s %s %q: %v", c.method, c.path, c.body, out)
		assert.NotEmpty(t, out["errorMessage"])
	}
	assert.Equal(t, head, streamHead(t, srv), "nothing was appended")
}
