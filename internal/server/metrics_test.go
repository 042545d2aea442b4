package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/natsapi"
	"github.com/grantlog/grantlog/internal/server"
	"github.com/grantlog/grantlog/internal/storage/eventlog"
)

// scrape is one parsed GET /metrics.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads url (no credential) and parses it with Prometheus'
// own text parser.
func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test's local scrape
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", url)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value is the value of the series of family name with exactly labels:
// a counter's or gauge's value, a histogram's sample count. ok is false
// when there is no such series.
func (s scrape) value(name string, labels ...string) (v float64, ok bool) {
	fam := s[name]
	if fam == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range fam.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Summary != nil:
			return float64(m.GetSummary().GetSampleCount()), true
		}
	}
	return 0, false
}

// must is value that must exist.
func (s scrape) must(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.value(name, labels...)
	require.True(t, ok, "no series %s%v", name, labels)
	return v
}

// natsAllowed sends one check over NATS and returns whether it was allowed.
func natsAllowed(t *testing.T, nc *nats.Conn, token string, body map[string]any) bool {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	msg := nats.NewMsg(natsapi.CheckSubject)
	msg.Data = data
	msg.Header.Set(natsapi.AuthorizationHeader, "Bearer "+token)
	reply, err := nc.RequestMsg(msg, 10*time.Second)
	require.NoError(t, err)
	require.Empty(t, reply.Header.Get(micro.ErrorCodeHeader), "check: %s", reply.Data)
	var out struct{ Allowed bool }
	require.NoError(t, json.Unmarshal(reply.Data, &out))
	return out.Allowed
}

func checkBody(user, resource string) map[string]any {
	return map[string]any{"subject": map[string]any{"type": "user", "id": user}, "namespace": "metricsns",
		"resource": resource, "action": 2}
}

