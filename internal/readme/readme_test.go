package readme_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/testutil"
)

// The README's examples are tested: TestREADME runs every ```sh block of
// README.md, in order, with bash, against one fresh server, and compares
// each block's output with the ```text block that follows it. The
// conventions (README.md, "Development"):
//
//   - <!-- readme-test: skip REASON --> on the line before a block skips it
//     (the test logs the skipped blocks and their reasons).
//   - <!-- readme-test: needs nats --> runs the block with the nats CLI
//     (from PATH, $TOOLS_BIN or the repository's bin, where
//     scripts/tools.sh nats installs it), NATS_URL set to the server's;
//     without it the block is skipped, unless CI_REQUIRE_NATS_CLI=1 (.ci/run
//     installs it), and TestREADMENATS sends its requests with nats.go.
//   - <!-- readme-test: needs docker --> marks a block that needs a Docker
//     engine and the two-region docker-compose.yml: TestREADME skips it
//     (scripts/compose-test.sh runs that story, and runs the blocks
//     themselves against its project), TestREADMEDocker checks that the
//     scripts, services and subcommands it names exist.
//   - A ```text block right after a ```sh block (blank lines between only)
//     is the sh block's expected output: stdout and stderr together,
//     compared with all whitespace removed, "…" matching any text (ids,
//     times, secrets).
//   - A sh block with no ```text block must not print an API error
//     ("errorCode").
//   - A command that fails (non-zero exit) fails the test unless its line
//     says "exit N" (a comment), N being its exit status.
//   - The blocks run in the directory holding the server's data directory
//     grantlog-data, with a grantlog binary built from this tree first on
//     PATH, XDG_CONFIG_HOME in a temp dir, and 127.0.0.1:8080 and
//     nats://127.0.0.1:4222 rewritten to the test server's addresses, and
//     GRANTLOG_URL set to the server's URL (the default, 127.0.0.1:8080,
//     of the commands that take no context).

const readmePath = "../../README.md"

type block struct {
	lang     string
	line     int // README line of the first line of code
	code     []string
	skip     string // reason, "" when the block runs
	needs    string // a tool the block needs ("nats", "docker")
	expected *block // the ```text block that follows, if any
}

var (
	skipRE  = regexp.MustCompile(`^<!--\s*readme-test:\s*skip\s+(.*?)\s*-->$`)
	needsRE = regexp.MustCompile(`^<!--\s*readme-test:\s*needs\s+(\S+)\s*-->$`)
)

// parse returns README.md's fenced blocks, in order.
func parse(t *testing.T, text string) []*block {
	t.Helper()
	var (
		blocks  []*block
		cur     *block
		prev    string // the last non-blank line outside a block
		lastEnd = -1   // index in blocks of the block that just ended, while only blank lines follow
		lineNum int
		sc      = bufio.NewScanner(strings.NewReader(text))
	)
	for sc.Scan() {
		lineNum++
		l := sc.Text()
		if cur != nil {
			if strings.TrimSpace(l) == "```" {
				blocks = append(blocks, cur)
				lastEnd = len(blocks) - 1
				cur = nil
				prev = ""
				continue
			}
			cur.code = append(cur.code, l)
			continue
		}
		if strings.HasPrefix(l, "```") {
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(l, "```")), line: lineNum + 1}
			if m := skipRE.FindStringSubmatch(prev); m != nil {
				cur.skip = m[1]
			}
			if m := needsRE.FindStringSubmatch(prev); m != nil {
				cur.needs = m[1]
			}
			if cur.lang == "text" && lastEnd >= 0 && blocks[lastEnd].lang == "sh" {
				blocks[lastEnd].expected = cur
			}
			continue
		}
		if strings.TrimSpace(l) != "" {
			prev = strings.TrimSpace(l)
			lastEnd = -1
		}
	}
	if cur != nil {
		t.Fatalf("README.md: the block at line %d is not closed", cur.line-1)
	}
	return blocks
}

