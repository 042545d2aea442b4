package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const applyDocs = `apiVersion: grantlog/v1
kind: Role
spec:
  name: OrderClerk
  description: Reads and updates orders
  permissions:
    - resource: NAMESPACE:{namespace}:USER:{userId}:ORDER
      action: RU
---
apiVersion: grantlog/v1
kind: Namespace
spec:
  name: applystudio
  defaultRoles: [OrderClerk]
---
apiVersion: grantlog/v1
kind: Namespace
spec:
  name: applygame
  parent: applystudio
  defaultRoles: []
---
apiVersion: grantlog/v1
kind: Scope
spec:
  name: orders-read
  permissions:
    - {resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", action: R}
---
apiVersion: grantlog/v1
kind: Endpoint
spec: {service: shop, name: getOrder, method: GET, path: "/orders/{id}", resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", action: R}
---
apiVersion: grantlog/v1
kind: Assignment
spec:
  namespace: applygame
  user: u1
  role: OrderClerk
  assignedNamespaces: [applygame]
  notAfter: 2099-01-01T00:00:00Z
`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

func TestApplyAndExport(t *testing.T) {
	url, tokenFile := startNode(t)
	e := newCLIEnv(t)
	e.ok("context", "add", "local", "--url", url, "--token-file", tokenFile)
	e.ok("context", "use", "local")

	help := e.ok("apply", "--help")
	assert.Contains(t, help, "kind: Assignment", "the format is in --help")

	// A plan whose last step is invalid changes nothing.
	bad := writeFile(t, "bad.yaml", applyDocs+`---
apiVersion: grantlog/v1
kind: Assignment
spec: {namespace: applygame, user: u2, role: NoSuchRole, assignedNamespaces: [applygame]}
`)
	before := e.ok("export")
	code, out, errOut := e.run(nil, "apply", "-f", bad)
	assert.Equal(t, 3, code, out)
	assert.Contains(t, errOut, `role "NoSuchRole" does not exist`)
	assert.Contains(t, errOut, "nothing was changed")
	assert.Equal(t, before, e.ok("export"), "nothing was written")

	// Dry run: the plan, nothing changed.
	good := writeFile(t, "good.yaml", applyDocs)
	out = e.ok("apply", "-f", good, "--dry-run")
	for _, want := range []string{
		"+ create Role OrderClerk", "+ NAMESPACE:{namespace}:USER:{userId}:ORDER RU",
		"+ create Namespace applystudio", "+ create Namespace applygame", "+ create Scope orders-read",
		"+ create Endpoint shop/getOrder", "+ create Assignment applygame/u1/OrderClerk",
		"Plan: 6 to create, 0 to change, 0 to delete", "Dry run: nothing was changed.",
		// The effective-permission diff the server computes (POST /v1/whatif).
		"Effective permissions (what-if at revision",
		"user u1 in applygame: +NAMESPACE:applygame:USER:u1:ORDER RU",
		"every user in applystudio: +NAMESPACE:applystudio:USER:{userId}:ORDER RU",
	} {
		assert.Contains(t, out, want)
	}
	assert.Equal(t, before, e.ok("export"), "a dry run writes nothing")

	// Apply creates; then the same file is an empty plan.
	out = e.ok("apply", "-f", good, "--reason", "apply test")
	assert.Regexp(t, `Applied 6 changes at revision \d+\.`, out)
	assert.Contains(t, e.ok("role", "get", "OrderClerk", "-o", "yaml"), "roleName: OrderClerk")
	code, _, errOut = e.run(nil, "check", "--namespace", "applygame", "--user", "u1", "NAMESPACE:applygame:USER:u1:ORDER", "RU")
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, e.ok("apply", "-f", good), "No changes")

	// export → apply (stdin) is an empty plan, and export lists what was applied.
	exported := e.ok("export")
	for _, want := range []string{"kind: Assignment", "role: OrderClerk", "notAfter: 2099-01-01T00:00:00Z", "parent: applystudio", "action: RU", "  defaultRoles:\n    - OrderClerk\n"} {
		assert.Contains(t, exported, want)
	}
	assert.Contains(t, e.ok("apply", "-f", writeFile(t, "export.yaml", exported), "--dry-run"), "No changes")

	// A change: permission-level diff and who gains or loses it.
	changed := strings.Replace(applyDocs, "      action: RU\n", "      action: R\n    - resource: NAMESPACE:{namespace}:USER:{userId}:CART\n      action: C\n", 1)
	changed = strings.Replace(changed, "description: Reads and updates orders", "description: Reads orders\n  adminRole: true", 1)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "all.yml"), []byte(changed), 0o600))
	out = e.ok("apply", "-f", dir, "--dry-run")
	assert.Contains(t, out, "~ change Role OrderClerk")
	assert.Contains(t, out, "~ NAMESPACE:{namespace}:USER:{userId}:ORDER RU -> R")
	assert.Contains(t, out, "+ NAMESPACE:{namespace}:USER:{userId}:CART C")
	assert.Contains(t, out, "lose NAMESPACE:{namespace}:USER:{userId}:ORDER U: applygame/u1")
	assert.Contains(t, out, "gain NAMESPACE:{namespace}:USER:{userId}:CART C: applygame/u1, applystudio/* (default role)")
	assert.Contains(t, out, "Plan: 0 to create, 1 to change, 0 to delete")
	assert.Contains(t, out, "user u1 in applygame: +NAMESPACE:applygame:USER:u1:CART C -NAMESPACE:applygame:USER:u1:ORDER U")
	assert.Contains(t, out, "every user in applystudio: +NAMESPACE:applystudio:USER:{userId}:CART C -NAMESPACE:applystudio:USER:{userId}:ORDER U")
	assert.NotContains(t, out, "delete Role", "nothing is pruned without --prune")
	assert.Contains(t, out, `description: "Reads and updates orders" -> "Reads orders"`)
	assert.Contains(t, out, "adminRole: false -> true")
	out = e.ok("apply", "-f", dir)
	assert.Contains(t, out, "Applied 1 changes")
	role := e.ok("role", "get", "OrderClerk", "-o", "yaml")
	assert.Contains(t, role, "description: Reads orders")
	assert.Contains(t, role, "adminRole: true")
	code, _, _ = e.run(nil, "check", "--namespace", "applygame", "--user", "u1", "NAMESPACE:applygame:USER:u1:ORDER", "U")
	assert.Equal(t, 1, code, "the update was taken away")

	// An assignment's window changes in place.
	later := strings.Replace(changed, "notAfter: 2099-01-01T00:00:00Z", "notAfter: 2098-01-01T00:00:00Z", 1)
	out = e.ok("apply", "-f", writeFile(t, "later.yaml", later))
	assert.Contains(t, out, "~ change Assignment applygame/u1/OrderClerk")
	assert.Contains(t, out, "window: -..2099-01-01T00:00:00Z -> -..2098-01-01T00:00:00Z")
	assert.Contains(t, out, "Applied 1 changes")
	changed = later

	// --prune: only with the flag are undeclared objects deleted.
	onlyRole := writeFile(t, "role.yaml", strings.SplitN(changed, "---\n", 2)[0])
	out = e.ok("apply", "-f", onlyRole, "--dry-run")
	assert.Contains(t, out, "No changes", "without --prune nothing is deleted")
	out = e.ok("apply", "-f", onlyRole, "--dry-run", "--prune")
	for _, want := range []string{"- delete Assignment applygame/u1/OrderClerk", "- delete Endpoint shop/getOrder",
		"- delete Scope orders-read", "- delete Namespace applygame", "- delete Namespace applystudio"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "delete Role OrderClerk")
	assert.Contains(t, e.ok("export"), "kind: Endpoint", "a dry run with --prune deletes nothing")

	// Pruning with the whole current state but one object deletes that one only.
	var keep []string
	for _, doc := range strings.Split(e.ok("export"), "---\n") {
		if !strings.Contains(doc, "kind: Endpoint") {
			keep = append(keep, doc)
		}
	}
	out = e.ok("apply", "-f", writeFile(t, "keep.yaml", strings.Join(keep, "---\n")), "--prune")
	assert.Contains(t, out, "- delete Endpoint shop/getOrder")
	assert.Contains(t, out, "Applied 1 changes")
	after := e.ok("export")
	assert.NotContains(t, after, "kind: Endpoint")
	assert.Contains(t, after, "role: OrderClerk")

	code, _, errOut = e.run(nil, "export", "-o", "json")
	assert.Equal(t, 2, code, errOut)
}
