package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/edge/httpapi"
)

// Exit statuses of the CLI (grantlog check: 0 allowed, 1 denied, like grep).
const (
	exitOK      = 0
	exitDenied  = 1
	exitUsage   = 2 // a bad command line or configuration
	exitRefused = 3 // the server refused the request, or could not be reached
)

// Command groups of grantlog --help.
var groups = []*cobra.Group{
	{ID: "service", Title: "Service:"},
	{ID: "model", Title: "Model:"},
	{ID: "checks", Title: "Checks:"},
	{ID: "audit", Title: "Audit:"},
	{ID: "admin", Title: "Administration:"},
	{ID: "setup", Title: "Setup:"},
}

// groupOf is the group of a top-level command; a top-level name the table
// gains later lands in admin.
var groupOf = map[string]string{
	"serve": "service", "config": "service", "health": "service",
	"role": "model", "assign": "model", "unassign": "model", "user": "model", "namespace": "model",
	"client": "model", "token": "model", "scope": "model", "endpoint": "model", "preset": "model", "catalog": "model",
	"apply": "model", "export": "model",
	"check": "checks", "checks": "checks",
	"audit":   "audit",
	"context": "setup", "completion": "setup", "version": "setup", "help": "setup",
}

// exitError ends the CLI with status code; msg (if any) goes to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// cli is one run of the CLI: its streams and global flags.
type cli struct {
	ctx            context.Context
	stdout, stderr io.Writer
	contextName    string
	output         string
	// tty says stdout is a terminal (table output by default).
	tty bool
	// started is set once cobra has parsed and validated the command
	// line: an error before it is a usage error.
	started bool
}

// reserved are the CLI's own top-level commands: an operation of the table
// by one of these names is left out (it would take their place).
var reserved = map[string]bool{"serve": true, "health": true, "audit": true, "config": true, "context": true, "completion": true, "version": true, "help": true}

const rootLong = `grantlog — an event-sourced permission service, and its command line.

Run a node with "grantlog serve"; everything else is a client of a node's
HTTP API. Point it at a node once with a context:

  grantlog context add local --url http://127.0.0.1:8080 --token-file grantlog-data/bootstrap-token

or with GRANTLOG_URL and GRANTLOG_TOKEN (they override the current context).

Every operation of the API is a command: "role.permissions.add" is
"grantlog role permissions add". Output: -o table (the default on a
terminal), -o json (the default otherwise: exactly the API's JSON) or -o yaml.

Exit status: 0 success (check: allowed), 1 check denied, 2 bad command line
or configuration, 3 the server refused the request or could not be reached.`

func (c *cli) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "grantlog",
		Short:         "An event-sourced permission service",
		Long:          rootLong,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// cobra checks these after PersistentPreRun: check them
			// first, so that they are usage errors.
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return err
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return err
			}
			c.started = true
			_, err := c.format()
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(c.stderr)
			_ = cmd.Help()
			return &exitError{code: exitUsage}
		},
	}
	root.SetVersionTemplate("grantlog {{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.PersistentFlags().StringVar(&c.contextName, "context", "", "the context to use (default: the current one, see grantlog context ls)")
	root.PersistentFlags().StringVarP(&c.output, "output", "o", "", "output format: table, json or yaml (default: table on a terminal, json otherwise)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, err := loadContexts()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return cfg.names(), cobra.ShellCompDirectiveNoFileComp
	})
	root.AddGroup(groups...)
	root.SetHelpCommandGroupID("setup")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr("%v\nRun '%s --help' for usage.", err, cmd.CommandPath())
	})

	root.AddCommand(
		passThrough("serve", "Run the service on this machine (grantlog serve --help for its flags)",
			"grantlog serve --data-dir grantlog-data --http-addr 127.0.0.1:8080", serve, c),
		passThrough("audit", "Tail, export or verify the audit stream (grantlog audit help)",
			"grantlog audit tail -f --namespace mygame", auditCmd, c),
		c.versionCmd(), c.completionCmd(root), c.contextCmd(), c.configCmd(), c.healthCmd(),
	)
	c.addOperations(root)
	c.addVerbs(root)
	node(root, []string{"bootstrap"}).AddCommand(c.bootstrapTokenCmd())
	root.AddCommand(c.applyCmd(), c.exportCmd())
	root.AddCommand(c.backupCmd(), c.restoreCmd())
	addGroupExamples(root)
	for _, cmd := range root.Commands() {
		if g, ok := groupOf[cmd.Name()]; ok {
			cmd.GroupID = g
		} else if cmd.GroupID == "" {
			cmd.GroupID = "admin"
		}
	}
	return root
}

