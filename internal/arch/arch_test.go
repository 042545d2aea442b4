package arch_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/grantlog/grantlog/internal/arch"
)

// goList runs go list with args in the module's root and decodes its
// stream of JSON objects.
func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list: decode: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

type listed struct {
	ImportPath string
	Imports    []string
	Export     string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// TestTiers checks the import graph of the module's production code (the
// Imports of go list: _test files excluded) against the tier rules.
func TestTiers(t *testing.T) {
	start := time.Now()
	graph := map[string][]string{}
	for _, p := range goList(t, "./...") {
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		graph[p.ImportPath] = p.Imports
	}
	if len(graph) < 20 {
		t.Fatalf("go list ./... found %d packages; is the test running in the module?", len(graph))
	}
	for _, v := range arch.Violations(graph) {
		t.Error(v)
	}
	t.Logf("%d packages checked in %v", len(graph), time.Since(start).Round(time.Millisecond))
}

// TestViolationsReports feeds the rule function a synthetic graph that
// breaks every rule once, and one that breaks none.
func TestViolationsReports(t *testing.T) {
	m := func(rel string) string { return arch.Module + "/" + rel }
	bad := map[string][]string{
		m("perm"):                    {m("events"), "github.com/robfig/cron/v3", "strings"}, // tier 0 imports ours
		m("events"):                  {"github.com/some/lib", "github.com/goccy/go-json"},   // tier 0 imports a new module
		m("internal/storage/index"):  {m("query"), "github.com/x/y"},                        // upward
		m("command"):                 {m("query")},                                          // command -> query
		m("query"):                   {m("command")},                                        // query -> command
		m("internal/edge/httpapi"):   {m("internal/testutil")},                              // support in production
		m("internal/server"):         {m("examples/follower")},                              // examples in production
		m("internal/newthing"):       {m("perm")},                                           // unclassified importer
		m("audit"):                   {m("internal/elsewhere")},                             // unclassified import
		m("internal/catalogs"):       {m("internal/edge/checkjson")},                        // upward
		m("projector"):               {m("internal/server")},                                // upward
		m("internal/storage/logsig"): {m("internal/auth")},                                  // upward
		m("internal/auth"):           {m("internal/edge/natsapi"), m("cmd/grantlog")},       // upward x2
	}
	got := arch.Violations(bad)
	want := []string{
		"perm (tier 0 (core)) imports " + m("events"),
		"events (tier 0 (core)) imports github.com/some/lib: tier 0 uses the standard library",
		"internal/storage/index (tier 1 (storage)) imports " + m("query"),
		"command imports " + m("query") + ": command and query never import each other",
		"query imports " + m("command") + ": command and query never import each other",
		"internal/edge/httpapi imports " + m("internal/testutil") + ": support packages",
		"internal/server imports " + m("examples/follower") + ": production code never imports examples/",
		"internal/newthing has no tier",
		"audit imports " + m("internal/elsewhere") + ", which has no tier",
		"internal/catalogs (tier 1 (storage)) imports " + m("internal/edge/checkjson"),
		"projector (tier 2 (domain)) imports " + m("internal/server"),
		"internal/storage/logsig (tier 1 (storage)) imports " + m("internal/auth"),
		"internal/auth (tier 2 (domain)) imports " + m("internal/edge/natsapi"),
		"internal/auth (tier 2 (domain)) imports " + m("cmd/grantlog"),
	}
	if len(got) != len(want) {
		t.Errorf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("missing violation %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}

	good := map[string][]string{
		m("perm"):                   {"strings"},
		m("events"):                 nil,
		m("internal/storage/index"): {m("perm"), m("events"), m("internal/storage/logsig")},
		m("internal/auth"):          {m("internal/storage/index"), m("events")},
		m("command"):                {m("internal/auth"), m("projector")},
		m("internal/edge/httpapi"):  {m("command"), m("query"), m("internal/edge/checkjson")},
		m("internal/server"):        {m("internal/edge/httpapi"), m("internal/catalogs")},
		m("cmd/grantbench"):         {m("internal/dataset"), m("client")},
		m("internal/testutil"):      {m("command"), m("query"), m("internal/dataset")},
		m("examples/follower"):      {m("client")},
		"golang.org/x/other":        {m("internal/server")}, // not ours: ignored
	}
	if got := arch.Violations(good); len(got) != 0 {
		t.Errorf("violations in a good graph:\n%s", strings.Join(got, "\n"))
	}
}

func TestClassify(t *testing.T) {
	for rel, want := range map[string]arch.Tier{
		"perm": arch.Core, "events": arch.Core,
		"internal/storage/eventlog": arch.Storage, "internal/catalogs": arch.Storage,
		"query": arch.Domain, "internal/auth": arch.Domain,
		"internal/edge/api": arch.Edge, "internal/edge/httpapi": arch.Edge,
		"cmd/grantlog": arch.Top, "examples/follower": arch.Top, "client": arch.Top,
		"internal/dataset": arch.Support,
		"internal/index":   arch.Unclassified, "queryx": arch.Unclassified, "": arch.Unclassified,
	} {
		if got := arch.Classify(arch.Module + "/" + rel); got != want {
			t.Errorf("Classify(%q) = %v, want %v", rel, got, want)
		}
	}
	if got := arch.Classify("github.com/other/perm"); got != arch.Unclassified {
		t.Errorf("a package outside the module is %v", got)
	}
}

// TestPublicAPIExposesNoInternalType reads the export data of the public
// packages (what another module compiles against) and walks their
// exported API.
func TestPublicAPIExposesNoInternalType(t *testing.T) {
	start := time.Now()
	args := []string{"-export", "-deps"}
	for _, p := range arch.PublicPackages {
		args = append(args, "./"+p)
	}
	exports := map[string]string{}
	for _, p := range goList(t, args...) {
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		exports[p.ImportPath] = p.Export
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		return readCloser{bufio.NewReader(f), f}, nil
	})
	for _, rel := range arch.PublicPackages {
		pkg, err := imp.Import(arch.Module + "/" + rel)
		if err != nil {
			t.Fatalf("import %s: %v", rel, err)
		}
		if pkg.Scope().Len() == 0 {
			t.Fatalf("%s: empty scope", rel)
		}
		for _, e := range arch.Exposed(pkg, arch.IsInternal) {
			t.Error(e)
		}
	}
	t.Logf("%d public packages checked in %v", len(arch.PublicPackages), time.Since(start).Round(time.Millisecond))
}

type readCloser struct {
	io.Reader
	io.Closer
}

// TestExposedReports type-checks a synthetic public package that exposes
// a synthetic internal type in every way Exposed looks at, and in ways
// that are fine.
func TestExposedReports(t *testing.T) {
	const internalPath = arch.Module + "/internal/fake"
	fset := token.NewFileSet()
	check := func(path, src string, imp types.Importer) *types.Package {
		t.Helper()
		f, err := parser.ParseFile(fset, path+".go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		pkg, err := (&types.Config{Importer: imp}).Check(path, fset, []*ast.File{f}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	fake := check(internalPath, `package fake
type Secret struct{}
type View interface{ Get() Secret }`, nil)
	imp := importerFunc(func(path string) (*types.Package, error) {
		if path == internalPath {
			return fake, nil
		}
		return nil, fmt.Errorf("unknown import %s", path)
	})
	pub := check(arch.Module+"/pub", `package pub
import "`+internalPath+`"
type Field struct{ S fake.Secret; ok fake.Secret }
type Embeds struct{ fake.View }
type Iface interface{ M(fake.Secret) }
type Methods struct{}
func (Methods) Leak() []fake.Secret { return nil }
func (Methods) fine() fake.Secret { return fake.Secret{} }
func Func(map[string]*fake.Secret) {}
var Var chan fake.View
type Alias = fake.Secret
type hidden struct{ S fake.Secret }
func Hidden() hidden { return hidden{} }
type Generic[T any] struct{ V T }
var Inst Generic[fake.Secret]
func private(fake.Secret) {}
type Clean struct{ N int; s fake.Secret }
func (*Clean) Do(x int) error { return nil }
`, imp)
	got := arch.Exposed(pub, arch.IsInternal)
	for _, w := range []string{
		"pub.Field.S exposes", "pub.Embeds.View exposes", "pub.Iface.M exposes",
		"pub.Methods.Leak exposes", "pub.Func exposes", "pub.Var exposes",
		"pub.Alias exposes", "pub.Hidden (hidden).S exposes", "pub.Inst exposes",
	} {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("Exposed missed %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
	for _, g := range got {
		for _, bad := range []string{"pub.Clean", "fine", "private", ".ok "} {
			if strings.Contains(g, bad) {
				t.Errorf("Exposed reported what is not exported: %s", g)
			}
		}
	}
	if !arch.IsInternal(internalPath) || arch.IsInternal(arch.Module+"/perm") || arch.IsInternal("example.com/internal/x") {
		t.Error("IsInternal is wrong")
	}
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
