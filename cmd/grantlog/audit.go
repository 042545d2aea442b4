package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/events"
)

const auditUsage = `Usage:
  grantlog audit tail [-f] [--namespace NS]... [--type T]... [--since 1h | --from-revision N] [--json]
  grantlog audit export [--namespace NS]... [--type T]... [--since 1h | --from-revision N] > audit.jsonl
  grantlog audit verify [--namespace NS]...

tail    prints audit records, one line each (time, revision, namespace, actor,
        type, reason), or JSON lines with --json; -f keeps following the stream.
export  writes every selected record as JSON lines to stdout, progress to stderr.
verify  walks the per-namespace hash chains and, from the log's first signing
        key on, checks every event's signature; names the first broken link
        or unsigned/forged event (exit status 1). Checking signatures needs
        the key records of namespace _platform (ADMIN:AUDIT Read).

Every subcommand talks to a Grantlog server over HTTP: --url (env GRANTLOG_URL,
else the current context's, else http://127.0.0.1:8080) with the token in
--token-file or GRANTLOG_TOKEN, else the current context's (only when the URL
is the context's: a context's token is never sent elsewhere).
Reading a namespace's records needs ADMIN:NAMESPACE:{ns}:AUDIT Read; platform
records (namespace _platform) need ADMIN:AUDIT Read.
`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// auditFlags are the flags every audit subcommand shares.
type auditFlags struct {
	url, tokenFile   string
	namespaces       stringList
	types            stringList
	since            string
	fromRevision     uint64
	follow, jsonOut  bool
	withSelectors    bool
	withStreamFormat bool
}

func (f *auditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "url", "", "server URL (default: env GRANTLOG_URL, the current context's, or http://127.0.0.1:8080)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the API token (default: env GRANTLOG_TOKEN)")
	fs.Var(&f.namespaces, "namespace", "only this namespace (repeatable; _platform for roles, scopes, endpoints)")
	if f.withSelectors {
		fs.Var(&f.types, "type", "only this event type, e.g. role.updated.v1 (repeatable)")
		fs.StringVar(&f.since, "since", "", "start at this time: RFC 3339, or a duration ago such as 1h")
		fs.Uint64Var(&f.fromRevision, "from-revision", 0, "start at this revision")
	}
	if f.withStreamFormat {
		fs.BoolVar(&f.follow, "f", false, "follow: keep printing new records until interrupted")
		fs.BoolVar(&f.jsonOut, "json", false, "print JSON lines instead of one human line per record")
	}
}

func (f *auditFlags) client() (*client.Client, error) {
	url := f.url
	if url == "" {
		url = os.Getenv("GRANTLOG_URL")
	}
	token := os.Getenv("GRANTLOG_TOKEN")
	if f.tokenFile != "" {
		raw, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
		token = strings.TrimSpace(string(raw))
	}
	if token == "" || url == "" {
		// The current context, if any; its token goes only to its URL.
		if cu, ct, err := resolveTarget(""); err == nil && (url == "" || url == cu) {
			url = cu
			if token == "" {
				token = ct
			}
		}
	}
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	if token == "" {
		return nil, errors.New("no token: give --token-file PATH, set GRANTLOG_TOKEN, or use a context (grantlog context add NAME --url URL --token-file FILE)")
	}
	return client.New(url, token), nil
}

func (f *auditFlags) options(now time.Time) (client.AuditOptions, error) {
	o := client.AuditOptions{Namespaces: f.namespaces, Types: f.types, FromRevision: f.fromRevision}
	if f.since != "" {
		if f.fromRevision > 0 {
			return o, errors.New("give --since or --from-revision, not both")
		}
		if t, err := time.Parse(time.RFC3339, f.since); err == nil {
			o.Since = t
		} else if d, err := time.ParseDuration(f.since); err == nil && d >= 0 {
			o.Since = now.Add(-d)
		} else {
			return o, fmt.Errorf("--since %q: use an RFC 3339 time or a duration such as 1h", f.since)
		}
	}
	return o, nil
}

