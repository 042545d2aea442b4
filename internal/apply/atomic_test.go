package apply_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/internal/apply"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

// TestApplyIsAllOrNothing: a plan the server refuses at its last step (the
// state changed after it was planned: the role its assignment names was
// deleted) stores nothing of the plan; planned again, it applies whole at
// one revision.
func TestApplyIsAllOrNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	srv, err := server.New(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: testutil.Quiet})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	require.Eventually(t, srv.Ready, 10*time.Second, 10*time.Millisecond)
	tok, err := os.ReadFile(filepath.Join(dir, auth.BootstrapTokenFile))
	require.NoError(t, err)
	cl := client.New("http://"+srv.HTTPAddr(), strings.TrimSpace(string(tok)))

	doomed, err := cl.CreateRole(ctx, client.CreateRole{RoleName: "Doomed"})
	require.NoError(t, err)
	want, err := apply.Parse(strings.NewReader(`apiVersion: grantlog/v1
kind: Role
spec:
  name: Clerk
  permissions:
    - {resource: "NAMESPACE:{namespace}:ORDER", action: R}
---
apiVersion: grantlog/v1
kind: Namespace
spec: {name: shop, defaultRoles: [Clerk]}
---
apiVersion: grantlog/v1
kind: Assignment
spec: {namespace: shop, user: u1, role: Clerk, assignedNamespaces: [shop]}
---
apiVersion: grantlog/v1
kind: Assignment
spec: {namespace: shop, user: u2, role: Doomed, assignedNamespaces: [shop]}
`), "plan.yaml")
	require.NoError(t, err)
	st, err := apply.Read(ctx, cl)
	require.NoError(t, err)
	plan, err := apply.NewPlan(want, st, false)
	require.NoError(t, err)
	require.Len(t, plan.Steps, 4)

	// Another writer deletes the role the last step assigns.
	rev, err := cl.DeleteRole(ctx, doomed.RoleID)
	require.NoError(t, err)
	_, err = plan.Apply(ctx, cl, st, "atomic test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nothing was changed")
	assert.Contains(t, err.Error(), "steps[3]")
	after, err := apply.Read(ctx, cl)
	require.NoError(t, err)
	assert.Equal(t, rev, after.Revision, "no event was stored")
	_, has := after.RoleIDs["Clerk"]
	assert.False(t, has, "the role the first step creates is not there")

	// Without the doomed assignment the plan applies whole, at one revision.
	want.Assignments = want.Assignments[:1]
	plan, err = apply.NewPlan(want, after, false)
	require.NoError(t, err)
	res, err := plan.Apply(ctx, cl, after, "atomic test")
	require.NoError(t, err)
	assert.Equal(t, 3, res.Applied)
	assert.Equal(t, rev+3, res.Revision, "three events at consecutive revisions")
	ok, err := cl.Check(ctx, &client.CheckRequest{Subject: client.Subject{Type: "user", ID: "u1"}, Namespace: "shop",
		Resource: "NAMESPACE:shop:ORDER", Action: 2, AtLeastRevision: res.Revision})
	require.NoError(t, err)
	assert.True(t, ok.Allowed)
}
