package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// runSummary prints, for every measure found in the given reports (repeated
// runs of the same command), each run's value and their median, as a
// Markdown table: the form docs/BENCHMARKS.md records.
func runSummary(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grantbench summary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: grantbench summary REPORT.json...

Prints a Markdown table with every measure of the reports (repeated runs of
one grantbench command, written with --json): each run's value and the median.

Example:
  for i in 1 2 3; do go run ./cmd/grantbench --json bin/run-$i.json; done
  go run ./cmd/grantbench summary bin/run-*.json
`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "grantbench summary: give one or more JSON reports (grantbench --json FILE)")
		return 2
	}
	var reports []Report
	for _, path := range fs.Args() {
		raw, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "grantbench summary: %v\n", err)
			return 1
		}
		var r Report
		if err := json.Unmarshal(raw, &r); err != nil {
			fmt.Fprintf(stderr, "grantbench summary: %s is not a grantbench report: %v\n", path, err)
			return 1
		}
		reports = append(reports, r)
	}
	fmt.Fprint(stdout, summaryTable(reports))
	return 0
}

// summaryTable is the Markdown table of runSummary.
func summaryTable(reports []Report) string {
	type row struct {
		phase, name, unit string
		values            []float64
	}
	var rows []*row
	byKey := map[string]*row{}
	for _, r := range reports {
		for _, res := range r.Results {
			k := res.Phase + "\x00" + res.Name
			if byKey[k] == nil {
				byKey[k] = &row{phase: res.Phase, name: res.Name, unit: res.Unit}
				rows = append(rows, byKey[k])
			}
			byKey[k].values = append(byKey[k].values, res.Value)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "| phase | measure | runs | median |\n|---|---|---|---|\n")
	for _, r := range rows {
		runs := make([]string, len(r.values))
		for i, v := range r.values {
			runs[i] = format(v)
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | **%s %s** |\n", r.phase, r.name, strings.Join(runs, ", "), format(median(r.values)), r.unit)
	}
	return sb.String()
}

// median returns the median of vs (the mean of the middle two for an even
// count).
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
