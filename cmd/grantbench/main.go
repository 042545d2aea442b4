package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	url           string
	token         string
	dataDir       string
	users         int
	namespaces    int
	roles         int
	perms         int
	maxRoles      int
	maxNS         int
	wildcardEvery int
	checks        int
	inprocCheck   int
	commands      int
	tokens        int
	replicaChecks int
	replicaLimit  string
	noReplayZero  bool
	concurrency   []int
	writers       []int
	phases        map[string]bool
	jsonOut       string
	label         string
	cpuProfile    string
	seed          uint64
}

const allPhases = "load,tokens,commands,visible,inproc,http,nats,batch,follower,replay,reopen,coldstart,resources"

// phaseHelp says what each phase measures, for --help.
const phaseHelp = `  load       roles, then every assignment in bulk batches (fsync on)
  tokens     API tokens issued through the command path; in-process token checks
  commands   single commands with fsync, by concurrent writers (--writers)
  visible    JetStream ack / publish to applied in the local index
  inproc     the server engine's check latency (p50/p99/p99.9) and checks/s
  http       POST /v1/check with 1..64 keep-alive clients (--concurrency)
  nats       grantlog.v1.check over NATS, 1 and 4 callers
  batch      POST /v1/checks and grantlog.v1.checks, batches of 1,000, 2 clients
  follower   the SDK's embedded follower: catch-up by replay, checks, write to visible
  replay     projection of the whole stream into a fresh index (reopen: load it back)
  coldstart  snapshot; follower and replica process started from it; replica from
             zero; the replica's RSS after --replica-checks HTTP checks
  resources  RSS of this process and disk of the stream and index
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case replicaChildCmd:
			return runReplicaChild(args[1:], stdout, stderr)
		case "plot":
			return runPlot(args[1:], stdout, stderr)
		case "summary":
			return runSummary(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("grantbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var conc, writers, phases string
	var quick bool
	fs.StringVar(&cfg.url, "url", "", "measure this running server over HTTP only (default: start one in-process)")
	fs.StringVar(&cfg.token, "token", os.Getenv("GRANTLOG_TOKEN"), "bearer token for --url (env GRANTLOG_TOKEN)")
	fs.StringVar(&cfg.dataDir, "data-dir", "", "data directory of the in-process server (default: a temporary directory, removed at the end)")
	fs.IntVar(&cfg.users, "users", 100_000, "users in the dataset")
	fs.IntVar(&cfg.namespaces, "namespaces", 100, "namespaces in the dataset")
	fs.IntVar(&cfg.roles, "roles", 200, "roles in the dataset")
	fs.IntVar(&cfg.perms, "perms", 20, "permissions per role")
	fs.IntVar(&cfg.maxRoles, "max-roles", 3, "each user holds 1..max-roles roles")
	fs.IntVar(&cfg.maxNS, "max-ns", 5, "each assignment applies in 1..max-ns namespaces")
	fs.IntVar(&cfg.wildcardEvery, "wildcard-every", 50, "every n-th role is a wildcard role, assigned without namespaces (0: none)")
	fs.IntVar(&cfg.checks, "checks", 20_000, "HTTP checks per concurrency level")
	fs.IntVar(&cfg.inprocCheck, "inproc-checks", 1_000_000, "in-process checks")
	fs.IntVar(&cfg.replicaChecks, "replica-checks", 200_000, "HTTP checks sent to the coldstart phase's replica process before its RSS is read")
	fs.BoolVar(&cfg.noReplayZero, "coldstart-skip-zero", false, "skip the coldstart phase's replica started from zero (a full replay: minutes at 10M users)")
	fs.StringVar(&cfg.replicaLimit, "replica-gomemlimit", "", "GOMEMLIMIT of the coldstart phase's replica processes (e.g. 2500MiB; default: the environment's)")
	fs.IntVar(&cfg.tokens, "tokens", 1_000, "API tokens issued (one command each) for the token-check phase")
	fs.IntVar(&cfg.commands, "commands", 500, "single commands per writer setting (fsync on every write)")
	fs.StringVar(&conc, "concurrency", "1,4,16,64", "HTTP client concurrency levels")
	fs.StringVar(&writers, "writers", "1,8", "concurrent writers of the commands phase, one setting after another (each writer its own namespace)")
	fs.StringVar(&phases, "phases", allPhases, "phases to run, comma-separated")
	fs.StringVar(&cfg.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (server and load) to this file")
	fs.StringVar(&cfg.label, "label", "", "a name for what is measured (a build, a setting), recorded in the JSON report")
	fs.Uint64Var(&cfg.seed, "seed", 1, "dataset seed")
	fs.BoolVar(&quick, "quick", false, "small counts for a smoke run (overrides counts not set explicitly)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: grantbench [flags]\n       grantbench plot [--out DIR] REPORT.json...   (SVG charts)\n       grantbench summary REPORT.json...            (medians of repeated runs)\n\nGenerates a dataset, loads it through the command path and measures checks\n(in-process, HTTP, NATS, batch, embedded follower), commands, replay and\nresources, against an in-process server on 127.0.0.1 (bounded counts).\n\nPhases (--phases, in this order):\n%s\nExamples:\n  grantbench --json run.json                 # the issue's workload (100k users), every phase\n  grantbench --users 1000000 --phases load,inproc,follower,coldstart\n  grantbench --quick                         # a smoke run (CI)\n\nFlags:\n", phaseHelp)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if quick {
		for name, v := range map[string]*int{"users": &cfg.users, "checks": &cfg.checks, "inproc-checks": &cfg.inprocCheck, "commands": &cfg.commands, "roles": &cfg.roles, "tokens": &cfg.tokens, "replica-checks": &cfg.replicaChecks} {
			if !set[name] {
				*v = map[string]int{"users": 2_000, "checks": 1_000, "inproc-checks": 20_000, "commands": 50, "roles": 50, "tokens": 50, "replica-checks": 2_000}[name]
			}
		}
	}
	for _, c := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 256 {
			fmt.Fprintf(stderr, "grantbench: --concurrency %q: use numbers from 1 to 256\n", conc)
			return 2
		}
		cfg.concurrency = append(cfg.concurrency, n)
	}
	for _, c := range strings.Split(writers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 256 {
			fmt.Fprintf(stderr, "grantbench: --writers %q: use numbers from 1 to 256\n", writers)
			return 2
		}
		cfg.writers = append(cfg.writers, n)
	}
	cfg.phases = map[string]bool{}
	for _, p := range strings.Split(phases, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(strings.Split(allPhases, ","), p) {
			fmt.Fprintf(stderr, "grantbench: unknown phase %q (phases: %s)\n", p, allPhases)
			return 2
		}
		cfg.phases[p] = true
	}
	if cfg.tokens < 0 || cfg.replicaChecks < 1 || cfg.wildcardEvery < 0 {
		fmt.Fprintln(stderr, "grantbench: --tokens and --wildcard-every must be 0 or more, --replica-checks 1 or more")
		return 2
	}
	if cfg.users < 1 || cfg.namespaces < 1 || cfg.roles < 1 || cfg.perms < 1 || cfg.maxRoles < 1 || cfg.maxNS < 1 {
		fmt.Fprintln(stderr, "grantbench: dataset sizes must be at least 1")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{cfg: cfg, out: stdout, log: slog.New(slog.NewTextHandler(io.Discard, nil)), progress: stderr}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "grantbench: --cpuprofile: %v\n", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	if err := b.run(ctx); err != nil {
		fmt.Fprintf(stderr, "grantbench: %v\n", err)
		return 1
	}
	b.print()
	if cfg.jsonOut != "" {
		raw, _ := json.MarshalIndent(b.report, "", "  ")
		if err := os.WriteFile(cfg.jsonOut, append(raw, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "grantbench: %v\n", err)
			return 1
		}
	}
	return 0
}

// Result is one measured figure.
type Result struct {
	Phase string  `json:"phase"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Note  string  `json:"note,omitempty"`
}

// Report is everything one run measured.
type Report struct {
	// Label names the build or setting measured (--label), e.g.
	// "before" and "group commit": the writes chart draws one line each.
	Label   string            `json:"label,omitempty"`
	Started time.Time         `json:"started"`
	Machine map[string]string `json:"machine"`
	Shape   map[string]int    `json:"shape"`
	Results []Result          `json:"results"`
	// Distributions are the latency distributions of the check phases.
	Distributions []Distribution `json:"distributions,omitempty"`
}