// addGroupExamples gives each command that groups others (role, role
// permissions, namespace, ...) the first example of each subcommand.
func addGroupExamples(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		addGroupExamples(sub)
	}
	if cmd.Example != "" || !cmd.HasSubCommands() || !cmd.HasParent() {
		return
	}
	var lines []string
	for _, sub := range cmd.Commands() {
		if line, _, _ := strings.Cut(sub.Example, "\n"); line != "" && !sub.Hidden {
			lines = append(lines, line)
		}
	}
	cmd.Example = strings.Join(lines, "\n")
}

// passThrough wires a command of the flag-package era: cobra hands it
// every argument untouched (so its flags, single-dash forms included,
// its output and its exit statuses stay as they were).
func passThrough(name, short, example string, fn func(context.Context, []string, io.Writer, io.Writer) int, c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:                name,
		Short:              short,
		Example:            "  " + example,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := fn(c.ctx, args, c.stdout, c.stderr); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	// grantlog help serve: the command's own usage.
	cmd.SetHelpFunc(func(*cobra.Command, []string) { fn(c.ctx, []string{"--help"}, c.stdout, c.stderr) })
	return cmd
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  grantlog version",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(c.stdout, "grantlog", version)
			return nil
		},
	}
}

func (c *cli) completionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script",
		Long: `Print the completion script of bash, zsh or fish. Load it in the current shell,
or install it where your shell looks for completions.`,
		Example: `  source <(grantlog completion bash)
  grantlog completion zsh > "${fpath[1]}/_grantlog"
  grantlog completion fish > ~/.config/fish/completions/grantlog.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(_ *cobra.Command, args []string) error {
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(c.stdout, true)
			case "zsh":
				return root.GenZshCompletion(c.stdout)
			default:
				return root.GenFishCompletion(c.stdout, true)
			}
		},
	}
}

// execute runs the CLI on args and returns the exit status.
func (c *cli) execute(args []string) int {
	root := c.root()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(c.ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(c.stderr, "grantlog: %s\n", ee.msg)
		}
		return ee.code
	}
	var ae *client.APIError
	if errors.As(err, &ae) {
		fmt.Fprintf(c.stderr, "%s: %s\n", ae.Code, ae.Message)
		if fix := fixOf(ae); fix != "" {
			fmt.Fprintf(c.stderr, "fix: %s\n", fix)
		}
		return exitRefused
	}
	if !c.started {
		// cobra refused the command line: unknown command, bad
		// arguments, a required flag missing.
		path := "grantlog"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(c.stderr, "grantlog: %v\nRun '%s --help' for usage.\n", err, path)
		return exitUsage
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "grantlog: ") {
		msg = "grantlog: " + msg
	}
	fmt.Fprintln(c.stderr, msg)
	var ue *url.Error
	if errors.As(err, &ue) {
		fmt.Fprintln(c.stderr, "fix: is a node running at that URL? grantlog context ls shows the URL of each context")
	}
	return exitRefused
}

// fixOf says how to get past an API error.
func fixOf(e *client.APIError) string {
	switch {
	case errors.Is(e, client.ErrUnauthorized):
		return "give the context a token (grantlog context add NAME --url URL --token-file FILE) or set GRANTLOG_TOKEN"
	case errors.Is(e, client.ErrForbidden):
		return "use a token whose roles grant the permission the message names (grantlog user roles --namespace NS --user ID)"
	case errors.Is(e, client.ErrNotYet):
		return "retry, or ask a node that has caught up (grantlog status)"
	case errors.Is(e, client.ErrWrongNode):
		return "point the context at a node that serves this (grantlog context add NAME --url URL ...)"
	case errors.Is(e, client.ErrNotFound):
		return "check the names and ids (grantlog role list, grantlog namespace list)"
	case errors.Is(e, client.ErrConflict):
		return "it exists already, or changed meanwhile: read it again and retry"
	case errors.Is(e, client.ErrInvalid):
		return "see the command's --help for the fields it takes"
	case e.Status == http.StatusNotImplemented:
		return "this node does not serve it: ask another node"
	}
	return ""
}

// requestTimeout bounds one request of the CLI.
const requestTimeout = 2 * time.Minute

// client is the SDK client of the chosen context; its requests say
// Grantlog-Source: cli, so the audit records say the changes came through
// the CLI.
func (c *cli) client() (*client.Client, error) {
	base, token, err := resolveTarget(c.contextName)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: requestTimeout, Transport: &client.HeaderTransport{Header: http.Header{httpapi.SourceHeader: {events.ViaCLI}}}}
	return client.New(base, token, client.WithHTTPClient(hc)), nil
}
