package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Distribution is a latency distribution: the latency at each quantile.
type Distribution struct {
	Phase string `json:"phase"`
	Name  string `json:"name"`
	// Quantiles are [quantile, latency in µs] pairs, quantile ascending.
	Quantiles [][2]float64 `json:"quantiles"`
}

// distQuantiles are the quantiles a Distribution keeps.
var distQuantiles = func() []float64 {
	var qs []float64
	for q := 0.01; q < 0.90; q += 0.01 {
		qs = append(qs, q)
	}
	for q := 0.90; q < 0.99; q += 0.002 {
		qs = append(qs, q)
	}
	for q := 0.99; q < 0.9999; q += 0.0005 {
		qs = append(qs, q)
	}
	return append(qs, 0.9999)
}()

// addDist records the distribution of lat (one entry per operation).
func (b *bench) addDist(phase, name string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	d := Distribution{Phase: phase, Name: name}
	for _, q := range distQuantiles {
		d.Quantiles = append(d.Quantiles, [2]float64{q, us(s[min(len(s)-1, int(q*float64(len(s))))])})
	}
	b.report.Distributions = append(b.report.Distributions, d)
}

// runPlot draws SVG charts from grantbench JSON reports: the latency
// distributions of the report with the most of them, and, across reports of
// different user counts, how check latency and replica memory grow.
func runPlot(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("grantbench plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "docs/plots", "directory to write the SVG files into")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: grantbench plot [--out DIR] REPORT.json...

Draws SVG charts from reports written with grantbench --json:
  latency.svg  latency by percentile of each measured check path (from the
               report with the most latency distributions)
  scale.svg    in-process check p50/p99 against users, one point per report
  memory.svg   replica RSS (and peak, and heap in use) against users, one point per report
  start.svg    replica and embedded follower cold start from a snapshot against users
  writes.svg   single commands/s against concurrent writers (commands
               phase), one line per report label (--label)

Example:
  for n in 10000 100000 1000000; do
    go run ./cmd/grantbench --users $n --phases load,inproc,coldstart --json bin/scale-$n.json
  done
  go run ./cmd/grantbench plot --out docs/plots bin/scale-*.json

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "grantbench plot: give one or more JSON reports (grantbench --json FILE)")
		return 2
	}
	var reports []Report
	for _, path := range fs.Args() {
		raw, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "grantbench plot: %v\n", err)
			return 1
		}
		var r Report
		if err := json.Unmarshal(raw, &r); err != nil {
			fmt.Fprintf(stderr, "grantbench plot: %s is not a grantbench report: %v\n", path, err)
			return 1
		}
		reports = append(reports, r)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "grantbench plot: %v\n", err)
		return 1
	}
	charts := plotCharts(reports)
	if len(charts) == 0 {
		fmt.Fprintln(stderr, "grantbench plot: nothing to draw: the reports have no latency distributions and no in-process or replica figures")
		return 1
	}
	for name, svg := range charts {
		path := filepath.Join(*out, name)
		if err := os.WriteFile(path, []byte(svg), 0o644); err != nil {
			fmt.Fprintf(stderr, "grantbench plot: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	return 0
}

// plotCharts returns the SVG charts the reports allow, by file name.
func plotCharts(reports []Report) map[string]string {
	charts := map[string]string{}
	best := -1
	for i, r := range reports {
		if len(r.Distributions) > 0 && (best < 0 || len(r.Distributions) > len(reports[best].Distributions)) {
			best = i
		}
	}
	if best >= 0 {
		r := reports[best]
		var ss []series
		for _, d := range r.Distributions {
			s := series{name: d.Phase + ": " + d.Name}
			for _, q := range d.Quantiles {
				s.pts = append(s.pts, [2]float64{1 / (1 - q[0]), q[1]})
			}
			ss = append(ss, s)
		}
		charts["latency.svg"] = chart{
			title:  fmt.Sprintf("Check latency by percentile (%s users, %s cores)", count(r.Shape["users"]), r.Machine["cpus"]),
			xlabel: "percentile", ylabel: "latency (µs)", logX: true, logY: true,
			xticks: map[float64]string{2: "p50", 10: "p90", 100: "p99", 1000: "p99.9", 10000: "p99.99"},
		}.svg(ss)
	}
	// Scale: one point per user count (the median of the reports with that
	// count, so repeated runs can be given together).
	lat := []series{{name: "in-process check p50"}, {name: "in-process check p99"}, {name: "follower check p50"}, {name: "follower check p99"}}
	mem := []series{{name: "replica RSS after checks"}, {name: "replica peak RSS"}, {name: "replica heap in use"}}
	start := []series{{name: "replica from snapshot"}, {name: "embedded follower from snapshot"}}
	pick := map[string]*series{
		"inproc/check p50": &lat[0], "inproc/check p99": &lat[1], "follower/check p50": &lat[2], "follower/check p99": &lat[3],
		"coldstart/replica RSS": &mem[0], "coldstart/replica peak RSS": &mem[1], "coldstart/replica heap in use": &mem[2],
		"coldstart/replica cold start from snapshot": &start[0], "coldstart/follower cold start from snapshot": &start[1],
	}
	values := map[*series]map[float64][]float64{}
	for _, r := range reports {
		users := float64(r.Shape["users"])
		for _, res := range r.Results {
			if s := pick[res.Phase+"/"+res.Name]; s != nil && users > 0 {
				if values[s] == nil {
					values[s] = map[float64][]float64{}
				}
				values[s][users] = append(values[s][users], res.Value)
			}
		}
	}
	for s, byUsers := range values {
		for users, vs := range byUsers {
			s.pts = append(s.pts, [2]float64{users, median(vs)})
		}
		sort.Slice(s.pts, func(i, j int) bool { return s.pts[i][0] < s.pts[j][0] })
	}
	if ss := nonEmpty(lat); len(ss) > 0 {
		charts["scale.svg"] = chart{title: "In-process check latency against users", xlabel: "users", ylabel: "latency (µs)",
			logX: true, yFromZero: true}.svg(ss)
	}
	if ss := nonEmpty(mem); len(ss) > 0 {
		charts["memory.svg"] = chart{title: "Replica memory against users", xlabel: "users", ylabel: "MiB",
			logX: true, yFromZero: true, hline: 3072, hlineLabel: "target: 3 GiB at 10M users"}.svg(ss)
	}
	if ss := nonEmpty(start); len(ss) > 0 {
		for i := range ss {
			for j := range ss[i].pts {
				ss[i].pts[j][1] /= 1000 // ms → s
			}
		}
		charts["start.svg"] = chart{title: "Cold start from a snapshot against users", xlabel: "users", ylabel: "seconds",
			logX: true, yFromZero: true, hline: 30, hlineLabel: "target: 30 s at 10M users"}.svg(ss)
	}
	if ss := writeSeries(reports); len(ss) > 0 {
		charts["writes.svg"] = chart{title: "Single commands with fsync against concurrent writers", xlabel: "writers",
			ylabel: "commands/s", logX: true, yFromZero: true}.svg(ss)
	}
	return charts
}

// writeSeries is commands/s against writers (the commands phase's
// "commands, N writer(s)"), one series per report label, each point the
// median of the reports with that label and writer count.
func writeSeries(reports []Report) []series {
	byLabel := map[string]map[float64][]float64{}
	for _, r := range reports {
		for _, res := range r.Results {
			var n int
			if res.Phase != "commands" || res.Unit != "commands/s" {
				continue
			}
			if _, err := fmt.Sscanf(res.Name, "commands, %d writer(s)", &n); err != nil || n < 1 {
				continue
			}
			if byLabel[r.Label] == nil {
				byLabel[r.Label] = map[float64][]float64{}
			}
			byLabel[r.Label][float64(n)] = append(byLabel[r.Label][float64(n)], res.Value)
		}
	}
	labels := make([]string, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var ss []series
	for _, l := range labels {
		s := series{name: l}
		if s.name == "" {
			s.name = "commands/s"
		}
		for w, vs := range byLabel[l] {
			s.pts = append(s.pts, [2]float64{w, median(vs)})
		}
		sort.Slice(s.pts, func(i, j int) bool { return s.pts[i][0] < s.pts[j][0] })
		ss = append(ss, s)
	}
	return ss
}

func nonEmpty(ss []series) []series {
	var out []series
	for _, s := range ss {
		if len(s.pts) > 0 {
			out = append(out, s)
		}
	}
	return out
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

type series struct {
	name string
	pts  [][2]float64
}

// chart is a line chart drawn as SVG, with optional log axes.
type chart struct {
	title, xlabel, ylabel string
	logX, logY, yFromZero bool
	xticks                map[float64]string // fixed x ticks (value → label); default: computed
	hline                 float64            // a horizontal reference line (0: none)
	hlineLabel            string
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

func (c chart) svg(ss []series) string {
	const (
		w, h                 = 820, 480
		left, right, top, bt = 70, 250, 40, 50
	)
	pw, ph := float64(w-left-right), float64(h-top-bt)
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, p := range s.pts {
			minX, maxX = math.Min(minX, p[0]), math.Max(maxX, p[0])
			minY, maxY = math.Min(minY, p[1]), math.Max(maxY, p[1])
		}
	}
	if c.hline > 0 {
		maxY = math.Max(maxY, c.hline*1.05)
	}
	if c.yFromZero {
		minY = 0
		maxY *= 1.1
	}
	tx := func(v float64) float64 { return v }
	ty := tx
	if c.logX {
		tx = math.Log10
	}
	if c.logY {
		ty = math.Log10
		minY, maxY = math.Pow(10, math.Floor(math.Log10(math.Max(minY, 1e-3)))), math.Pow(10, math.Ceil(math.Log10(maxY)))
	}
	if minX == maxX {
		minX, maxX = minX/2, maxX*2
	}
	if minY == maxY {
		maxY = minY + 1
	}
	x0, x1, y0, y1 := tx(minX), tx(maxX), ty(minY), ty(maxY)
	px := func(v float64) float64 { return float64(left) + (tx(v)-x0)/(x1-x0)*pw }
	py := func(v float64) float64 { return float64(top) + ph - (ty(v)-y0)/(y1-y0)*ph }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&sb, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(c.title))
	// Grid and ticks.
	for _, t := range c.ticksY(minY, maxY) {
		y := py(t)
		fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, float64(left)+pw, y)
		fmt.Fprintf(&sb, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, num(t))
	}
	xt := c.xticks
	if xt == nil {
		xt = map[float64]string{}
		for _, s := range ss {
			for _, p := range s.pts {
				xt[p[0]] = count(int(p[0]))
			}
		}
	}
	for v, label := range xt {
		if v < minX || v > maxX {
			continue
		}
		x := px(v)
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x, top, x, float64(top)+ph)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, float64(top)+ph+16, esc(label))
	}
	fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&sb, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", float64(left)+pw/2, h-10, esc(c.xlabel))
	fmt.Fprintf(&sb, `<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">%s</text>`+"\n", float64(top)+ph/2, float64(top)+ph/2, esc(c.ylabel))
	if c.hline > 0 {
		y := py(c.hline)
		fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="6 4"/>`+"\n", left, y, float64(left)+pw, y)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#666">%s</text>`+"\n", float64(left)+pw-4, y-4, esc(c.hlineLabel))
	}
	for i, s := range ss {
		color := palette[i%len(palette)]
		var pts []string
		for _, p := range s.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		}
		fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		if len(s.pts) <= 12 {
			for _, p := range s.pts {
				fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s</title></circle>`+"\n", px(p[0]), py(p[1]), color, esc(s.name), num(p[1]))
			}
		}
		ly := float64(top) + 10 + float64(i)*18
		fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", w-right+12, ly, w-right+32, ly, color)
		fmt.Fprintf(&sb, `<text x="%d" y="%.1f">%s</text>`+"\n", w-right+38, ly+4, esc(s.name))
	}
	sb.WriteString("</svg>\n")
	return sb.String()
}

// ticksY returns about five round tick values between lo and hi (powers of
// ten on a log axis).
func (c chart) ticksY(lo, hi float64) []float64 {
	var out []float64
	if c.logY {
		for v := lo; v <= hi*1.0001; v *= 10 {
			out = append(out, v)
		}
		return out
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= 6 {
			step *= m
			break
		}
	}
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		out = append(out, v)
	}
	return out
}

func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
