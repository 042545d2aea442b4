package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/grantlog/grantlog/client"
)

// The contract's verbs: commands shaped for people, over the same
// operations. They replace the generic command of the same path (and keep
// its subcommands: grantlog assign batch stays).
func (c *cli) addVerbs(root *cobra.Command) {
	replace(root, []string{"role", "create"}, c.roleCreateCmd())
	replace(root, []string{"role", "get"}, c.roleGetCmd())
	replace(root, []string{"role", "delete"}, c.roleDeleteCmd())
	replace(root, []string{"role", "permissions", "add"}, c.rolePermsCmd("add", "role.permissions.add", "Add permissions to a role (actions OR-ed into those it has)"))
	replace(root, []string{"role", "permissions", "remove"}, c.rolePermsCmd("remove", "role.permissions.remove", "Remove actions from a role's permissions (action 0 removes the resource)"))
	replace(root, []string{"role", "permissions", "replace"}, c.rolePermsCmd("set", "role.permissions.replace", "Set a role's permissions (replacing all of them)"))
	replace(root, []string{"assign"}, c.assignCmd())
	replace(root, []string{"unassign"}, c.unassignCmd())
	replace(root, []string{"user", "roles"}, c.userRolesCmd())
	replace(root, []string{"check"}, c.checkCmd())
}

// completeRoles completes a role's name (for ID|NAME arguments and flags)
// from the current context's first page of roles.
func (c *cli) completeRoles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	cl, err := c.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var page struct {
		Data []client.Role `json:"data"`
	}
	if err := cl.Do(c.ctx, "role.list", map[string]any{"limit": 1000}, &page); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(page.Data))
	for i := range page.Data {
		names = append(names, page.Data[i].RoleName)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// oneRole completes the first argument with role names.
func (c *cli) oneRole(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return c.completeRoles(cmd, args, prefix)
}

// replace puts cmd where path's command was, keeping its subcommands.
func replace(root *cobra.Command, path []string, cmd *cobra.Command) {
	old := node(root, path)
	parent := old.Parent()
	for _, sub := range old.Commands() {
		old.RemoveCommand(sub)
		cmd.AddCommand(sub)
	}
	parent.RemoveCommand(old)
	parent.AddCommand(cmd)
}

// commandFlags are the flags every command (as opposed to read) takes.
type commandFlags struct{ reason, idem string }

func (f *commandFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.reason, "reason", "", "why: the audit record's reason")
	cmd.Flags().StringVar(&f.idem, "idempotency-key", "", "send Idempotency-Key: a retry with the same key is one command")
}

func (f *commandFlags) add(fields map[string]any) map[string]any {
	if f.reason != "" {
		fields["reason"] = f.reason
	}
	return fields
}

const permHelp = "TAG=ACTION, ACTION 1..15 or letters of CRUD (C=1 R=2 U=4 D=8); repeatable"

func (c *cli) roleCreateCmd() *cobra.Command {
	var (
		cf          commandFlags
		admin, wild bool
		description string
		perms       []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--admin] [--wildcard] [--description TEXT] [--permission TAG=ACTION ...]",
		Short: "Create a role",
		Long: `Create a role. Its permissions are resource tags with actions: ACTION is
1..15 or letters of CRUD (C=1 R=2 U=4 D=8), so RU is 6. {namespace} and
{userId} in a tag are bound at check time.`,
		Example: `  grantlog role create OrderClerk --permission 'NAMESPACE:{namespace}:USER:{userId}:ORDER=RU'
  grantlog role create StudioOps --admin --description 'studio operators' --permission 'ADMIN:NAMESPACE:{namespace}:CLIENT=CRUD'`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			ps, err := parsePermissions(perms)
			if err != nil {
				return err
			}
			return c.send("role.create", cf.add(map[string]any{
				"roleName": args[0], "adminRole": admin, "isWildcard": wild,
				"description": description, "permissions": ps,
			}), cf.idem)
		},
	}
	cmd.Flags().BoolVar(&admin, "admin", false, "an admin role (its permissions are ADMIN: tags)")
	cmd.Flags().BoolVar(&wild, "wildcard", false, "a wildcard role: applies in whatever namespace a check is made in")
	cmd.Flags().StringVar(&description, "description", "", "what the role is for")
	cmd.Flags().StringArrayVar(&perms, "permission", nil, permHelp)
	cf.register(cmd)
	return cmd
}

