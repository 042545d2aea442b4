package index

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocListsEveryKeyKind fails when the key layout in doc.go misses a key
// kind (kind* constant) or a metadata key (key* variable) of the code.
func TestDocListsEveryKeyKind(t *testing.T) {
	raw, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	doc := string(raw)
	fs := token.NewFileSet()
	for _, file := range []string{"keys.go", "trust.go"} {
		f, err := parser.ParseFile(fs, file, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || (g.Tok != token.CONST && g.Tok != token.VAR) {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					switch {
					case strings.HasPrefix(n.Name, "kind"):
						lit, ok := vs.Values[i].(*ast.BasicLit)
						require.True(t, ok && lit.Kind == token.CHAR, "%s is not a character", n.Name)
						kind, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						assert.Regexp(t, `(?m)^//\s+n/(<ns>|_platform)/`+kind+`(/|\s)`, doc, "doc.go lists no key of kind %s (%q)", n.Name, kind)
					case strings.HasPrefix(n.Name, "key"):
						call, ok := vs.Values[i].(*ast.CallExpr)
						require.True(t, ok && len(call.Args) == 1, "%s is not []byte(\"...\")", n.Name)
						lit := call.Args[0].(*ast.BasicLit)
						key, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						written := strings.ReplaceAll(key, "\x00", `\x00`)
						assert.Contains(t, doc, "//\t"+written, "doc.go does not list %s (%q)", n.Name, key)
					}
				}
			}
		}
	}
}
