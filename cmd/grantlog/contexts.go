package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// A context is a server to talk to and where its token is: the token
// itself is never stored, only the file holding it or the variable
// naming it.
type savedContext struct {
	URL       string `json:"url"`
	TokenFile string `json:"tokenFile,omitempty"`
	TokenEnv  string `json:"tokenEnv,omitempty"`
}

// contexts is contexts.json.
type contexts struct {
	Current  string                  `json:"current,omitempty"`
	Contexts map[string]savedContext `json:"contexts"`
}

func (cfg *contexts) names() []string {
	names := make([]string, 0, len(cfg.Contexts))
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// contextsPath is os.UserConfigDir()/grantlog/contexts.json.
func contextsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", usageErr("no config directory for contexts (%v): set HOME or XDG_CONFIG_HOME, or use GRANTLOG_URL and GRANTLOG_TOKEN", err)
	}
	return filepath.Join(dir, "grantlog", "contexts.json"), nil
}

func loadContexts() (*contexts, error) {
	cfg := &contexts{Contexts: map[string]savedContext{}}
	p, err := contextsPath()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, usageErr("contexts: %v", err)
	}
	if err := json.Unmarshal(raw, cfg); err != nil {
		return nil, usageErr("contexts: %s is not valid JSON (%v): fix or remove it", p, err)
	}
	if cfg.Contexts == nil {
		cfg.Contexts = map[string]savedContext{}
	}
	return cfg, nil
}

// save writes cfg atomically: directory 0700, file 0600.
func (cfg *contexts) save() error {
	p, err := contextsPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return usageErr("contexts: %v", err)
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".contexts-*.json")
	if err != nil {
		return usageErr("contexts: %v", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return usageErr("contexts: %v", err)
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		_ = tmp.Close()
		return usageErr("contexts: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return usageErr("contexts: %v", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return usageErr("contexts: %v", err)
	}
	return nil
}

// resolveTarget is the URL and token of a request: the named context (or
// the current one), with GRANTLOG_URL and GRANTLOG_TOKEN overriding the
// current context (a context named with --context wins over them).
func resolveTarget(name string) (url, token string, err error) {
	cfg, err := loadContexts()
	if err != nil {
		return "", "", err
	}
	explicit := name != ""
	if !explicit {
		name = cfg.Current
	}
	var ctx savedContext
	if name != "" {
		var ok bool
		if ctx, ok = cfg.Contexts[name]; !ok {
			return "", "", usageErr("no context %q: run grantlog context ls to see them, or grantlog context add %s --url URL --token-file FILE", name, name)
		}
	}
	url = ctx.URL
	if v := os.Getenv("GRANTLOG_URL"); v != "" && !explicit {
		url = v
	}
	if url == "" {
		return "", "", usageErr("no context: run grantlog context add NAME --url URL --token-file FILE, or set GRANTLOG_URL (and GRANTLOG_TOKEN)")
	}
	if v := os.Getenv("GRANTLOG_TOKEN"); v != "" && !explicit {
		return url, strings.TrimSpace(v), nil
	}
	switch {
	case ctx.TokenFile != "":
		raw, err := os.ReadFile(ctx.TokenFile)
		if err != nil {
			return "", "", usageErr("context %s: token file: %v (fix it with grantlog context add %s --url %s --token-file FILE)", name, err, name, ctx.URL)
		}
		token = strings.TrimSpace(string(raw))
	case ctx.TokenEnv != "":
		token = strings.TrimSpace(os.Getenv(ctx.TokenEnv))
		if token == "" {
			return "", "", usageErr("context %s: $%s is empty: export %s=TOKEN", name, ctx.TokenEnv, ctx.TokenEnv)
		}
	}
	return url, token, nil
}

func (c *cli) contextCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "Save, choose and list the servers the CLI talks to",
		Long: `A context is a server URL and where its token is (a file, or an environment
variable). The token itself is never stored. Contexts are kept in
` + "`os.UserConfigDir()`" + `/grantlog/contexts.json (mode 0600). GRANTLOG_URL and
GRANTLOG_TOKEN override the current context; --context NAME picks another
(and then they do not apply).`,
		Example: `  grantlog context add local --url http://127.0.0.1:8080 --token-file grantlog-data/bootstrap-token
  grantlog context use local
  grantlog context ls`,
	}
	var add savedContext
	addCmd := &cobra.Command{
		Use:     "add NAME --url URL (--token-file FILE | --token-env VAR)",
		Short:   "Add (or replace) a context, and make it current",
		Example: "  grantlog context add prod --url https://grantlog.example.com --token-env PROD_GRANTLOG_TOKEN",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if add.URL == "" {
				return usageErr("context add: --url is required, e.g. --url http://127.0.0.1:8080")
			}
			if add.TokenFile != "" && add.TokenEnv != "" {
				return usageErr("context add: give --token-file or --token-env, not both")
			}
			if add.TokenFile != "" {
				abs, err := filepath.Abs(add.TokenFile)
				if err != nil {
					return usageErr("context add: %v", err)
				}
				add.TokenFile = abs
			}
			cfg, err := loadContexts()
			if err != nil {
				return err
			}
			cfg.Contexts[args[0]] = add
			cfg.Current = args[0]
			if err := cfg.save(); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Context %s added; it is the current context.\n", args[0])
			return nil
		},
	}
	addCmd.Flags().StringVar(&add.URL, "url", "", "the server's URL, e.g. http://127.0.0.1:8080")
	addCmd.Flags().StringVar(&add.TokenFile, "token-file", "", "file holding the API token (read at each call)")
	addCmd.Flags().StringVar(&add.TokenEnv, "token-env", "", "environment variable holding the API token")

	useCmd := &cobra.Command{
		Use:     "use NAME",
		Short:   "Make a context the current one",
		Example: "  grantlog context use local",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			cfg, err := loadContexts()
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			return cfg.names(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, err := loadContexts()
			if err != nil {
				return err
			}
			if _, ok := cfg.Contexts[args[0]]; !ok {
				return usageErr("no context %q: run grantlog context ls, or grantlog context add %s --url URL --token-file FILE", args[0], args[0])
			}
			cfg.Current = args[0]
			if err := cfg.save(); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Current context: %s\n", args[0])
			return nil
		},
	}
	lsCmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the contexts; * marks the current one",
		Example: "  grantlog context ls",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := loadContexts()
			if err != nil {
				return err
			}
			if len(cfg.Contexts) == 0 {
				fmt.Fprintln(c.stdout, "No contexts: add one with grantlog context add NAME --url URL --token-file FILE")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CURRENT\tNAME\tURL\tTOKEN")
			for _, n := range cfg.names() {
				sc := cfg.Contexts[n]
				mark := ""
				if n == cfg.Current {
					mark = "*"
				}
				tok := "none"
				switch {
				case sc.TokenFile != "":
					tok = "file " + sc.TokenFile
				case sc.TokenEnv != "":
					tok = "env $" + sc.TokenEnv
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, n, sc.URL, tok)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(addCmd, useCmd, lsCmd)
	return cmd
}
