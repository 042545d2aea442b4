package server_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

func proposed(name string, req map[string]any) map[string]any {
	return map[string]any{"name": name, "request": req}
}

func perms(res string, a int) []map[string]any {
	return []map[string]any{{"resource": res, "action": a}}
}

// TestWhatIf: POST /v1/whatif (and grantlog.v1.cmd.whatif over NATS, with
// the same answer) reports who would gain and lose what, and the refused
// commands with their index and the real command's errorCode (an
// escalation included); nothing is appended (the next real command takes
// the very next revision); pages add up to the whole diff; a caller that
// may not check in a namespace sees nothing of it; and once the commands
// are applied for real, subject.permissions shows exactly the diff.
func TestWhatIf(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0"}, "")
	c := n.c
	c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleId": "wi-editor", "roleName": "WiEditor",
		"permissions": perms("NAMESPACE:{namespace}:DOC", 6)})
	c.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleId": "wi-viewer", "roleName": "WiViewer",
		"permissions": perms("NAMESPACE:{namespace}:DOC", 2)})
	for _, u := range []string{"u1", "u2"} {
		c.must(http.StatusCreated, "POST", "/v1/namespaces/wgame/users/"+u+"/roles", map[string]any{"roleId": "wi-editor", "assignedNamespaces": []string{"wgame"}})
	}
	c.must(http.StatusCreated, "POST", "/v1/namespaces/wgame/users/u9/roles", map[string]any{"roleId": "wi-viewer", "assignedNamespaces": []string{"wgame"}})

	body := map[string]any{"commands": []any{
		proposed("role.permissions.remove", map[string]any{"roleId": "wi-editor", "permissions": perms("NAMESPACE:{namespace}:DOC", 4)}),
		proposed("assign", map[string]any{"namespace": "wgame", "userId": "u3", "roleId": "wi-editor", "assignedNamespaces": []string{"wgame"}}),
		proposed("assign", map[string]any{"namespace": "wgame", "userId": "u4", "roleId": "no-such-role", "assignedNamespaces": []string{"wgame"}}),
		proposed("role.create", map[string]any{"roleName": "not valid!"}),
		proposed("token.issue", map[string]any{"namespace": "wgame"}),
		proposed("unassign", map[string]any{"namespace": "wgame", "userId": "u9", "roleId": "wi-viewer"}),
	}}
	status := c.must(http.StatusOK, "GET", "/v1/status", nil)
	out := c.must(http.StatusOK, "POST", "/v1/whatif", body)
	assert.Equal(t, status["revision"], out["revision"])
	changes := out["changes"].([]any)
	require.Len(t, changes, 4, "%v", changes)
	want := []string{
		"wgame user u1 +[] -[NAMESPACE:wgame:DOC=4]",
		"wgame user u2 +[] -[NAMESPACE:wgame:DOC=4]",
		"wgame user u3 +[NAMESPACE:wgame:DOC=2] -[]",
		"wgame user u9 +[] -[NAMESPACE:wgame:DOC=2]",
	}
	for i, ch := range changes {
		assert.Equal(t, want[i], describeChange(ch.(map[string]any)))
	}
	errs := out["errors"].([]any)
	require.Len(t, errs, 3)
	codes := map[int]string{}
	for _, e := range errs {
		m := e.(map[string]any)
		codes[int(m["index"].(float64))] = m["errorCode"].(string)
		assert.Contains(t, m["errorMessage"], fmt.Sprintf("commands[%d]", int(m["index"].(float64))))
	}
	realAssign := c.must(http.StatusNotFound, "POST", "/v1/namespaces/wgame/users/u4/roles", map[string]any{"roleId": "no-such-role", "assignedNamespaces": []string{"wgame"}})
	realName := c.must(http.StatusBadRequest, "POST", "/v1/roles", map[string]any{"roleName": "not valid!"})
	assert.Equal(t, map[int]string{2: realAssign["errorCode"].(string), 3: realName["errorCode"].(string), 4: "invalidCommand"}, codes)

	// Over NATS: the same answer.
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: n.srv.NATSURL(), CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	viaNATS := mustCmd(t, nc, "whatif", c.token, "", body)
	assert.Equal(t, out["changes"], viaNATS["changes"])
	assert.Equal(t, out["errors"], viaNATS["errors"])
	reply := natsCmd(t, nc, "whatif", c.token, "", map[string]any{"commands": []any{}})
	assert.Equal(t, "400", reply.Header.Get(micro.ErrorCodeHeader))
	reply = natsCmd(t, nc, "whatif", "", "", body)
	assert.Equal(t, "401", reply.Header.Get(micro.ErrorCodeHeader))

	// Pages of one add up to the whole list.
	var paged []any
	after := ""
	for range 10 {
		p := c.must(http.StatusOK, "POST", "/v1/whatif?limit=1"+after, body)
		paged = append(paged, p["changes"].([]any)...)
		next, _ := p["paging"].(map[string]any)["next"].(string)
		if next == "" {
			break
		}
		after = "&after=" + next
	}
	assert.Equal(t, changes, paged)
	c.must(http.StatusBadRequest, "POST", "/v1/whatif?after=nonsense", body)
	c.must(http.StatusBadRequest, "POST", "/v1/whatif", map[string]any{"commands": []any{}})
	c.must(http.StatusBadRequest, "POST", "/v1/whatif", map[string]any{"commands": []any{}, "bogus": 1})

	// An escalation is refused as the real command refuses it; a caller
	// that may not check in wgame sees no change there.
	cl := c.must(http.StatusCreated, "POST", "/v1/namespaces/ops/clients", map[string]any{"clientName": "wi-role-admin",
		"permissions": perms("ADMIN:ROLE", 15)})
	admin := c.basic(cl["clientId"].(string), cl["clientSecret"].(string))
	esc := map[string]any{"commands": []any{
		proposed("role.permissions.add", map[string]any{"roleId": "wi-editor", "permissions": perms("NAMESPACE:{namespace}:DOC", 15)}),
		proposed("role.permissions.remove", map[string]any{"roleId": "wi-editor", "permissions": perms("NAMESPACE:{namespace}:DOC", 4)}),
	}}
	refused := admin.must(http.StatusOK, "POST", "/v1/whatif", esc)
	realEsc := admin.do
	code, realOut := realEsc("POST", "/v1/roles/wi-editor/permissions", map[string]any{"permissions": perms("NAMESPACE:{namespace}:DOC", 15)})
	require.Equal(t, http.StatusForbidden, code, "%v", realOut)
	require.Len(t, refused["errors"], 1)
	e0 := refused["errors"].([]any)[0].(map[string]any)
	assert.EqualValues(t, 0, e0["index"])
	assert.Equal(t, realOut["errorCode"], e0["errorCode"])
	assert.Empty(t, refused["changes"], "the caller may not check in wgame: its changes are withheld")
	assert.Equal(t, true, refused["withheld"])

	// Nothing was appended: the next real command takes the next revision.
	c.must(http.StatusOK, "GET", "/v1/roles/wi-editor", nil)
	applied := c.must(http.StatusOK, "DELETE", "/v1/roles/wi-editor/permissions", map[string]any{"permissions": perms("NAMESPACE:{namespace}:DOC", 4)})
	lastRev := int(num(status["revision"]))
	assert.Equal(t, lastRev+2, int(num(applied["revision"])), "the what-ifs appended nothing (one client was created since)")

	// Applied for real, subject.permissions shows what the what-if said.
	c.must(http.StatusCreated, "POST", "/v1/namespaces/wgame/users/u3/roles", map[string]any{"roleId": "wi-editor", "assignedNamespaces": []string{"wgame"}})
	c.must(http.StatusOK, "DELETE", "/v1/namespaces/wgame/users/u9/roles/wi-viewer", nil)
	for _, u := range []string{"u1", "u2", "u3"} {
		p := c.must(http.StatusOK, "GET", "/v1/namespaces/wgame/subjects/user/"+u+"/permissions", nil)
		data := p["data"].([]any)
		require.Len(t, data, 1, u)
		assert.Equal(t, "NAMESPACE:wgame:DOC", data[0].(map[string]any)["resource"])
		assert.Equal(t, 2, int(num(data[0].(map[string]any)["action"])))
	}
	p := c.must(http.StatusOK, "GET", "/v1/namespaces/wgame/subjects/user/u9/permissions", nil)
	assert.Empty(t, p["data"])
}

func describeChange(ch map[string]any) string {
	list := func(v any) []string {
		out := []string{}
		for _, p := range v.([]any) {
			m := p.(map[string]any)
			out = append(out, fmt.Sprintf("%s=%d", m["resource"], int(m["action"].(float64))))
		}
		return out
	}
	sub := ch["subject"].(map[string]any)
	return fmt.Sprintf("%s %s %s +%v -%v", ch["namespace"], sub["type"], sub["id"], list(ch["gained"]), list(ch["lost"]))
}
