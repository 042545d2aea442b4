package readme_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// snippetFile wraps a ```go block of the README in a function returning
// error, in a package with the imports the README's snippets use and the
// free variables they assume (ctx, req, password, stream, lastSeen, rev).
const snippetFile = `package snippet

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

var (
	ctx      context.Context
	req      *client.CheckRequest
	password string
	stream   jetstream.Stream
	lastSeen uint64
	rev      uint64
)

var (
	_ = fmt.Println
	_ = os.Getenv
	_ = time.Now
	_ = nats.Connect
	_ = audit.Decode
	_ = events.NewRegistry
	_ = perm.Read
)

func example() error {
//line README.md:%d
%s
	return nil
}
`

// TestREADMEGo compiles every ```go block of the README (not
// <!-- readme-test: skip -->), each as the body of a function, against the
// packages of this tree. Variables a snippet declares and does not use
// are allowed (a snippet shows calls, not a program).
func TestREADMEGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the README's Go snippets; not in -short")
	}
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// A module of its own that uses this tree's (replace) with its requirements.
	_, requires, _ := strings.Cut(string(mod), "\nrequire")
	gomod := "module readmesnippets\n\ngo 1.26\n\nrequire github.com/grantlog/grantlog v0.0.0\n\nreplace github.com/grantlog/grantlog => " +
		root + "\n\nrequire" + requires
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range parse(t, string(raw)) {
		if b.lang != "go" {
			continue
		}
		if b.skip != "" {
			t.Logf("skipped: README.md:%d: %s", b.line-1, b.skip)
			continue
		}
		pkg := filepath.Join(dir, fmt.Sprintf("s%d", b.line))
		if err := os.Mkdir(pkg, 0o700); err != nil {
			t.Fatal(err)
		}
		src := fmt.Sprintf(snippetFile, b.line, strings.Join(b.code, "\n"))
		if err := os.WriteFile(filepath.Join(pkg, "snippet.go"), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no go blocks in README.md")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-gcflags=-e", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Logf("%d go blocks compile", n)
		return
	}
	unused := regexp.MustCompile(`declared and not used|^#|^\s*$`)
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		if !unused.MatchString(l) {
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 {
		t.Errorf("the README's Go snippets do not compile:\n%s", strings.Join(bad, "\n"))
	}
}
