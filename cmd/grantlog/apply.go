package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/internal/apply"
)

const applyLong = `Make the server hold what YAML documents declare: roles, namespaces, scopes,
endpoints and assignments. FILE is a file of one or more documents, a
directory (its .yaml and .yml files) or - (stdin). Objects the files do not
name are left alone; with --prune they are deleted (assignments first,
roles last), and the plan lists them.

apply first reads the server's state and diffs it into a plan, printed
before anything is written: each object to create (+), change (~) or
delete (-), with the permissions added (+), removed (-) or whose actions
change (~), and who gains or loses them (a changed role's members, and
namespaces whose users hold it as a default role). --dry-run stops there,
after asking the server what the plan would change in effective
permissions (POST /v1/whatif: who gains and loses what, and the commands
it would refuse; nothing is appended).

What is atomic: all of it or none. The whole plan is validated before
anything is sent, with the rules of the commands it makes (names, tags,
actions, windows, roles and scopes that must exist, non-wildcard roles
assigned with namespaces, namespaces that would change in place); one
problem and nothing is written. Then every command is sent as one
transaction: the server decides each against the state the ones before it
leave, with its own validation and authorization, and stores them all at
one revision or none. A refusal only the server can make (authorization, a
concurrent change) changes nothing: the error names the step; run apply
again to re-plan from the new state. One apply holds at most 1,000 commands.

The format (grantlog export writes it):

  apiVersion: grantlog/v1
  kind: Role
  spec:
    name: OrderClerk            # letters and digits
    description: Reads and updates orders
    adminRole: false
    isWildcard: false
    permissions:
      - resource: NAMESPACE:{namespace}:USER:{userId}:ORDER
        action: RU              # 1..15 or letters of CRUD
  ---
  apiVersion: grantlog/v1
  kind: Namespace
  spec:
    name: mygame
    parent: mystudio            # optional: the studio
    defaultRoles: [User]        # role names; omitted: the server's default
  ---
  apiVersion: grantlog/v1
  kind: Scope
  spec:
    name: orders-read
    permissions:
      - {resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", action: R}
    includes: []                # other scopes
  ---
  apiVersion: grantlog/v1
  kind: Endpoint
  spec: {service: shop, name: getOrder, method: GET, path: /orders/{id},
         resource: "NAMESPACE:{namespace}:USER:{userId}:ORDER", action: R}
  ---
  apiVersion: grantlog/v1
  kind: Assignment
  spec:
    namespace: mygame
    user: u1
    role: OrderClerk            # by name
    assignedNamespaces: [mygame]
    notBefore: 2026-01-01T00:00:00Z   # optional window
    notAfter: 2027-01-01T00:00:00Z

Namespaces cannot be changed in place (the API has no such command): a
declared namespace that exists with another parent or default roles makes
the plan invalid.`

func (c *cli) applyCmd() *cobra.Command {
	var (
		file          string
		dryRun, prune bool
		cf            commandFlags
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Make the server hold what YAML files declare (roles, namespaces, scopes, endpoints, assignments)",
		Long:  applyLong,
		Example: `  grantlog apply -f grantlog.yaml --dry-run
  grantlog apply -f config/ --prune --reason "release 42"
  grantlog export | grantlog apply -f - --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			want, err := apply.Load(file, os.Stdin)
			if err != nil {
				return usageErr("%v", err)
			}
			cl, st, err := c.serverState()
			if err != nil {
				return err
			}
			plan, err := apply.NewPlan(want, st, prune)
			if err != nil {
				return err
			}
			plan.Print(c.stdout)
			if dryRun {
				if !plan.Empty() {
					// The effective-permission diff, as the server
					// decides the plan's commands (POST /v1/whatif).
					res, err := plan.WhatIf(c.ctx, cl, st)
					if err != nil {
						return err
					}
					apply.PrintWhatIf(c.stdout, res)
					fmt.Fprintln(c.stdout, "Dry run: nothing was changed.")
				}
				return nil
			}
			if plan.Empty() {
				return nil
			}
			res, err := plan.Apply(c.ctx, cl, st, cf.reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Applied %d changes at revision %d.\n", res.Applied, res.Revision)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "a YAML file, a directory of .yaml/.yml files, or - for stdin")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete what the server holds and the files do not declare")
	cmd.Flags().StringVar(&cf.reason, "reason", "", "why: the audit records' reason")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func (c *cli) exportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Write the server's roles, namespaces, scopes, endpoints and assignments as grantlog apply documents",
		Long: `Write everything grantlog apply manages as its YAML documents (see grantlog
apply --help): applying the output to the same server is an empty plan.
Output is YAML whatever -o says, except -o json and -o table, which are
refused.`,
		Example: `  grantlog export > grantlog.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if c.output != "" && c.output != "yaml" {
				return usageErr("export writes YAML only (-o yaml)")
			}
			_, st, err := c.serverState()
			if err != nil {
				return err
			}
			return apply.Encode(c.stdout, st.Set)
		},
	}
}

// serverState connects with the current context and reads the server's
// state as apply and export see it.
func (c *cli) serverState() (*client.Client, *apply.State, error) {
	cl, err := c.client()
	if err != nil {
		return nil, nil, err
	}
	st, err := apply.Read(c.ctx, cl)
	return cl, st, err
}
