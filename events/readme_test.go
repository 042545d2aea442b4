package events_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
)

// typeConstants returns the value of every Type* string constant declared in
// the package's (non-test) files.
func typeConstants(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var out []string
	fs := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fs, name, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Type") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					require.True(t, ok && lit.Kind == token.STRING, "%s is not a string literal", n.Name)
					v, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					out = append(out, v)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestReadmeNamesEveryEventType fails when the list of event types in
// README.md's section on the event log (a public contract) misses a type
// of the package.
func TestReadmeNamesEveryEventType(t *testing.T) {
	types := typeConstants(t)
	// Every constant is a registered type and every registered type has a
	// constant, so the constants are the whole list.
	assert.Equal(t, events.NewRegistry().Types(), types)

	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	// The list is in the section on the event log.
	_, section, ok := strings.Cut(string(raw), "\n## The event log")
	require.True(t, ok, `README.md has no "## The event log" section`)
	section, _, _ = strings.Cut(section, "\n## ")
	for _, typ := range types {
		assert.Contains(t, section, "`"+typ+"`", "README.md's event log section does not name event type %s", typ)
	}
}