func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server and the README's examples; not in -short")
	}
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	natsCLI := findNATSCLI()
	var run []*block
	for _, b := range parse(t, string(raw)) {
		switch {
		case b.lang != "sh":
			continue
		case b.skip != "":
			t.Logf("skipped: README.md:%d: %s", b.line-1, b.skip)
		case b.needs == "nats" && natsCLI == "":
			if os.Getenv("CI_REQUIRE_NATS_CLI") == "1" {
				t.Fatalf("README.md:%d needs the nats CLI: install it with scripts/tools.sh nats", b.line-1)
			}
			t.Logf("skipped: README.md:%d: the nats CLI is not installed (scripts/tools.sh nats); TestREADMENATS sends its requests with nats.go", b.line-1)
		case b.needs == "docker":
			t.Logf("skipped: README.md:%d: needs Docker (scripts/compose-test.sh runs it)", b.line-1)
		case b.needs != "" && b.needs != "nats":
			t.Fatalf("README.md:%d: readme-test: needs %q: only nats and docker are known", b.line-1, b.needs)
		default:
			run = append(run, b)
		}
	}
	if len(run) < 10 {
		t.Fatalf("only %d runnable sh blocks in README.md: is the parser broken?", len(run))
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed: the README's examples are bash")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "grantlog"), "../../cmd/grantlog")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/grantlog: %v\n%s", err, out)
	}
	if natsCLI != "" {
		if err := os.Symlink(natsCLI, filepath.Join(bin, "nats")); err != nil {
			t.Fatal(err)
		}
	}
	if shimmed := shimTools(t, bin, "curl", "jq"); len(shimmed) > 0 {
		t.Logf("not installed (or GRANTLOG_README_SHIMS=1): %v; the test binary stands in for them", shimmed)
	}
	work := filepath.Join(tmp, "work")
	dataDir := filepath.Join(work, "grantlog-data")
	srv := startServer(ctx, t, dataDir)

	// One script: each block's output starts with a marker line; a failing
	// command prints its script line and exit status.
	var script strings.Builder
	script.WriteString("trap 'rc=$?; echo \"@@ERR $LINENO $rc@@\"' ERR\n")
	lines := 1
	origin := map[int]int{} // script line → README line
	rewrite := strings.NewReplacer("nats://127.0.0.1:4222", srv.NATSURL(), "127.0.0.1:8080", srv.HTTPAddr())
	for i, b := range run {
		fmt.Fprintf(&script, "echo; echo '@@BLOCK %d@@'\n", i)
		lines++
		for j, l := range b.code {
			script.WriteString(rewrite.Replace(l) + "\n")
			lines++
			origin[lines] = b.line + j
		}
	}
	script.WriteString("echo; echo '@@END@@'\n")

	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-s")
	cmd.Dir = work
	cmd.Stdin = strings.NewReader(script.String())
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"XDG_CONFIG_HOME="+filepath.Join(tmp, "config"),
		"HOME="+filepath.Join(tmp, "home"),
		// The README's server is at http://127.0.0.1:8080, the default
		// of the commands that take no context (grantlog audit).
		"GRANTLOG_URL=http://"+srv.HTTPAddr(), "GRANTLOG_TOKEN=",
		// The nats CLI's server (its default is nats://127.0.0.1:4222, the
		// README's), and no nats CLI context of the user's.
		"NATS_URL="+srv.NATSURL(), "NATS_CONTEXT=",
	)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	t.Logf("%d blocks ran in %v", len(run), time.Since(start).Round(time.Millisecond))
	if !bytes.Contains(out, []byte("@@END@@")) {
		t.Fatalf("the script did not finish:\n%s", out)
	}

	readme := strings.Split(string(raw), "\n")
	outputs := strings.Split(string(out), "@@BLOCK ")
	errRE := regexp.MustCompile(`@@ERR (\d+) (\d+)@@\n?`)
	for _, o := range outputs[1:] {
		nl := strings.IndexByte(o, '\n')
		i, _ := strconv.Atoi(strings.TrimSuffix(o[:nl], "@@"))
		b := run[i]
		got := strings.TrimSuffix(o[nl+1:], "@@END@@\n")
		for _, m := range errRE.FindAllStringSubmatch(got, -1) {
			sl, _ := strconv.Atoi(m[1])
			if !expectsExit(readme, origin[sl], m[2]) {
				t.Errorf("README.md:%d: exit status %s (say \"exit %s\" in a comment on the line when that is expected)\noutput:\n%s",
					origin[sl], m[2], m[2], got)
			}
		}
		got = errRE.ReplaceAllString(got, "")
		if b.expected == nil {
			if strings.Contains(got, `"errorCode"`) {
				t.Errorf("README.md:%d: an API error:\n%s", b.line-1, got)
			}
			continue
		}
		want := strings.Join(b.expected.code, "\n")
		if !matches(want, got) {
			t.Errorf("README.md:%d: the output differs from the README's (line %d)\nREADME:\n%s\ngot:\n%s",
				b.line-1, b.expected.line-1, want, got)
		}
	}
}

// expectsExit reports whether the command around README line n (1-based)
// says "exit rc" on one of its lines (continuation lines included).
func expectsExit(readme []string, n int, rc string) bool {
	if n < 1 || n > len(readme) {
		return false
	}
	from, to := n-1, n-1
	for from > 0 && strings.HasSuffix(readme[from-1], "\\") {
		from--
	}
	for to < len(readme)-1 && strings.HasSuffix(readme[to], "\\") {
		to++
	}
	for _, l := range readme[from : to+1] {
		if strings.Contains(l, "exit "+rc) {
			return true
		}
	}
	return false
}

// matches compares got with want with all whitespace removed, "…" in want
// matching any text.
func matches(want, got string) bool {
	strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
	parts := strings.Split(strip(want), "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re, err := regexp.Compile(`(?s)^` + strings.Join(parts, ".*?") + `$`)
	if err != nil {
		return false
	}
	return re.MatchString(strip(got))
}

// startServer runs a server (role all, embedded NATS on a free port) on
// dataDir until the test ends, and waits until it is ready.
func startServer(ctx context.Context, t *testing.T, dataDir string) *server.Server {
	t.Helper()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	srv, err := server.New(srvCtx, server.Config{DataDir: dataDir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Logger: testutil.Quiet})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(srvCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); !srv.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server is not ready after 20s")
		}
	}
	return srv
}

// findNATSCLI returns the nats CLI's path: on PATH, in $TOOLS_BIN, or in
// the repository's bin (scripts/tools.sh nats); "" when none is.
func findNATSCLI() string {
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	for _, dir := range []string{os.Getenv("TOOLS_BIN"), "../../bin"} {
		if dir == "" {
			continue
		}
		p, err := filepath.Abs(filepath.Join(dir, "nats"))
		if err != nil {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
