package readme_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEDocker checks the README's blocks marked "readme-test: needs
// docker" without Docker: the scripts they run exist and are executable,
// and the compose services they name are docker-compose.yml's.
// scripts/compose-test.sh runs the blocks themselves against its project.
func TestREADMEDocker(t *testing.T) {
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]bool{}
	inServices := false
	for _, line := range strings.Split(string(compose), "\n") {
		switch {
		case line == "services:":
			inServices = true
		case inServices && regexp.MustCompile(`^[a-z]`).MatchString(line):
			inServices = false
		case inServices && regexp.MustCompile(`^ {2}[a-z0-9-]+:`).MatchString(line):
			services[strings.TrimSpace(strings.SplitN(line, ":", 2)[0])] = true
		}
	}
	if len(services) < 10 {
		t.Fatalf("docker-compose.yml: found services %v", services)
	}
	scriptRE := regexp.MustCompile(`(?:^|\s)(scripts/[A-Za-z0-9._-]+)`)
	serviceRE := regexp.MustCompile(`docker compose (?:exec(?: -T)?|ps -q|logs|stop|start|restart) ([a-z0-9-]+)`)
	n := 0
	for _, b := range parse(t, string(raw)) {
		if b.needs != "docker" {
			continue
		}
		n++
		code := strings.Join(b.code, "\n")
		for _, m := range scriptRE.FindAllStringSubmatch(code, -1) {
			st, err := os.Stat(filepath.Join("..", "..", m[1]))
			if err != nil || st.Mode()&0o111 == 0 {
				t.Errorf("README.md:%d: %s: not an executable script of the repository (%v)", b.line, m[1], err)
			}
		}
		for _, m := range serviceRE.FindAllStringSubmatch(code, -1) {
			if !services[m[1]] {
				t.Errorf("README.md:%d: docker compose service %q is not in docker-compose.yml", b.line, m[1])
			}
		}
	}
	if n < 3 {
		t.Fatalf("README.md has %d blocks marked readme-test: needs docker; the Regions section has 3", n)
	}
}