func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, auditUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	f := &auditFlags{}
	switch sub {
	case "tail":
		f.withSelectors, f.withStreamFormat = true, true
	case "export":
		f.withSelectors = true
	case "verify":
	default:
		fmt.Fprintf(stderr, "grantlog audit: unknown subcommand %q\n\n%s", sub, auditUsage)
		return 2
	}
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, auditUsage+"\nFlags of "+sub+":\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "grantlog audit %s: unexpected argument %q (flags only; see --help)\n", sub, fs.Arg(0))
		return 2
	}
	c, err := f.client()
	if err != nil {
		fmt.Fprintf(stderr, "grantlog audit %s: %v\n", sub, err)
		return 2
	}
	o, err := f.options(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "grantlog audit %s: %v\n", sub, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch sub {
	case "tail":
		err = auditTail(ctx, c, o, f, stdout)
	case "export":
		err = auditExport(ctx, c, o, stdout, stderr)
	case "verify":
		var b *audit.Break
		b, err = auditVerify(ctx, c, o, stdout)
		if err == nil && b != nil && b.Reason != "" {
			fmt.Fprintf(stderr, "grantlog audit verify: NOT AUTHENTIC at revision %d, namespace %s: %s\n",
				b.Revision, b.Namespace, b.Reason)
			return 1
		}
		if err == nil && b != nil {
			fmt.Fprintf(stderr, "grantlog audit verify: BROKEN LINK at revision %d, namespace %s: expected prevHash %q, found %q\n",
				b.Revision, b.Namespace, b.Expected, b.Found)
			return 1
		}
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "grantlog audit %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// eachRecord reads every record o selects, page by page, up to the
// stream's head at the time.
func eachRecord(ctx context.Context, c *client.Client, o client.AuditOptions, fn func(audit.Record) error) error {
	for {
		p, err := c.AuditPage(ctx, o, 1000)
		if err != nil {
			return err
		}
		for i := range p.Data {
			if err := fn(p.Data[i]); err != nil {
				return err
			}
		}
		if p.Next == 0 {
			return nil
		}
		o.FromRevision, o.Since = p.Next, time.Time{}
	}
}

func printRecord(w io.Writer, r audit.Record, jsonOut bool) error {
	if jsonOut {
		raw, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	actor := r.Actor.Type + ":" + r.Actor.ID
	if r.OnBehalfOf != nil {
		actor += " for " + r.OnBehalfOf.Type + ":" + r.OnBehalfOf.ID
	}
	reason := r.Reason
	if reason == "" {
		reason = "-"
	}
	_, err := fmt.Fprintf(w, "%s  #%d  %s  %s  %s  %s\n",
		r.OccurredAt.UTC().Format(time.RFC3339), r.Revision, r.Namespace, actor, r.Type, reason)
	return err
}

func auditTail(ctx context.Context, c *client.Client, o client.AuditOptions, f *auditFlags, stdout io.Writer) error {
	if !f.follow {
		return eachRecord(ctx, c, o, func(r audit.Record) error { return printRecord(stdout, r, f.jsonOut) })
	}
	for r, err := range c.Audit(ctx, o) {
		if err != nil {
			return err
		}
		if err := printRecord(stdout, r, f.jsonOut); err != nil {
			return err
		}
	}
	return nil
}

func auditExport(ctx context.Context, c *client.Client, o client.AuditOptions, stdout, stderr io.Writer) error {
	n := 0
	last := time.Now()
	err := eachRecord(ctx, c, o, func(r audit.Record) error {
		n++
		if time.Since(last) > time.Second {
			fmt.Fprintf(stderr, "exported %d records (revision %d)\n", n, r.Revision)
			last = time.Now()
		}
		return printRecord(stdout, r, true)
	})
	fmt.Fprintf(stderr, "exported %d records\n", n)
	return err
}

// auditVerify checks the hash chains and signatures of the namespaces o
// selects (every readable one when none), from their first event.
func auditVerify(ctx context.Context, c *client.Client, o client.AuditOptions, stdout io.Writer) (*audit.Break, error) {
	v := audit.NewVerifier()
	keysNote := ""
	if len(o.Namespaces) > 0 && !slices.Contains(o.Namespaces, events.PlatformNamespace) {
		// The signing keys are platform records: read them first.
		var keys []audit.Record
		err := eachRecord(ctx, c, client.AuditOptions{Namespaces: []string{events.PlatformNamespace},
			Types: []string{events.TypeLogSigningKeyAdded}}, func(r audit.Record) error {
			keys = append(keys, r)
			return nil
		})
		if err != nil {
			keysNote = fmt.Sprintf("; signatures NOT checked: cannot read the log's signing keys (%v)", err)
		}
		v.PreloadKeys(keys)
	}
	var brk *audit.Break
	var head uint64
	errBroken := errors.New("broken")
	err := eachRecord(ctx, c, client.AuditOptions{Namespaces: o.Namespaces}, func(r audit.Record) error {
		head = r.Revision
		if b := v.Add(r); b != nil {
			brk = b
			return errBroken
		}
		return nil
	})
	if brk != nil {
		return brk, nil
	}
	if err != nil {
		return nil, err
	}
	switch {
	case keysNote != "":
	case v.Signed():
		keysNote = "; every event since the log's first signing key is signed by the command side"
	default:
		keysNote = "; the log has no signing key (events are not signed)"
	}
	fmt.Fprintf(stdout, "hash chains intact: %d records in %d namespaces, up to revision %d%s\n", v.Records(), v.Namespaces(), head, keysNote)
	return nil, nil
}
