package perm_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/perm"
)

// goldenLine is one non-comment line of a testdata file.
type goldenLine struct {
	where  string // file:line, for failure messages
	fields []string
}

// readGolden returns the non-blank, non-comment lines of testdata/name split
// on sep, each with exactly want fields.
func readGolden(tb testing.TB, name, sep string, want int) []goldenLine {
	tb.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(tb, err)
	defer f.Close()
	var out []goldenLine
	sc := bufio.NewScanner(f)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := name + ":" + strconv.Itoa(lineNo)
		var first, rest string
		if strings.HasPrefix(line, `"`) {
			// A quoted first field may contain anything, the separator included.
			q, err := strconv.QuotedPrefix(line)
			require.NoError(tb, err, where)
			first, err = strconv.Unquote(q)
			require.NoError(tb, err, where)
			rest, _ = strings.CutPrefix(strings.TrimSpace(line[len(q):]), sep)
		} else {
			first, rest, _ = strings.Cut(line, sep)
			first = strings.TrimSpace(first)
		}
		fields := append([]string{first}, strings.SplitN(rest, sep, want-1)...)
		require.Len(tb, fields, want, "%s: %q", where, line)
		for i := 1; i < len(fields); i++ {
			fields[i] = strings.TrimSpace(fields[i])
		}
		out = append(out, goldenLine{where: where, fields: fields})
	}
	require.NoError(tb, sc.Err())
	return out
}

// tagCase is one line of testdata/tags.txt.
type tagCase struct {
	where, input string
	ok           bool
	want         string // canonical form, or error substring
}

func loadTagCases(tb testing.TB) []tagCase {
	tb.Helper()
	var cases []tagCase
	for _, l := range readGolden(tb, "tags.txt", "|", 3) {
		require.Contains(tb, []string{"ok", "error"}, l.fields[1], l.where)
		cases = append(cases, tagCase{where: l.where, input: l.fields[0], ok: l.fields[1] == "ok", want: l.fields[2]})
	}
	return cases
}

// matchCase is one line of testdata/match.txt.
type matchCase struct {
	where       string
	granted     perm.Permission
	required    string
	requiredAct perm.Action
	binding     perm.Binding
	allow       bool
}

func parseAction(tb testing.TB, where, s string) perm.Action {
	tb.Helper()
	n, err := strconv.ParseUint(s, 10, 8)
	require.NoError(tb, err, where)
	return perm.Action(n)
}

func loadMatchCases(tb testing.TB) []matchCase {
	tb.Helper()
	var cases []matchCase
	for _, l := range readGolden(tb, "match.txt", "|", 7) {
		f := l.fields
		c := matchCase{
			where:       l.where,
			granted:     perm.Permission{Resource: f[0], Action: parseAction(tb, l.where, f[1])},
			required:    f[2],
			requiredAct: parseAction(tb, l.where, f[3]),
		}
		if f[4] != "-" {
			c.binding.UserID = f[4]
		}
		if f[5] != "-" {
			c.binding.Namespaces = strings.Split(f[5], ",")
		}
		require.Contains(tb, []string{"allow", "deny"}, f[6], l.where)
		c.allow = f[6] == "allow"
		cases = append(cases, c)
	}
	return cases
}
