package readme_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// CI machines have Go and little else. When curl or jq is not installed
// (or GRANTLOG_README_SHIMS=1), the test binary stands in for them: it is
// linked into the script's PATH under those names, and TestMain runs the
// shim when invoked by one of them. The shims do what the README uses and
// nothing more: curl [-s] [-N] [-X METHOD] [-H HEADER]... [-d BODY] [-w '%{http_code}\n'] URL,
// and jq [-r] .field [FILE].

func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "curl":
		os.Exit(curlShim(os.Args[1:]))
	case "jq":
		os.Exit(jqShim(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// shimTools links the test binary into dir as each of tools that is not
// installed (every one with GRANTLOG_README_SHIMS=1) and returns their names.
func shimTools(t *testing.T, dir string, tools ...string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var shimmed []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err == nil && os.Getenv("GRANTLOG_README_SHIMS") != "1" {
			continue
		}
		if err := os.Symlink(self, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
		shimmed = append(shimmed, tool)
	}
	return shimmed
}

func curlShim(args []string) int {
	method, body, url, writeOut := "", "", "", ""
	var headers []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			i++
			if i >= len(args) {
				fmt.Fprintf(os.Stderr, "curl (shim): %s needs a value\n", a)
				os.Exit(2)
			}
			return args[i]
		}
		switch {
		case a == "-s" || a == "-N" || a == "-sN":
		case a == "-X":
			method = next()
		case strings.HasPrefix(a, "-X"):
			method = a[2:]
		case a == "-H":
			headers = append(headers, next())
		case a == "-d":
			body = next()
		case a == "-w":
			// Only what the README uses: %{http_code}, and \n.
			writeOut = next()
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(os.Stderr, "curl (shim): %s is not supported\n", a)
			return 2
		default:
			url = a
		}
	}
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	if method == "" {
		method = "GET"
		if body != "" {
			method = "POST"
		}
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		fmt.Fprintln(os.Stderr, "curl (shim):", err)
		return 3
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "curl (shim):", err)
		return 7
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return 56
	}
	if writeOut != "" {
		fmt.Print(strings.NewReplacer("%{http_code}", strconv.Itoa(resp.StatusCode), `\n`, "\n").Replace(writeOut))
	}
	return 0
}

func jqShim(args []string) int {
	raw, filter, file := false, "", ""
	for _, a := range args {
		switch {
		case a == "-r":
			raw = true
		case strings.HasPrefix(a, "."):
			filter = a
		default:
			file = a
		}
	}
	in := io.Reader(os.Stdin)
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "jq (shim):", err)
			return 2
		}
		defer func() { _ = f.Close() }()
		in = f
	}
	var v any
	if err := json.NewDecoder(in).Decode(&v); err != nil {
		fmt.Fprintln(os.Stderr, "jq (shim):", err)
		return 2
	}
	for _, k := range strings.Split(strings.TrimPrefix(filter, "."), ".") {
		if k == "" {
			continue
		}
		m, _ := v.(map[string]any)
		v = m[k]
	}
	if s, ok := v.(string); ok && raw {
		fmt.Println(s)
		return 0
	}
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
	return 0
}
