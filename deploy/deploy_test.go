// Package deploy_test checks that the deployment files agree with each
// other and with the code: deploy/Dockerfile, docker-compose.yml, the
// Kubernetes manifests of deploy/k8s and the NATS configurations of
// deploy/nats (images, ports, probes, users, secrets, volumes). It has no
// production code; scripts/compose-test.sh runs the compose file for real.
package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const (
	grantlogImage = "grantlog:local"
	natsImage     = "grantlog-nats:local"
	imageUser     = 65532
)

// doc is one YAML document, decoded loosely.
type doc = map[string]any

func readYAML(t *testing.T, path string) []doc {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []doc
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, path)
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// get walks m along path (map keys; ints index lists); nil when absent.
func get(m any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, ok := m.(map[string]any)
			if !ok {
				return nil
			}
			m = mm[k]
		case int:
			l, ok := m.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			m = l[k]
		}
	}
	return m
}

func str(m any, path ...any) string { s, _ := get(m, path...).(string); return s }

func list(m any, path ...any) []any { l, _ := get(m, path...).([]any); return l }

// natsConfs are the NATS configuration files, by base name.
func natsConfs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("nats/*.conf")
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		out[filepath.Base(f)] = string(raw)
	}
	require.Contains(t, out, "home.conf")
	require.Contains(t, out, "region.conf")
	return out
}

