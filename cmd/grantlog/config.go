package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/cobra"
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/grantlog/grantlog/internal/edge/ratelimit"
	"github.com/grantlog/grantlog/internal/server"
)

// The config file of grantlog serve (--config FILE): a YAML mapping whose
// keys are serve's flag names. It is read generically from the flag set,
// so every serve flag is a key (a flag added later too), with the
// precedence flag > environment variable > file > default. Environment
// variables are already the flags' defaults (envOr): a key of the file is
// applied only to a flag neither given on the command line nor set by its
// environment variable (the one the flag's usage names, "(env NAME)").
//
// koanf (file provider, YAML parser) loads the file; yaml.v3's Node API
// gives the line of each key for the errors.

// configFlag is serve's flag naming the config file.
const configFlag = "config"

// addOpsFlags defines serve's flags of the config file, the admin
// listener and the rate limit; check reports a bad value of them by its
// setting (so that one from the config file is reported with its line).
func addOpsFlags(fs *flag.FlagSet, cfg *server.Config) (check func() error) {
	fs.String(configFlag, os.Getenv("GRANTLOG_CONFIG"),
		"YAML file of settings whose keys are these flags' names, e.g. http-addr: 127.0.0.1:8080 (deploy/grantlog.yaml); flags and environment variables override it (env GRANTLOG_CONFIG)")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", os.Getenv("GRANTLOG_ADMIN_ADDR"),
		"HOST:PORT of the admin listener serving net/http/pprof under /debug/pprof/, unauthenticated: keep it on localhost or a private network (default off) (env GRANTLOG_ADMIN_ADDR)")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", envFloat("GRANTLOG_RATE_LIMIT"),
		"requests a second each caller may make over HTTP and NATS (keyed by the authenticated caller; without a credential, by remote address); more are answered 429 with Retry-After (default 0: off) (env GRANTLOG_RATE_LIMIT)")
	fs.IntVar(&cfg.RateBurst, "rate-burst", envInt("GRANTLOG_RATE_BURST"),
		"requests a caller may make at once above --rate-limit (default: the rate rounded up) (env GRANTLOG_RATE_BURST)")
	return func() error {
		if r := cfg.RateLimit; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			return settingErr("rate-limit", "--rate-limit %v: use 0 (off) or a positive number of requests a second", r)
		}
		if cfg.RateBurst < 0 {
			return settingErr("rate-burst", "--rate-burst %d: use 0 (the rate rounded up) or a positive number of requests", cfg.RateBurst)
		}
		if a := cfg.AdminAddr; a != "" {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return settingErr("admin-addr", "--admin-addr %q: want HOST:PORT, e.g. 127.0.0.1:6060", a)
			}
		}
		return nil
	}
}

// envFloat and envInt are an environment variable's number as a flag's
// default: a value that is not a number is kept as 0 here and refused by
// applyConfigFile (envErrors), with the variable's name.
func envFloat(key string) float64 {
	f, _ := strconv.ParseFloat(os.Getenv(key), 64)
	return f
}

func envInt(key string) int {
	n, _ := strconv.Atoi(os.Getenv(key))
	return n
}

// settingSource says where a setting's value came from.
type settingSource struct {
	from string // "flag", "env NAME", "file" or "default"
	line int    // the file's line, for "file"
}

func (s settingSource) String() string {
	if s.from == "file" {
		return fmt.Sprintf("file, line %d", s.line)
	}
	return s.from
}

// settings are the sources of serve's settings once the config file is
// applied.
type settings struct {
	path    string
	sources map[string]settingSource
}

// settingError is a setting's invalid value.
type settingError struct {
	flag, msg string
}

func (e *settingError) Error() string { return e.msg }

func settingErr(name, format string, args ...any) error {
	return &settingError{flag: name, msg: fmt.Sprintf(format, args...)}
}

// explain adds where a setting came from to an error of finish (its file
// and line, or its environment variable).
func (s *settings) explain(err error) error {
	var se *settingError
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch src := s.sources[se.flag]; {
	case src.from == "file":
		return fmt.Errorf("%s:%d: %w", s.path, src.line, err)
	case strings.HasPrefix(src.from, "env "):
		return fmt.Errorf("%w (from %s)", err, strings.TrimPrefix(src.from, "env "))
	}
	return err
}

var envInUsage = regexp.MustCompile(`\(env (GRANTLOG_[A-Z0-9_]+)\)`)

// envOf is the environment variable a flag's usage names ("" for none).
func envOf(f *flag.Flag) string {
	if m := envInUsage.FindStringSubmatch(f.Usage); m != nil {
		return m[1]
	}
	return ""
}

// secret reports a setting whose value is never printed.
func secret(name string) bool {
	return strings.Contains(name, "password") || strings.Contains(name, "secret")
}

// oneShot are the serve flags meant for one start only: true is refused
// in a config file, which every start would read again.
var oneShot = map[string]bool{"reset-bootstrap-token": true}

