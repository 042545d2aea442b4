package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/perm"
)

// config is what the flags say.
type config struct {
	natsURL   string
	natsCreds string
	dir       string
	namespace string
	users     []string
	atLeast   uint64
	timeout   time.Duration
}

func main() {
	var cfg config
	var users string
	flag.StringVar(&cfg.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server holding the Grantlog event stream")
	flag.StringVar(&cfg.natsCreds, "nats-creds", "grantlog-data/nats-follower.creds", "NATS credentials file (<data-dir>/nats-follower.creds of grantlog serve: the follower user reads the stream and snapshots, nothing else)")
	flag.StringVar(&cfg.dir, "dir", "follower-data", "directory of the follower's own Pebble index")
	flag.StringVar(&cfg.namespace, "namespace", "game", "the game's namespace")
	flag.StringVar(&users, "users", "p1,p2", "comma-separated player ids to check")
	flag.Uint64Var(&cfg.atLeast, "at-least-revision", 0, "wait until the follower has applied this revision (a command's answer) before checking")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "how long to wait for the follower to catch up")
	flag.Parse()
	for u := range strings.SplitSeq(users, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.users = append(cfg.users, u)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "follower:", err)
		os.Exit(1)
	}
}

// gameAction is something a player does and the permission it needs.
type gameAction struct {
	what     string
	resource string // {user} is replaced by the player
	action   perm.Action
}

var gameActions = []gameAction{
	{"join a match", "NAMESPACE:%s:MATCH", perm.Read},
	{"host a match", "NAMESPACE:%s:MATCH", perm.Create},
	{"read own orders", "NAMESPACE:%s:USER:{user}:ORDER", perm.Read},
}

func run(ctx context.Context, cfg config) (err error) {
	start := time.Now()
	f, err := client.NewFollower(ctx, client.FollowerConfig{
		URL: cfg.natsURL, CredsFile: cfg.natsCreds, Dir: cfg.dir,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()

	wctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := f.WaitReady(wctx); err != nil {
		return fmt.Errorf("catching up with the stream: %w", err)
	}
	if err := f.WaitFor(wctx, cfg.atLeast); err != nil {
		return fmt.Errorf("waiting for revision %d: %w", cfg.atLeast, err)
	}
	fmt.Printf("follower ready at revision %d in %v (index in %s)\n", f.Revision(), time.Since(start).Round(time.Millisecond), cfg.dir)

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	for _, user := range cfg.users {
		for _, a := range gameActions {
			resource := strings.ReplaceAll(fmt.Sprintf(a.resource, cfg.namespace), "{user}", user)
			t0 := time.Now()
			res, err := f.Check(ctx, &client.CheckRequest{
				Subject:   client.Subject{Type: "user", ID: user},
				Namespace: cfg.namespace, Resource: resource, Action: a.action,
			})
			took := time.Since(t0)
			if err != nil {
				return fmt.Errorf("check %s %s: %w", user, a.what, err)
			}
			answer := "denied"
			if res.Allowed {
				answer = "allowed"
			}
			fmt.Fprintf(w, "%s\t%s\t%s %v\t%s\t(revision %d, %v)\n", user, a.what, resource, a.action, answer, res.Revision, took)
		}
	}
	return w.Flush()
}
