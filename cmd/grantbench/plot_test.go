package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func scaleReport(users int, p50, p99, rss float64) Report {
	return Report{Shape: map[string]int{"users": users}, Machine: map[string]string{"cpus": "2"}, Results: []Result{
		{Phase: "inproc", Name: "check p50", Value: p50, Unit: "µs"},
		{Phase: "inproc", Name: "check p99", Value: p99, Unit: "µs"},
		{Phase: "coldstart", Name: "replica RSS", Value: rss, Unit: "MiB"},
	}}
}

func TestPlotCharts(t *testing.T) {
	b := &bench{}
	lat := make([]time.Duration, 1000)
	for i := range lat {
		lat[i] = time.Duration(1000+i) * time.Nanosecond
	}
	b.addDist("inproc", "check, 1 goroutine", lat)
	require.Len(t, b.report.Distributions, 1)
	d := b.report.Distributions[0]
	assert.InDelta(t, 1.5, d.Quantiles[49][1], 0.01, "p50 of 1000..1999 ns is 1.5 µs")
	for i := 1; i < len(d.Quantiles); i++ {
		assert.Greater(t, d.Quantiles[i][0], d.Quantiles[i-1][0], "quantiles ascend")
		assert.GreaterOrEqual(t, d.Quantiles[i][1], d.Quantiles[i-1][1], "latencies do not decrease")
	}
	withDist := scaleReport(100_000, 1.2, 3, 200)
	withDist.Distributions = b.report.Distributions
	charts := plotCharts([]Report{scaleReport(1_000_000, 1.5, 4, 700), withDist, scaleReport(10_000, 1.0, 2.5, 60),
		scaleReport(1_000_000, 9, 9, 900), scaleReport(1_000_000, 1.7, 4.2, 720)})
	require.Len(t, charts, 3)
	for name, svg := range charts {
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "%s is well-formed XML", name)
		}
	}
	assert.Contains(t, charts["latency.svg"], "inproc: check, 1 goroutine")
	assert.Contains(t, charts["scale.svg"], "in-process check p99")
	assert.Contains(t, charts["memory.svg"], "target: 3 GiB at 10M users")
	// Points are drawn in user order whatever the report order, one per
	// user count (the median of repeated runs: 1.7 µs at 1M, not 9).
	assert.Equal(t, 6, strings.Count(charts["scale.svg"], "<circle"))
	assert.Contains(t, charts["scale.svg"], "in-process check p50: 1.7<")
	assert.NotContains(t, charts["scale.svg"], "in-process check p50: 9<")
	assert.Contains(t, charts["scale.svg"], ">1M<")
}

// TestPlotWrites: the writes chart draws commands/s against writers, one
// line per report label, each point the median of that label's runs.
func TestPlotWrites(t *testing.T) {
	rep := func(label string, v1, v8 float64) Report {
		return Report{Label: label, Results: []Result{
			{Phase: "commands", Name: "commands, 1 writer(s)", Value: v1, Unit: "commands/s"},
			{Phase: "commands", Name: "commands, 1 writer(s) p50", Value: 900, Unit: "µs"},
			{Phase: "commands", Name: "commands, 8 writer(s)", Value: v8, Unit: "commands/s"},
		}}
	}
	charts := plotCharts([]Report{rep("before", 800, 900), rep("before", 700, 950), rep("before", 750, 5000),
		rep("group commit", 820, 1200)})
	svg := charts["writes.svg"]
	require.NotEmpty(t, svg)
	assert.Contains(t, svg, ">before<")
	assert.Contains(t, svg, ">group commit<")
	assert.Equal(t, 4, strings.Count(svg, "<circle"), "two writer counts, two labels")
	assert.Contains(t, svg, "before: 950<", "the median of three runs")
	assert.NotContains(t, svg, "900<", "latency figures are not drawn")
	assert.Empty(t, writeSeries([]Report{scaleReport(1000, 1, 2, 3)}))
}

func TestPlotCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "r.json")
	require.NoError(t, os.WriteFile(in, []byte(`{"shape":{"users":1000},"results":[{"phase":"inproc","name":"check p50","value":1.1,"unit":"µs"}]}`), 0o600))
	var out, errOut strings.Builder
	require.Equal(t, 0, run([]string{"plot", "--out", filepath.Join(dir, "plots"), in}, &out, &errOut), errOut.String())
	assert.FileExists(t, filepath.Join(dir, "plots", "scale.svg"))
	assert.Equal(t, 2, run([]string{"plot"}, &out, &errOut), "no reports is a usage error")
	require.NoError(t, os.WriteFile(in, []byte("not json"), 0o600))
	assert.Equal(t, 1, run([]string{"plot", "--out", dir, in}, &out, &errOut))
	assert.Contains(t, errOut.String(), "is not a grantbench report")
}

func TestSummary(t *testing.T) {
	reports := []Report{scaleReport(1000, 1.0, 3, 100), scaleReport(1000, 3.0, 4, 120), scaleReport(1000, 2.0, 9, 110)}
	table := summaryTable(reports)
	assert.Contains(t, table, "| inproc | check p50 | 1.00, 3.00, 2.00 | **2.00 µs** |")
	assert.Contains(t, table, "| coldstart | replica RSS | 100, 120, 110 | **110 MiB** |")
	assert.InDelta(t, 2.5, median([]float64{4, 1, 2, 3}), 1e-9)
	assert.Zero(t, median(nil))
}

// TestPhaseHelp: --help describes every phase, and an unknown phase is a
// usage error naming the phases.
func TestPhaseHelp(t *testing.T) {
	for _, p := range strings.Split(allPhases, ",") {
		assert.Contains(t, phaseHelp, p, "phase %s is not described in --help", p)
	}
	var out, errOut strings.Builder
	assert.Equal(t, 2, run([]string{"--phases", "load,nope"}, &out, &errOut))
	assert.Contains(t, errOut.String(), `unknown phase "nope"`)
	assert.Equal(t, 0, run([]string{"--help"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "coldstart  snapshot")
}