// roleID resolves ID|NAME to a role id: an id role.get knows, else the
// name of a role (role.list, paged until found).
func (c *cli) roleID(ref string) (string, error) {
	cl, err := c.client()
	if err != nil {
		return "", err
	}
	var r client.Role
	err = cl.Do(c.ctx, "role.get", map[string]any{"roleId": ref}, &r)
	if err == nil {
		return r.RoleID, nil
	}
	if !errors.Is(err, client.ErrNotFound) && !errors.Is(err, client.ErrInvalid) {
		return "", err
	}
	after := ""
	for {
		var page struct {
			Data   []client.Role `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		f := map[string]any{"limit": 1000}
		if after != "" {
			f["after"] = after
		}
		if err := cl.Do(c.ctx, "role.list", f, &page); err != nil {
			return "", err
		}
		for i := range page.Data {
			if page.Data[i].RoleName == ref {
				return page.Data[i].RoleID, nil
			}
		}
		if page.Paging.Next == "" || len(page.Data) == 0 {
			return "", &exitError{code: exitRefused, msg: fmt.Sprintf("no role has id or name %q: grantlog role list shows them", ref)}
		}
		after = page.Paging.Next
	}
}

func (c *cli) roleGetCmd() *cobra.Command {
	var atLeast uint64
	cmd := &cobra.Command{
		Use:               "get ID|NAME",
		Short:             "Get a role by id or name",
		Example:           "  grantlog role get OrderClerk\n  grantlog role get OrderClerk -o json",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.oneRole,
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := c.roleID(args[0])
			if err != nil {
				return err
			}
			f := map[string]any{"roleId": id}
			if atLeast > 0 {
				f["atLeastRevision"] = atLeast
			}
			return c.send("role.get", f, "")
		},
	}
	cmd.Flags().Uint64Var(&atLeast, "at-least-revision", 0, "wait (bounded) until the node has applied this revision")
	return cmd
}

func (c *cli) roleDeleteCmd() *cobra.Command {
	var cf commandFlags
	cmd := &cobra.Command{
		Use:               "delete ID|NAME",
		Short:             "Delete a role (and end its assignments)",
		Example:           "  grantlog role delete OrderClerk --reason 'replaced by OrderAdmin'",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.oneRole,
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := c.roleID(args[0])
			if err != nil {
				return err
			}
			return c.send("role.delete", cf.add(map[string]any{"roleId": id}), cf.idem)
		},
	}
	cf.register(cmd)
	return cmd
}

func (c *cli) rolePermsCmd(verb, op, short string) *cobra.Command {
	var (
		cf    commandFlags
		perms []string
	)
	cmd := &cobra.Command{
		Use:               verb + " ID|NAME --permission TAG=ACTION ...",
		Short:             short,
		Example:           "  grantlog role permissions " + verb + " OrderClerk --permission 'NAMESPACE:{namespace}:USER:{userId}:ORDER=D'",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: c.oneRole,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(perms) == 0 && verb != "set" {
				return usageErr("give at least one --permission TAG=ACTION")
			}
			ps, err := parsePermissions(perms)
			if err != nil {
				return err
			}
			id, err := c.roleID(args[0])
			if err != nil {
				return err
			}
			return c.send(op, cf.add(map[string]any{"roleId": id, "permissions": ps}), cf.idem)
		},
	}
	if verb == "set" {
		cmd.Aliases = []string{"replace"}
	}
	cmd.Flags().StringArrayVar(&perms, "permission", nil, permHelp)
	cf.register(cmd)
	return cmd
}

func (c *cli) assignCmd() *cobra.Command {
	var (
		cf                  commandFlags
		ns, user, role      string
		in                  []string
		notBefore, notAfter string
	)
	cmd := &cobra.Command{
		Use:   "assign --namespace NS --user ID --role ID|NAME [--in NS ...]",
		Short: "Assign a role to a user",
		Long: `Assign a role to a user: the assignment is made in --namespace and applies in
the --in namespaces (default: --namespace itself). A wildcard role applies in
whatever namespace a check is made in.`,
		Example: "  grantlog assign --namespace mygame --user u1 --role OrderClerk --reason onboarding",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			id, err := c.roleID(role)
			if err != nil {
				return err
			}
			if len(in) == 0 {
				in = []string{ns}
			}
			f := cf.add(map[string]any{"namespace": ns, "userId": user, "roleId": id, "assignedNamespaces": in})
			if notBefore != "" {
				f["notBefore"] = notBefore
			}
			if notAfter != "" {
				f["notAfter"] = notAfter
			}
			return c.send("assign", f, cf.idem)
		},
	}
	cmd.Flags().StringVar(&ns, "namespace", "", "the namespace the assignment is made in (required)")
	cmd.Flags().StringVar(&user, "user", "", "the user's id (required)")
	cmd.Flags().StringVar(&role, "role", "", "the role's id or name (required)")
	_ = cmd.RegisterFlagCompletionFunc("role", c.completeRoles)
	cmd.Flags().StringArrayVar(&in, "in", nil, "a namespace the assignment applies in (repeatable; default --namespace)")
	cmd.Flags().StringVar(&notBefore, "not-before", "", "in force from this time (RFC 3339)")
	cmd.Flags().StringVar(&notAfter, "not-after", "", "in force until this time (RFC 3339)")
	for _, f := range []string{"namespace", "user", "role"} {
		_ = cmd.MarkFlagRequired(f)
	}
	cf.register(cmd)
	return cmd
}

func (c *cli) unassignCmd() *cobra.Command {
	var (
		cf             commandFlags
		ns, user, role string
	)
	cmd := &cobra.Command{
		Use:     "unassign --namespace NS --user ID --role ID|NAME",
		Short:   "Unassign a role from a user",
		Example: "  grantlog unassign --namespace mygame --user u1 --role OrderClerk --reason offboarding",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			id, err := c.roleID(role)
			if err != nil {
				return err
			}
			return c.send("unassign", cf.add(map[string]any{"namespace": ns, "userId": user, "roleId": id}), cf.idem)
		},
	}
	cmd.Flags().StringVar(&ns, "namespace", "", "the namespace the assignment was made in (required)")
	cmd.Flags().StringVar(&user, "user", "", "the user's id (required)")
	cmd.Flags().StringVar(&role, "role", "", "the role's id or name (required)")
	_ = cmd.RegisterFlagCompletionFunc("role", c.completeRoles)
	for _, f := range []string{"namespace", "user", "role"} {
		_ = cmd.MarkFlagRequired(f)
	}
	cf.register(cmd)
	return cmd
}

func (c *cli) userRolesCmd() *cobra.Command {
	var (
		ns, user string
		atLeast  uint64
	)
	cmd := &cobra.Command{
		Use:     "roles --namespace NS --user ID",
		Short:   "List a user's roles in a namespace",
		Example: "  grantlog user roles --namespace mygame --user u1",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f := map[string]any{"namespace": ns, "userId": user}
			if atLeast > 0 {
				f["atLeastRevision"] = atLeast
			}
			return c.send("user.roles", f, "")
		},
	}
	cmd.Flags().StringVar(&ns, "namespace", "", "the namespace (required)")
	cmd.Flags().StringVar(&user, "user", "", "the user's id (required)")
	cmd.Flags().Uint64Var(&atLeast, "at-least-revision", 0, "wait (bounded) until the node has applied this revision")
	for _, f := range []string{"namespace", "user"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func (c *cli) checkCmd() *cobra.Command {
	var (
		ns, user, clientID, token string
		explain                   bool
		atLeast, atRev            uint64
		asOf                      string
		attrs                     []string
	)
	cmd := &cobra.Command{
		Use:   "check --namespace NS (--user ID | --client ID | --token SECRET) RESOURCE ACTION",
		Short: "Check one permission (exit 0 allowed, 1 denied, 2+ no answer)",
		Long: `Check whether a user, an IAM client or a token may do ACTION on RESOURCE in
namespace NS. ACTION is 1..15 or letters of CRUD. It prints the answer and
the revision it was answered at; the exit status is 0 when allowed, 1 when
denied and 2 or more when the check could not be answered (like grep), so
scripts can write: if grantlog check ...; then ...

With --at-revision N or --as-of TIME (RFC 3339) it answers as of that past
revision or instant (the caller needs the namespace's audit-read right too).`,
		Example: `  grantlog check --namespace mygame --user u1 'NAMESPACE:mygame:USER:u1:ORDER' R
  grantlog check --namespace mygame --user u1 --explain 'NAMESPACE:mygame:USER:u1:ORDER' D
  grantlog check --namespace mygame --user u1 --as-of 2026-11-24T14:02:00Z --explain 'NAMESPACE:mygame:BUILD' D`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			var subject map[string]any
			n := 0
			for _, s := range []struct{ typ, key, v string }{{"user", "id", user}, {"client", "id", clientID}, {"token", "token", token}} {
				if s.v != "" {
					n++
					subject = map[string]any{"type": s.typ, s.key: s.v}
				}
			}
			if n != 1 {
				return usageErr("check: give one of --user ID, --client ID or --token SECRET")
			}
			action, err := parseAction(args[1])
			if err != nil {
				return err
			}
			req := map[string]any{"subject": subject, "namespace": ns, "resource": args[0], "action": action}
			if explain {
				req["explain"] = true
			}
			if atLeast > 0 {
				req["atLeastRevision"] = atLeast
			}
			if atRev > 0 {
				req["atRevision"] = atRev
			}
			if asOf != "" {
				if _, err := time.Parse(time.RFC3339Nano, asOf); err != nil {
					return usageErr("--as-of %q: give an RFC 3339 instant, e.g. 2026-11-24T14:02:00Z", asOf)
				}
				req["asOf"] = asOf
			}
			if len(attrs) > 0 {
				m := map[string]string{}
				for _, a := range attrs {
					k, v, ok := strings.Cut(a, "=")
					if !ok || k == "" {
						return usageErr("--attr %q: use KEY=VALUE", a)
					}
					m[k] = v
				}
				req["attributes"] = m
			}
			raw, err := c.do("check", req, "")
			if err != nil {
				return err
			}
			var res struct {
				Allowed     bool            `json:"allowed"`
				Revision    uint64          `json:"revision"`
				Explanation json.RawMessage `json:"explanation"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return fmt.Errorf("decode the answer: %w", err)
			}
			format, err := c.format()
			if err != nil {
				return err
			}
			if format == "table" {
				answer := "denied"
				if res.Allowed {
					answer = "allowed"
				}
				fmt.Fprintf(c.stdout, "%s (revision %d)\n", answer, res.Revision)
				if len(res.Explanation) > 0 {
					c.output = "yaml"
					if err := c.print(res.Explanation); err != nil {
						return err
					}
				}
			} else if err := c.print(raw); err != nil {
				return err
			}
			if !res.Allowed {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&ns, "namespace", "", "the namespace the check is made in (required)")
	cmd.Flags().StringVar(&user, "user", "", "check this user")
	cmd.Flags().StringVar(&clientID, "client", "", "check this IAM client")
	cmd.Flags().StringVar(&token, "token", "", "check this token (its secret; prefer a file: --token \"$(cat FILE)\")")
	cmd.Flags().BoolVar(&explain, "explain", false, "say why: the grants that allowed it, or what was considered")
	cmd.Flags().Uint64Var(&atLeast, "at-least-revision", 0, "wait (bounded) until the node has applied this revision")
	cmd.Flags().Uint64Var(&atRev, "at-revision", 0, "answer as of this past revision (time-bound grants at its event's instant)")
	cmd.Flags().StringVar(&asOf, "as-of", "", "answer as of this past instant (RFC 3339, e.g. 2026-11-24T14:02:00Z)")
	cmd.Flags().StringArrayVar(&attrs, "attr", nil, "a request attribute KEY=VALUE, for constraints (repeatable)")
	cmd.MarkFlagsMutuallyExclusive("user", "client", "token")
	cmd.MarkFlagsMutuallyExclusive("at-least-revision", "at-revision", "as-of")
	_ = cmd.MarkFlagRequired("namespace")
	return cmd
}