// redactURL hides the password of a URL setting (nats://user:pw@host).
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	return v
}

// applyConfigFile applies the file named by fs's --config (if any) to the
// flags that neither the command line nor the environment set, and
// reports where every setting came from.
func applyConfigFile(fs *flag.FlagSet) (*settings, error) {
	st := &settings{sources: map[string]settingSource{}}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := envOf(f)
		switch {
		case given[f.Name]:
			st.sources[f.Name] = settingSource{from: "flag"}
		case env != "" && os.Getenv(env) != "":
			st.sources[f.Name] = settingSource{from: "env " + env}
			// A number or bool from the environment is checked here:
			// the flag's default could not hold a bad one.
			if isTyped(f) {
				probe := flag.NewFlagSet("env", flag.ContinueOnError)
				probe.SetOutput(io.Discard)
				probe.Var(cloneValue(f), f.Name, "")
				if err := probe.Set(f.Name, os.Getenv(env)); err != nil {
					errs = append(errs, fmt.Errorf("%s=%q: want %s", env, os.Getenv(env), typeName(f)))
				}
			}
		default:
			st.sources[f.Name] = settingSource{from: "default"}
		}
	})
	path := fs.Lookup(configFlag).Value.String()
	if path == "" {
		return st, errors.Join(errs...)
	}
	st.path = path
	values, err := readConfigFile(path, fs)
	if err != nil {
		return st, errors.Join(append(errs, err)...)
	}
	for _, v := range values {
		src := st.sources[v.name]
		if src.from != "default" {
			continue // the command line or the environment wins
		}
		if err := fs.Set(v.name, v.text); err != nil { // checked by readConfigFile
			errs = append(errs, fmt.Errorf("%s:%d: %s: %w", path, v.line, v.name, err))
			continue
		}
		st.sources[v.name] = settingSource{from: "file", line: v.line}
	}
	return st, errors.Join(errs...)
}

// fileValue is a setting of the config file.
type fileValue struct {
	name, text string
	line       int
}

// readConfigFile reads a config file: every key must be one of fs's flags
// (not --config) and every value a scalar the flag accepts. It reports
// every problem with its line.
func readConfigFile(path string, fs *flag.FlagSet) ([]fileValue, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc, more yamlv3.Node
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file %s: %w (want YAML: setting: value lines, see deploy/grantlog.yaml)", path, err)
	}
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		line := more.Line
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w (want one YAML document of setting: value lines)", path, err)
		}
		return nil, fmt.Errorf("%s:%d: a second YAML document: give every setting in one (no --- line between them)", path, line)
	}
	if len(doc.Content) == 0 { // empty: nothing set
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yamlv3.MappingNode {
		return nil, fmt.Errorf("%s:%d: the file must be a mapping of settings (http-addr: 127.0.0.1:8080), not %s", path, root.Line, kindName(root))
	}
	k := koanf.New(".")
	if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
		return nil, fmt.Errorf("config file %s: %w (want YAML: setting: value lines, see deploy/grantlog.yaml)", path, err)
	}
	raw := k.Raw()
	var (
		out  []fileValue
		errs []error
	)
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		name := key.Value
		f := fs.Lookup(name)
		if f == nil || name == configFlag || key.Kind != yamlv3.ScalarNode {
			errs = append(errs, fmt.Errorf("%s:%d: unknown setting %q; the settings are serve's flags: %s", path, key.Line, name, strings.Join(settingNames(fs), ", ")))
			continue
		}
		text, err := scalarText(f, raw[name], val)
		if err == nil {
			probe := flag.NewFlagSet("file", flag.ContinueOnError)
			probe.SetOutput(io.Discard)
			probe.Var(cloneValue(f), name, "")
			if serr := probe.Set(name, text); serr != nil {
				err = fmt.Errorf("want %s, got %q", typeName(f), text)
			}
		}
		if err == nil && oneShot[name] && text == "true" {
			err = fmt.Errorf("for one start only (each start with it acts again), so not true in a config file: give --%s on the command line the one time it is needed", name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %w", path, key.Line, name, err))
			continue
		}
		out = append(out, fileValue{name: name, text: text, line: key.Line})
	}
	return out, errors.Join(errs...)
}