var envRefRE = regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)`)

// envRefs are the environment variables a NATS configuration reads.
func envRefs(conf string) []string {
	seen := map[string]bool{}
	for _, line := range strings.Split(conf, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range envRefRE.FindAllStringSubmatch(line, -1) {
			if m[1] != "JS" && m[1] != "SRV" && m[1] != "SYS" {
				seen[m[1]] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var confPortRE = regexp.MustCompile(`(?m)^(port|http):\s*(\d+)\s*$`)

// confPorts are the client (port) and monitoring (http) ports of a
// configuration.
func confPorts(t *testing.T, conf string) (client, monitor int) {
	for _, m := range confPortRE.FindAllStringSubmatch(conf, -1) {
		var n int
		_, err := fmt.Sscan(m[2], &n)
		require.NoError(t, err)
		if m[1] == "port" {
			client = n
		} else {
			monitor = n
		}
	}
	require.NotZero(t, client)
	require.NotZero(t, monitor)
	return client, monitor
}

// secretKeys are the variables scripts/compose-env.sh writes: the keys of
// the grantlog-nats Secret and of .env.
func secretKeys(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("bash", "../scripts/compose-env.sh").Output()
	require.NoError(t, err)
	var keys []string
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			assert.Regexp(t, `^[0-9a-f]{48}$`, v, "%s: hex, so it can stand in a leaf node URL", k)
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// TestNATSConfigMap: deploy/k8s/nats-config.yaml holds deploy/nats's
// home.conf and region.conf as they are (GRANTLOG_UPDATE_DEPLOY=1
// rewrites it).
func TestNATSConfigMap(t *testing.T) {
	confs := natsConfs(t)
	var b strings.Builder
	b.WriteString("# GENERATED from deploy/nats/home.conf and region.conf: run\n" +
		"#   GRANTLOG_UPDATE_DEPLOY=1 go test ./deploy/ -run TestNATSConfigMap\n" +
		"# The NATS configurations of nats-home.yaml and nats-region.yaml.\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: grantlog-nats-config\n" +
		"  labels: {app.kubernetes.io/part-of: grantlog}\ndata:\n")
	for _, name := range []string{"home.conf", "region.conf"} {
		fmt.Fprintf(&b, "  %s: |\n", name)
		for _, line := range strings.Split(strings.TrimRight(confs[name], "\n"), "\n") {
			if line == "" {
				b.WriteString("\n")
			} else {
				b.WriteString("    " + line + "\n")
			}
		}
	}
	const path = "k8s/nats-config.yaml"
	if os.Getenv("GRANTLOG_UPDATE_DEPLOY") != "" {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, b.String(), string(raw), "%s is stale: GRANTLOG_UPDATE_DEPLOY=1 go test ./deploy/ -run TestNATSConfigMap", path)
	docs := readYAML(t, path)
	require.Len(t, docs, 1)
	for _, name := range []string{"home.conf", "region.conf"} {
		assert.Equal(t, confs[name], str(docs[0], "data", name), "the ConfigMap's %s parses back to the file", name)
	}
}

// workload is a container of a Deployment or StatefulSet.
type workload struct {
	file, kind, name string
	labels           map[string]any
	pod              doc
	container        doc
	claims           []string
	replicas         int
}

func k8sDocs(t *testing.T) (workloads []workload, services, configMaps []doc) {
	files, err := filepath.Glob("k8s/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		for _, d := range readYAML(t, f) {
			require.NotEmpty(t, str(d, "apiVersion"), f)
			require.NotEmpty(t, str(d, "metadata", "name"), f)
			switch str(d, "kind") {
			case "Deployment", "StatefulSet":
				pod, _ := get(d, "spec", "template", "spec").(map[string]any)
				require.NotNil(t, pod, f)
				labels, _ := get(d, "spec", "template", "metadata", "labels").(map[string]any)
				sel, _ := get(d, "spec", "selector", "matchLabels").(map[string]any)
				for k, v := range sel {
					assert.Equal(t, v, labels[k], "%s %s: the selector matches the pod's labels", f, str(d, "metadata", "name"))
				}
				var claims []string
				for _, c := range list(d, "spec", "volumeClaimTemplates") {
					claims = append(claims, str(c, "metadata", "name"))
				}
				n, _ := get(d, "spec", "replicas").(int)
				for _, c := range list(pod, "containers") {
					workloads = append(workloads, workload{file: f, kind: str(d, "kind"), name: str(d, "metadata", "name"),
						labels: labels, pod: pod, container: c.(map[string]any), claims: claims, replicas: n})
				}
			case "Service":
				services = append(services, d)
			case "ConfigMap":
				configMaps = append(configMaps, d)
			case "Namespace", "Secret":
			default:
				t.Errorf("%s: kind %q: add its checks to deploy_test.go", f, str(d, "kind"))
			}
		}
	}
	return workloads, services, configMaps
}

// envOf is the container's env (name -> value, "" for valueFrom) and its
// envFrom secrets.
func envOf(c doc) (map[string]string, []string) {
	env := map[string]string{}
	for _, e := range list(c, "env") {
		env[str(e, "name")] = str(e, "value")
	}
	var secrets []string
	for _, e := range list(c, "envFrom") {
		if s := str(e, "secretRef", "name"); s != "" {
			secrets = append(secrets, s)
		}
	}
	return env, secrets
}

func containerPort(c doc, name string) int {
	for _, p := range list(c, "ports") {
		if str(p, "name") == name {
			n, _ := get(p, "containerPort").(int)
			return n
		}
	}
	return 0
}

// TestKubernetesManifests: images, ports, probes, users, secrets and
// volumes of deploy/k8s agree with the images, the NATS configurations
// and each other.
func TestKubernetesManifests(t *testing.T) {
	confs := natsConfs(t)
	keys := secretKeys(t)
	workloads, services, configMaps := k8sDocs(t)
	cmData := map[string]map[string]any{}
	for _, cm := range configMaps {
		cmData[str(cm, "metadata", "name")], _ = get(cm, "data").(map[string]any)
	}
	kinds := map[string]string{}
	for _, w := range workloads {
		c := w.container
		where := fmt.Sprintf("%s %s/%s", w.file, w.kind, w.name)
		kinds[w.name] = w.kind
		assert.EqualValues(t, imageUser, get(w.pod, "securityContext", "runAsUser"), "%s: the images' user", where)
		assert.EqualValues(t, imageUser, get(w.pod, "securityContext", "fsGroup"), "%s: volumes writable by it", where)
		assert.Equal(t, true, get(c, "securityContext", "readOnlyRootFilesystem"), where)
		mounts := map[string]string{}
		for _, m := range list(c, "volumeMounts") {
			mounts[str(m, "mountPath")] = str(m, "name")
		}
		volumes := map[string]doc{}
		for _, v := range list(w.pod, "volumes") {
			volumes[str(v, "name")] = v.(map[string]any)
		}
		for path, name := range mounts {
			_, isVolume := volumes[name]
			assert.True(t, isVolume || slices.Contains(w.claims, name), "%s: mount %s: no volume or claim %q", where, path, name)
		}
		require.Contains(t, mounts, "/data", "%s: the data directory is a volume (the image's root is read-only)", where)
		env, secrets := envOf(c)
		for _, e := range list(c, "env") {
			if k := str(e, "valueFrom", "secretKeyRef", "key"); k != "" {
				assert.Equal(t, "grantlog-nats", str(e, "valueFrom", "secretKeyRef", "name"), where)
				assert.Contains(t, keys, k, "%s: secret key %s is one scripts/compose-env.sh makes", where, k)
			}
		}
		for _, s := range secrets {
			assert.Equal(t, "grantlog-nats", s, where)
		}
		probe := func(kind string) (path, port string) {
			return str(c, kind, "httpGet", "path"), fmt.Sprint(get(c, kind, "httpGet", "port"))
		}
		switch str(c, "image") {
		case grantlogImage:
			assert.Equal(t, 8080, containerPort(c, "http"), "%s: the image listens on 8080", where)
			assert.Equal(t, "0.0.0.0:8080", env["GRANTLOG_HTTP_ADDR"], where)
			assert.Equal(t, "/data", env["GRANTLOG_DATA_DIR"], where)
			for kind, want := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"} {
				path, port := probe(kind)
				assert.Equal(t, want, path, "%s: %s", where, kind)
				assert.Equal(t, "http", port, "%s: %s", where, kind)
			}
			role := env["GRANTLOG_ROLE"]
			assert.Contains(t, []string{"command", "replica"}, role, where)
			assert.NotEmpty(t, env["GRANTLOG_NATS_URL"], where)
			assert.Equal(t, role, env["GRANTLOG_NATS_USER"], "%s: the NATS user of its role", where)
			assert.Contains(t, mounts, "/tmp", "%s: snapshots need a writable /tmp", where)
			if role == "replica" {
				assert.Equal(t, "StatefulSet", w.kind, "%s: a replica keeps its index on its own volume", where)
				assert.Contains(t, w.claims, mounts["/data"], "%s: /data is a volumeClaimTemplate", where)
			} else {
				assert.Equal(t, "Deployment", w.kind, where)
				assert.Equal(t, "3", env["GRANTLOG_STREAM_REPLICAS"], "%s: the stream is R3 on the three-node cluster", where)
			}
		case natsImage:
			args := list(c, "args")
			require.GreaterOrEqual(t, len(args), 2, where)
			assert.Equal(t, "-c", args[0], where)
			conf := filepath.Base(fmt.Sprint(args[1]))
			require.Contains(t, confs, conf, "%s: %v", where, args[1])
			assert.Equal(t, "/etc/nats/"+conf, args[1], where)
			client, monitor := confPorts(t, confs[conf])
			assert.Equal(t, client, containerPort(c, "client"), "%s: client port of %s", where, conf)
			assert.Equal(t, monitor, containerPort(c, "monitor"), "%s: monitoring port of %s", where, conf)
			if strings.Contains(confs[conf], "leafnodes {\n  port: 7422") {
				assert.Equal(t, 7422, containerPort(c, "leafnodes"), where)
			}
			if strings.Contains(confs[conf], "cluster {") {
				assert.Equal(t, 6222, containerPort(c, "cluster"), where)
				assert.Equal(t, "StatefulSet", w.kind, where)
				assert.Equal(t, 3, w.replicas, "%s: a three-node cluster", where)
				routes := strings.Split(fmt.Sprint(args[len(args)-1]), ",")
				assert.Equal(t, "--routes", args[len(args)-2], where)
				assert.Len(t, routes, w.replicas, "%s: a route to every member", where)
				for i, r := range routes {
					assert.Equal(t, fmt.Sprintf("nats://%s-%d.%s:6222", w.name, i, w.name), r, where)
				}
			}
			for _, kind := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
				path, port := probe(kind)
				assert.True(t, strings.HasPrefix(path, "/healthz"), "%s: %s on nats-server's /healthz", where, kind)
				assert.Equal(t, "monitor", port, "%s: %s", where, kind)
			}
			assert.Contains(t, w.claims, mounts["/data"], "%s: /data on a volumeClaimTemplate", where)
			// The configuration comes from the ConfigMap, at the path -c names.
			var fromCM bool
			for _, m := range list(c, "volumeMounts") {
				if str(m, "mountPath") == "/etc/nats/"+conf {
					cm := str(volumes[str(m, "name")], "configMap", "name")
					assert.Equal(t, conf, str(m, "subPath"), where)
					assert.Contains(t, cmData[cm], conf, "%s: ConfigMap %s has %s", where, cm, conf)
					fromCM = true
				}
			}
			assert.True(t, fromCM, "%s: %s comes from the ConfigMap", where, conf)
			// Every variable the configuration reads is set.
			for _, v := range envRefs(confs[conf]) {
				_, set := env[v]
				assert.True(t, set || (len(secrets) > 0 && slices.Contains(keys, v)), "%s: %s reads $%s: set it", where, conf, v)
			}
		default:
			t.Errorf("%s: image %q: only %s and %s are built here", where, str(c, "image"), grantlogImage, natsImage)
		}
	}
	assert.Equal(t, "Deployment", kinds["grantlog-command"])
	assert.Equal(t, "StatefulSet", kinds["grantlog-replica"])
	assert.Equal(t, "StatefulSet", kinds["nats-home"])
	assert.Equal(t, "StatefulSet", kinds["nats-region"])

	// Every Service selects a workload and targets ports it has.
	for _, s := range services {
		sel, _ := get(s, "spec", "selector").(map[string]any)
		require.NotEmpty(t, sel, str(s, "metadata", "name"))
		var matched []workload
		for _, w := range workloads {
			ok := true
			for k, v := range sel {
				ok = ok && w.labels[k] == v
			}
			if ok {
				matched = append(matched, w)
			}
		}
		require.NotEmpty(t, matched, "Service %s selects no workload", str(s, "metadata", "name"))
		for _, p := range list(s, "spec", "ports") {
			for _, w := range matched {
				assert.NotZero(t, containerPort(w.container, str(p, "targetPort")), "Service %s: port %s", str(s, "metadata", "name"), str(p, "targetPort"))
			}
		}
	}
}

// TestComposeFile: docker-compose.yml builds every image here (nothing to
// pull), probes health for real, starts in readiness order, and gives
// every NATS server the variables its configuration reads.
func TestComposeFile(t *testing.T) {
	confs := natsConfs(t)
	keys := secretKeys(t)
	docs := readYAML(t, "../docker-compose.yml")
	require.Len(t, docs, 1)
	services, _ := get(docs[0], "services").(map[string]any)
	require.NotEmpty(t, services)
	volumes, _ := get(docs[0], "volumes").(map[string]any)
	networks, _ := get(docs[0], "networks").(map[string]any)
	want := []string{"nats-home-1", "nats-home-2", "nats-home-3", "nats-b", "command-a", "replica-a1", "replica-a2", "command-b", "replica-b1", "replica-b2"}
	var names []string
	for name := range services {
		names = append(names, name)
	}
	assert.ElementsMatch(t, want, names)
	varRE := regexp.MustCompile(`\$\{([A-Z0-9_]+)(:\?[^}]*)?\}`)
	for name, raw := range services {
		s := raw.(map[string]any)
		image := str(s, "image")
		require.Contains(t, []string{grantlogImage, natsImage}, image, "%s: only images built here", name)
		assert.Equal(t, "deploy/Dockerfile", str(s, "build", "dockerfile"), name)
		target := map[string]string{grantlogImage: "grantlog", natsImage: "nats"}[image]
		assert.Equal(t, target, str(s, "build", "target"), name)
		test := list(s, "healthcheck", "test")
		require.GreaterOrEqual(t, len(test), 3, "%s: a health check", name)
		assert.Equal(t, []any{"CMD", "/grantlog", "health"}, test[:3], "%s: exec form (no shell in the image)", name)
		deps, _ := get(s, "depends_on").(map[string]any)
		for dep, cond := range deps {
			assert.Contains(t, services, dep, name)
			assert.Equal(t, "service_healthy", str(cond, "condition"), "%s waits for %s to be healthy", name, dep)
		}
		if !strings.HasPrefix(name, "nats-") {
			require.NotEmpty(t, deps, "%s: starts after its NATS", name)
		}
		for _, v := range list(s, "volumes") {
			vol, path, _ := strings.Cut(fmt.Sprint(v), ":")
			assert.Equal(t, "/data", path, "%s: named volume on /data (initialised from the image, owned by its user)", name)
			assert.Contains(t, volumes, vol, name)
		}
		var nets []string
		for _, n := range list(s, "networks") {
			nets = append(nets, fmt.Sprint(n))
			assert.Contains(t, networks, n, name)
		}
		env, _ := get(s, "environment").(map[string]any)
		for k, v := range env {
			for _, m := range varRE.FindAllStringSubmatch(fmt.Sprint(v), -1) {
				assert.Contains(t, keys, m[1], "%s: %s uses ${%s}, which scripts/compose-env.sh does not write", name, k, m[1])
			}
		}
		for _, p := range list(s, "ports") {
			assert.Regexp(t, `^\$\{PORT_[A-Z0-9_]+:-127\.0\.0\.1:\d+\}:8080$`, p, "%s: published on loopback only, overridable", name)
		}
		if image == natsImage {
			cmd := list(s, "command")
			require.GreaterOrEqual(t, len(cmd), 2, name)
			conf := filepath.Base(fmt.Sprint(cmd[1]))
			require.Contains(t, confs, conf, name)
			for _, v := range envRefs(confs[conf]) {
				assert.Contains(t, env, v, "%s: %s reads $%s", name, conf, v)
			}
			if conf == "home.conf" {
				assert.ElementsMatch(t, []string{"home", "wan"}, nets, name)
			} else {
				assert.ElementsMatch(t, []string{"b", "wan"}, nets, name)
			}
			continue
		}
		// Grantlog nodes: one region's network only (cutting wan cuts the region).
		require.Len(t, nets, 1, name)
		assert.Equal(t, map[bool]string{true: "home", false: "b"}[strings.HasSuffix(name, "-a") || strings.Contains(name, "-a")], nets[0], name)
		role := fmt.Sprint(env["GRANTLOG_ROLE"])
		assert.Contains(t, []string{"command", "replica"}, role, name)
		assert.Equal(t, role, env["GRANTLOG_NATS_USER"], name)
		assert.Equal(t, name, env["GRANTLOG_NODE_NAME"], name)
	}
	assert.Equal(t, "3", str(services, "command-a", "environment", "GRANTLOG_STREAM_REPLICAS"), "the stream is R3")
}

// TestDockerfile: no registry pull (every FROM is scratch, the local Go
// image or an earlier stage; no syntax line, which would pull BuildKit's
// frontend), non-root final stages, and a deps layer that compiles exactly
// the third-party packages Grantlog imports.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	assert.NotContains(t, text, "# syntax=")
	stages := map[string]bool{}
	var finals []string
	fromRE := regexp.MustCompile(`(?m)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`)
	for _, m := range fromRE.FindAllStringSubmatch(text, -1) {
		base := m[1]
		assert.True(t, base == "scratch" || base == "${GO_IMAGE}" || stages[base], "FROM %s: pulls an image", base)
		stages[m[2]] = true
		if base == "scratch" {
			finals = append(finals, m[2])
		}
	}
	assert.Equal(t, []string{"nats", "grantlog"}, finals)
	assert.Contains(t, text, "ARG GO_IMAGE=grantlog-go:1.26")
	assert.Equal(t, 2, strings.Count(text, fmt.Sprintf("\nUSER %d:%d\n", imageUser, imageUser)), "both final stages run as uid %d", imageUser)
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "RUN ") {
			assert.True(t, strings.HasPrefix(line, "RUN ["), "exec form (no shell in the build stages): %s", line)
		}
	}

	depsRE := regexp.MustCompile(`(?s)FROM nats-build AS deps\s+RUN \[(.*?)\]`)
	m := depsRE.FindStringSubmatch(text)
	require.NotNil(t, m, "the deps stage")
	var listed []string
	for _, f := range strings.Split(m[1], ",") {
		f = strings.Trim(strings.TrimSpace(f), `"`)
		if f != "go" && f != "build" && f != "-trimpath" {
			listed = append(listed, f)
		}
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{with .Module}}{{if .Main}}{{join $.Imports "\n"}}{{end}}{{end}}`, "./cmd/grantlog")
	cmd.Dir = ".."
	out, err := cmd.Output()
	require.NoError(t, err)
	var imported []string
	for _, p := range strings.Split(string(out), "\n") {
		if strings.Contains(p, ".") && !strings.HasPrefix(p, "github.com/grantlog/") && !slices.Contains(imported, p) {
			imported = append(imported, p)
		}
	}
	sort.Strings(imported)
	sort.Strings(listed)
	assert.Equal(t, imported, listed, "deploy/Dockerfile's deps stage lists the third-party packages Grantlog imports (update it)")
}