// TestMetricsAfterKnownTraffic sends known traffic to a real node and
// asserts, from two scrapes of /metrics parsed with expfmt, that every
// counter moved by exactly that traffic.
func TestMetricsAfterKnownTraffic(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, server.Config{DataDir: dir, NATSListen: "127.0.0.1:0"}, "")
	root := n.c
	nc, err := eventlog.Connect(eventlog.ConnectConfig{URL: n.srv.NATSURL(), CredsFile: filepath.Join(dir, eventlog.ClientCredsFile)})
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	url := "http://" + n.srv.HTTPAddr() + "/metrics"
	require.Equal(t, n.srv.HTTPAddr(), n.srv.MetricsAddr(), "by default /metrics is on the API listener")

	before := scrapeMetrics(t, url)
	// Every series of the checks and of a command is there from the start.
	for _, tr := range []string{"http", "nats"} {
		for _, d := range []string{"allowed", "denied", "error"} {
			before.must(t, "grantlog_check_duration_seconds", "transport", tr, "decision", d)
		}
	}
	before.must(t, "grantlog_commands_total", "operation", "role.create", "outcome", "retried")
	_, hasSnapshot := before.value("grantlog_snapshot_size_bytes")
	assert.False(t, hasSnapshot, "no snapshot taken yet")
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "grantlog_nats_connected",
		"grantlog_applied_revision", "grantlog_head_revision", "grantlog_lag_events", "grantlog_events_applied_total",
		"grantlog_audit_subscribers", "grantlog_nats_reconnects_total",
		"grantlog_group_commit_batches_total", "grantlog_group_commit_events_total", "grantlog_group_commit_split_total",
		"grantlog_command_phase_seconds"} {
		assert.Contains(t, before, name)
	}
	assert.InDelta(t, 1.0, before.must(t, "grantlog_nats_connected"), 0)

	// K = 4 commands: two that succeed, one conflict (the name is taken),
	// one refused (no credential).
	role := root.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"roleName": "MetricsReader",
		"permissions": []map[string]any{{"resource": "NAMESPACE:{namespace}:THING", "action": 2}}})
	root.must(http.StatusCreated, "POST", "/v1/namespaces/metricsns/users/alice/roles", map[string]any{"roleId": role["roleId"], "assignedNamespaces": []string{"metricsns"}})
	dup := root.must(http.StatusConflict, "POST", "/v1/roles", map[string]any{"roleName": "MetricsReader"})
	assert.Equal(t, "duplicateRoleName", dup["errorCode"])
	anon := newClient(t, n.srv.HTTPAddr(), "")
	anon.must(http.StatusUnauthorized, "POST", "/v1/roles", map[string]any{"roleName": "Nope"})

	// Checks: over HTTP 3 allowed, 2 denied, 1 refused (no credential);
	// over NATS 2 allowed, 4 denied; one HTTP batch of 3 (2 allowed, 1
	// denied).
	for range 3 {
		require.True(t, root.allowed("alice", "metricsns", "NAMESPACE:metricsns:THING", 2))
	}
	for range 2 {
		require.False(t, root.allowed("bob", "metricsns", "NAMESPACE:metricsns:THING", 2))
	}
	anon.must(http.StatusUnauthorized, "POST", "/v1/check", checkBody("alice", "NAMESPACE:metricsns:THING"))
	for range 2 {
		require.True(t, natsAllowed(t, nc, root.token, checkBody("alice", "NAMESPACE:metricsns:THING")))
	}
	for range 4 {
		require.False(t, natsAllowed(t, nc, root.token, checkBody("bob", "NAMESPACE:metricsns:THING")))
	}
	batch := root.must(http.StatusOK, "POST", "/v1/checks", map[string]any{"checks": []map[string]any{
		checkBody("alice", "NAMESPACE:metricsns:THING"), checkBody("alice", "NAMESPACE:metricsns:THING"),
		checkBody("bob", "NAMESPACE:metricsns:THING"),
	}})
	require.Len(t, batch["results"], 3)

	after := scrapeMetrics(t, url)
	// Counts are whole numbers: compared as such.
	delta := func(name string, labels ...string) int {
		t.Helper()
		return int(after.must(t, name, labels...) - before.must(t, name, labels...))
	}
	for _, c := range []struct {
		transport, decision string
		want                int
	}{
		{"http", "allowed", 3}, {"http", "denied", 2}, {"http", "error", 1},
		{"nats", "allowed", 2}, {"nats", "denied", 4}, {"nats", "error", 0},
	} {
		assert.Equal(t, c.want, delta("grantlog_check_duration_seconds", "transport", c.transport, "decision", c.decision),
			"checks over %s %s", c.transport, c.decision)
	}
	assert.Equal(t, 1, delta("grantlog_check_batch_size", "transport", "http"), "one batch")
	assert.Equal(t, 1, delta("grantlog_check_batch_duration_seconds", "transport", "http", "outcome", "ok"))
	assert.Equal(t, 2, delta("grantlog_check_batch_items_total", "transport", "http", "decision", "allowed"))
	assert.Equal(t, 1, delta("grantlog_check_batch_items_total", "transport", "http", "decision", "denied"))
	sizes := after["grantlog_check_batch_size"].GetMetric()
	for _, m := range sizes {
		if m.GetLabel()[0].GetValue() == "http" {
			assert.InDelta(t, 3.0, m.GetHistogram().GetSampleSum(), 0, "the batch had 3 checks")
		}
	}

	for _, c := range []struct {
		op, outcome string
		want        int
	}{
		{"role.create", "ok", 1}, {"role.create", "conflict", 1}, {"role.create", "refused", 1},
		{"role.create", "failed", 0}, {"role.create", "retried", 0},
		{"assign", "ok", 1}, {"assign", "conflict", 0}, {"assign", "refused", 0},
	} {
		assert.Equal(t, c.want, delta("grantlog_commands_total", "operation", c.op, "outcome", c.outcome), "%s %s", c.op, c.outcome)
	}
	assert.Equal(t, 3, delta("grantlog_command_duration_seconds", "operation", "role.create"))
	// Where the commands' time went: the two that stored an event passed
	// every phase once; the conflict waited for its namespace's lock and
	// was refused while deciding (the unauthenticated one never reached
	// the command service).
	for phase, want := range map[string]int{"queue": 3, "decide": 2, "append": 2, "apply": 2} {
		assert.Equal(t, want, delta("grantlog_command_phase_seconds", "phase", phase), "commands through phase %s", phase)
	}
	for _, m := range after["grantlog_command_phase_seconds"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "append" {
			assert.Positive(t, m.GetSummary().GetSampleSum(), "appends take time")
		}
	}

	// The node's state: two events applied, and the gauges agree with the
	// node.
	applied := float64(n.srv.Store().Applied())
	assert.InDelta(t, applied, after.must(t, "grantlog_applied_revision"), 0)
	assert.Equal(t, 2, delta("grantlog_applied_revision"), "role.create and assign: one event each")
	assert.Equal(t, 2, delta("grantlog_events_applied_total"))
	require.Eventually(t, func() bool {
		s := scrapeMetrics(t, url)
		return s.must(t, "grantlog_head_revision") == applied && s.must(t, "grantlog_lag_events") == 0
	}, 10*time.Second, 50*time.Millisecond, "head catches up with the applied revision")

	// Audit subscribers: one open stream, then none.
	sse := openSSE(t, root, "", "")
	assert.InDelta(t, 1.0, scrapeMetrics(t, url).must(t, "grantlog_audit_subscribers"), 0)
	sse.close()
	require.Eventually(t, func() bool { return scrapeMetrics(t, url).must(t, "grantlog_audit_subscribers") == 0 },
		10*time.Second, 20*time.Millisecond)

	// A snapshot: its age and size appear.
	root.must(http.StatusCreated, "POST", "/v1/admin/snapshots", nil)
	snap := scrapeMetrics(t, url)
	assert.Positive(t, snap.must(t, "grantlog_snapshot_size_bytes"))
	age := snap.must(t, "grantlog_snapshot_age_seconds")
	assert.True(t, age >= 0 && age < 60, "snapshot age %v", age)

	// Every metric the sample Grafana dashboard queries exists.
	dash, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "grantlog.json"))
	require.NoError(t, err)
	require.True(t, json.Valid(dash), "deploy/grafana/grantlog.json is not JSON")
	used := regexp.MustCompile(`\b(?:grantlog|go|process)_[a-z_]+`).FindAllString(string(dash), -1)
	require.NotEmpty(t, used)
	for _, name := range used {
		fam := name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if _, ok := snap[fam]; !ok {
				fam = strings.TrimSuffix(fam, suffix)
			}
		}
		assert.Contains(t, snap, fam, "the dashboard queries %s", name)
	}

	// No label names a subject, a role or a namespace: /metrics has no
	// credential.
	for name, fam := range snap {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, secret := range []string{"alice", "bob", "metricsns", role["roleId"].(string), root.token} {
					assert.NotContains(t, l.GetValue(), secret, "%s{%s}", name, l.GetName())
				}
			}
		}
	}
}

// TestMetricsAddr moves /metrics to a listener of its own: the API
// listener no longer serves it.
func TestMetricsAddr(t *testing.T) {
	n := startNode(t, server.Config{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0"}, "")
	require.NotEqual(t, n.srv.HTTPAddr(), n.srv.MetricsAddr())
	s := scrapeMetrics(t, "http://"+n.srv.MetricsAddr()+"/metrics")
	assert.Contains(t, s, "grantlog_check_duration_seconds")
	resp, err := http.Get("http://" + n.srv.HTTPAddr() + "/metrics") //nolint:noctx // a test's local request
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), "notFound")

	_, err = server.New(t.Context(), server.Config{DataDir: t.TempDir(), MetricsAddr: "nonsense"})
	require.ErrorContains(t, err, "metrics address")
}
