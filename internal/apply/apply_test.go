package apply

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeExample is the YAML example of the README's "Declarative apply".
func readmeExample(t *testing.T) string {
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, sec, ok := strings.Cut(string(raw), "## Declarative apply\n")
	require.True(t, ok)
	_, yml, ok := strings.Cut(sec, "```yaml\n")
	require.True(t, ok)
	yml, _, ok = strings.Cut(yml, "```")
	require.True(t, ok)
	return yml
}

func TestREADMEExamplePlans(t *testing.T) {
	s, err := Parse(strings.NewReader(readmeExample(t)), "README")
	require.NoError(t, err)
	assert.Len(t, s.Roles, 1)
	assert.Len(t, s.Namespaces, 2)
	assert.Len(t, s.Scopes, 1)
	assert.Len(t, s.Endpoints, 1)
	require.Len(t, s.Assignments, 1)
	assert.Equal(t, Action(6), s.Roles[0].Permissions[0].Action)

	st := &State{RoleIDs: map[string]string{}, Members: map[string][]Member{}, Implicit: map[string]bool{},
		Set: Set{Roles: []Role{{Name: "User", Permissions: []Permission{}}}}}
	p, err := NewPlan(s, st, false)
	require.NoError(t, err)
	var got []string
	for _, step := range p.Steps {
		got = append(got, step.Op+" "+step.Kind+" "+step.Key)
	}
	assert.Equal(t, []string{"create Role OrderClerk", "create Namespace studio1", "create Namespace game1",
		"create Scope orders-read", "create Endpoint shop/getOrder", "create Assignment game1/888/OrderClerk"}, got)

	// Without the User role the plan is invalid, as a whole.
	_, err = NewPlan(s, &State{RoleIDs: map[string]string{}, Members: map[string][]Member{}, Implicit: map[string]bool{}}, false)
	require.Error(t, err)
	assert.True(t, IsInvalid(err))
	assert.Contains(t, err.Error(), `default role "User" does not exist`)
}

func TestParseRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: grantlog/v1\nkind: Role\nspec: {name: A, permision: []}\n",
		"unknown kind":  "apiVersion: grantlog/v1\nkind: Rolle\nspec: {name: A}\n",
		"version":       "apiVersion: v2\nkind: Role\nspec: {name: A}\n",
		"action":        "apiVersion: grantlog/v1\nkind: Role\nspec: {name: A, permissions: [{resource: X, action: RX}]}\n",
	} {
		_, err := Parse(strings.NewReader(doc), name)
		assert.Error(t, err, name)
	}
}

func TestPermDiff(t *testing.T) {
	lines, gained, lost := permDiff(
		[]Permission{{"A", 6}, {"B", 2}},
		[]Permission{{"A", 3}, {"C", 1}})
	assert.Equal(t, []string{"~ A RU -> CR", "+ C C", "- B R"}, lines)
	assert.Equal(t, []Permission{{"A", 1}, {"C", 1}}, gained)
	assert.Equal(t, []Permission{{"A", 4}, {"B", 2}}, lost)
}

func TestLoad(t *testing.T) {
	doc := "apiVersion: grantlog/v1\nkind: Role\nspec: {name: A, permissions: [{resource: X, action: 2}]}\n"
	s, err := Load("-", strings.NewReader(doc))
	require.NoError(t, err)
	require.Len(t, s.Roles, 1)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(dir+"/a.yaml", []byte(doc), 0o600))
	require.NoError(t, os.WriteFile(dir+"/b.yml", []byte("---\n"+strings.Replace(doc, "name: A", "name: B", 1)), 0o600))
	require.NoError(t, os.WriteFile(dir+"/c.txt", []byte("not yaml: ["), 0o600))
	s, err = Load(dir, nil)
	require.NoError(t, err)
	require.Len(t, s.Roles, 2)
	assert.Equal(t, "B", s.Roles[1].Name)
}

func TestPruneKeepsDefaultRoles(t *testing.T) {
	user := []string{"User"}
	st := &State{RoleIDs: map[string]string{"User": "id"}, Members: map[string][]Member{}, Implicit: map[string]bool{},
		Set: Set{Roles: []Role{{Name: "User"}}, Namespaces: []Namespace{{Name: "ns1", DefaultRoles: &user}}}}
	want := Set{Namespaces: []Namespace{{Name: "ns1"}}}
	p, err := NewPlan(want, st, false)
	require.NoError(t, err)
	assert.True(t, p.Empty(), "without --prune the role stays")
	_, err = NewPlan(want, st, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "default role User is not declared")
	p, err = NewPlan(Set{Namespaces: want.Namespaces, Roles: []Role{{Name: "User"}}}, st, true)
	require.NoError(t, err)
	assert.True(t, p.Empty())
}