// scalarText is the flag value of a setting: v as koanf read it, node its
// YAML node.
func scalarText(f *flag.Flag, v any, node *yamlv3.Node) (string, error) {
	if node.Kind != yamlv3.ScalarNode {
		return "", fmt.Errorf("want one value (%s), got %s", typeName(f), kindName(node))
	}
	if v == nil {
		return "", fmt.Errorf("no value: give %s, or delete the line for the default", typeName(f))
	}
	if isBool(f) {
		b, ok := v.(bool)
		if !ok {
			return "", fmt.Errorf("want true or false, got %q", node.Value)
		}
		return strconv.FormatBool(b), nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case time.Time: // a YAML timestamp: no setting is one
		return "", fmt.Errorf("want %s, got the timestamp %s", typeName(f), node.Value)
	case bool:
		if !isTyped(f) { // yes/no, true/false for a text setting: quote it
			return "", fmt.Errorf("want %s, got the boolean %s (quote it for text)", typeName(f), node.Value)
		}
	case int:
		return strconv.Itoa(x), nil // 0x10 and 1_000 as YAML reads them
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return node.Value, nil
}

func kindName(n *yamlv3.Node) string {
	switch n.Kind {
	case yamlv3.MappingNode:
		return "a mapping"
	case yamlv3.SequenceNode:
		return "a list"
	case yamlv3.AliasNode:
		return "reference to an anchor (write the value itself)"
	}
	return "a single value"
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// typeName says what a flag takes, from its flag.Getter value.
func typeName(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return "true or false"
		case int, int64, uint, uint64:
			return "a whole number"
		case float64:
			return "a number"
		case time.Duration:
			return "a duration such as 10s or 5m"
		}
	}
	return "text"
}

// isTyped reports a flag whose value is not free text.
func isTyped(f *flag.Flag) bool { return typeName(f) != "text" }

// cloneValue is a scratch value of f's type, to try a value on without
// setting f.
func cloneValue(f *flag.Flag) flag.Value {
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case bool:
			return new(boolValue)
		case int:
			return new(intValue)
		case float64:
			return new(floatValue)
		case time.Duration:
			return new(durationValue)
		case int64, uint, uint64:
			return new(intValue)
		}
	}
	return new(textValue)
}

type (
	boolValue     bool
	intValue      int
	floatValue    float64
	durationValue time.Duration
	textValue     string
)

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	*v = boolValue(b)
	return err
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 64)
	*v = intValue(n)
	return err
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *floatValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	*v = floatValue(f)
	return err
}
func (v *floatValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	*v = durationValue(d)
	return err
}
func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *textValue) Set(s string) error { *v = textValue(s); return nil }
func (v *textValue) String() string     { return string(*v) }

// settingNames are the keys a config file may hold.
func settingNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != configFlag {
			names = append(names, f.Name)
		}
	})
	return names
}

// configCheck validates a config file as serve would read it (with the
// environment, without flags) and prints the effective settings, secrets
// as set or unset.
func configCheck(path string, stdout, stderr io.Writer) int {
	fs, _, finish := serveFlags(io.Discard)
	if err := fs.Set(configFlag, path); err != nil {
		fmt.Fprintf(stderr, "grantlog config check: %v\n", err)
		return exitUsage
	}
	st, err := applyConfigFile(fs)
	if err == nil {
		err = st.explain(finish())
	}
	if err != nil {
		fmt.Fprintf(stderr, "grantlog config check: %s is not valid:\n%v\n", path, err)
		return exitUsage
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s is valid. Effective settings (flags given to grantlog serve override them):\n", path)
	names := settingNames(fs)
	slices.Sort(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		v := fs.Lookup(n).Value.String()
		switch {
		case secret(n) && v != "":
			v = "(set)"
		case secret(n):
			v = "(unset)"
		case v == "":
			v = `""`
		default:
			v = redactURL(v)
		}
		fmt.Fprintf(&b, "  %-*s  %-24s  %s\n", width, n, v, st.sources[n])
	}
	_, _ = stdout.Write(b.Bytes())
	return exitOK
}

// configCmd is grantlog config: check a config file of grantlog serve.
func (c *cli) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "config",
		Short:   "Check a config file of grantlog serve",
		GroupID: "service",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(c.stderr)
			_ = cmd.Help()
			return &exitError{code: exitUsage}
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a config file and print the effective settings (secrets as set or unset)",
		Long: `Validates a YAML config file of grantlog serve (--config FILE) the way serve
reads it: every key must be a serve flag's name and every value of that
flag's type; errors name the line. The effective settings are printed with
where each comes from: the file, an environment variable (which overrides
the file) or the default. Secret values are shown as (set) or (unset).`,
		Example: "  grantlog config check deploy/grantlog.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if code := configCheck(args[0], c.stdout, c.stderr); code != exitOK {
				return &exitError{code: code}
			}
			return nil
		},
	})
	return cmd
}

// printOps tells the operator about the admin listener and the rate limit
// at start.
func printOps(stdout io.Writer, srv *server.Server, cfg *server.Config) {
	if a := srv.AdminAddr(); a != "" {
		fmt.Fprintf(stdout, "Profiling on http://%s/debug/pprof/ (admin listener, no authentication: keep it off public networks).\n", a)
	}
	if cfg.RateLimit > 0 {
		fmt.Fprintf(stdout, "Rate limit: %s requests a second per caller (bursts of %d); more are answered 429 with Retry-After.\n",
			strconv.FormatFloat(cfg.RateLimit, 'f', -1, 64), ratelimit.New(cfg.RateLimit, cfg.RateBurst).Burst())
	}
}
