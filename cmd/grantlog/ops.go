package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/grantlog/grantlog/client"
	"github.com/grantlog/grantlog/internal/edge/api"
)

// Every operation of the API's table is a command: its name's dots are
// the command path ("role.permissions.add" is grantlog role permissions
// add; "assign.batch" is grantlog assign batch). Path and query fields
// are --kebab-case flags (roleId: --role-id); the body of the others is
// --json '{...}' or -f FILE, and the flags set on top of it. Operations
// the CLI serves otherwise are left out: the server-sent-event streams,
// the drop-ins of the seed systems' APIs (op.Compat),
// and the operations named after the CLI's own commands (reserved), such
// as audit.list (grantlog audit tail and export read it).
func (c *cli) addOperations(root *cobra.Command) {
	for _, op := range api.Table() {
		path := strings.Split(op.Name, ".")
		if op.Stream || op.Compat != "" || reserved[path[0]] {
			continue
		}
		cmd := node(root, path)
		c.opCommand(cmd, op)
	}
}

// node finds or makes the command of path under parent: the parts that
// are no operation (yet) list their subcommands.
func node(parent *cobra.Command, path []string) *cobra.Command {
	for _, name := range path {
		var next *cobra.Command
		for _, sub := range parent.Commands() {
			if sub.Name() == name {
				next = sub
				break
			}
		}
		if next == nil {
			next = &cobra.Command{
				Use:   name,
				Short: groupShort(name),
				RunE:  listSubcommands,
			}
			parent.AddCommand(next)
		}
		parent = next
	}
	return parent
}

// paramUsage is the help of a parameter's flag.
func paramUsage(op *api.Op, p api.Param) string {
	switch p.Name {
	case "reason":
		return "why: the audit record's reason"
	case "atLeastRevision":
		return "wait (bounded) until the node has applied this revision"
	case "limit":
		return "page size, 1 to 1000 (default 100)"
	case "after":
		return "start after this (the paging.next of the previous page)"
	}
	if p.In == "query" && op.Body {
		return "the body field " + p.Name
	}
	return fmt.Sprintf("%s (the %s parameter {%s})", p.Name, p.In, p.Name)
}

// shorts are the one-line purposes of the commands that group operations.
var shorts = map[string]string{
	"role":        "Create, list, read, change and delete roles",
	"permissions": "Add, remove or set permissions",
	"user":        "Read a user's assignments",
	"namespace":   "Create, list, read and delete namespaces",
	"client":      "Create, read, change and delete IAM clients",
	"token":       "Issue, list and revoke scoped tokens",
	"scope":       "Define, list, read and delete token scopes",
	"endpoint":    "Register, list and delete the permissions endpoints require",
	"preset":      "List and apply role presets",
	"catalog":     "Load scope and endpoint catalogs",
	"scopes":      "Scope catalogs",
	"endpoints":   "Endpoint catalogs",
	"bootstrap":   "See, rotate or revoke the bootstrap credential",
	"snapshot":    "Snapshot the index into the Object Store",
}

func groupShort(name string) string {
	if s, ok := shorts[name]; ok {
		return s
	}
	return "Operations on " + name
}

// listSubcommands is the Run of a command that only groups others: help
// with no argument, an unknown command error otherwise.
func listSubcommands(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unknown command %q for %q\nRun '%s --help' for usage.", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return cmd.Help()
}

// kebab is a field's flag name: atLeastRevision → at-least-revision.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// bodyExample is a skeleton of op's JSON body: its body fields with
// zero values (lists with one element; nested optional fields left out).
func bodyExample(op *api.Op) string {
	fields, ok := skeleton(op.Request, 0).(map[string]any)
	if !ok {
		return "{}"
	}
	for _, p := range op.Params {
		delete(fields, p.Name)
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return "{}"
	}
	return string(out)
}

var timeType = reflect.TypeFor[time.Time]()

func skeleton(t reflect.Type, depth int) any {
	switch {
	case t == timeType:
		return "2026-01-01T00:00:00Z"
	case t.Kind() == reflect.Pointer:
		return skeleton(t.Elem(), depth)
	case t.Kind() == reflect.Struct:
		m := map[string]any{}
		if depth > 3 {
			return m
		}
		skeletonFields(t, depth, m)
		return m
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return ""
	case t.Kind() == reflect.Slice:
		return []any{skeleton(t.Elem(), depth+1)}
	case t.Kind() == reflect.Map:
		return map[string]any{}
	case t.Kind() == reflect.String:
		return ""
	case t.Kind() == reflect.Bool:
		return false
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return 0
	}
	return nil
}

func skeletonFields(t reflect.Type, depth int, m map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			skeletonFields(f.Type, depth, m)
			continue
		}
		if !f.IsExported() || name == "-" || (depth > 0 && strings.Contains(opts, "omitempty")) {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = skeleton(f.Type, depth+1)
	}
}

// opCommand makes cmd run op generically.
func (c *cli) opCommand(cmd *cobra.Command, op *api.Op) {
	cmd.Short = op.Summary
	cmd.Long = fmt.Sprintf("%s.\n\nAPI: %s %s (operation %s, a %s).", op.Summary, op.Method, op.Path, op.Name, op.Kind)
	if op.Public {
		cmd.Long += " Needs no credential."
	}
	cmd.Args = cobra.NoArgs
	example := "  grantlog " + strings.ReplaceAll(op.Name, ".", " ")
	type flagOf struct {
		p   api.Param
		get func() (any, bool)
	}
	var flags []flagOf
	fs := cmd.Flags()
	for _, p := range op.Params {
		name := kebab(p.Name)
		if fs.Lookup(name) != nil {
			continue
		}
		usage := paramUsage(op, p)
		var get func() any
		kind := p.Type.Kind()
		if kind == reflect.Pointer {
			kind = p.Type.Elem().Kind()
		}
		switch kind {
		case reflect.String:
			v := fs.String(name, "", usage)
			get = func() any { return *v }
		case reflect.Slice:
			v := fs.StringArray(name, nil, usage+"; repeatable")
			get = func() any { return *v }
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			v := fs.Uint64(name, 0, usage)
			get = func() any { return *v }
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v := fs.Int(name, 0, usage)
			get = func() any { return *v }
		case reflect.Bool:
			v := fs.Bool(name, false, usage)
			get = func() any { return *v }
		default:
			continue
		}
		if p.In == "path" {
			example += " --" + name + " " + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		}
		flags = append(flags, flagOf{p: p, get: func() (any, bool) { return get(), fs.Changed(name) }})
	}
	var (
		bodyJSON, bodyFile string
		perms              []string
		hasPerms           bool
	)
	if op.Body {
		fs.StringVar(&bodyJSON, "json", "", "the request body, a JSON object: "+bodyExample(op))
		fs.StringVarP(&bodyFile, "file", "f", "", "read the request body from FILE (- for stdin)")
		if sk, ok := skeleton(op.Request, 0).(map[string]any); ok {
			_, hasPerms = sk["permissions"]
		}
		body := bodyExample(op)
		if hasPerms {
			// The body's permissions, as the verbs take them.
			fs.StringArrayVar(&perms, "permission", nil, "a permission of the body, "+permHelp)
			var rest map[string]any
			if json.Unmarshal([]byte(body), &rest) == nil {
				delete(rest, "permissions")
				for _, bf := range bodyFlags(op.Request) {
					delete(rest, bf.field) // shown as their flags
				}
				if len(rest) > 0 {
					raw, _ := json.Marshal(rest)
					example += " --json '" + string(raw) + "'"
				}
			}
			example += " --permission 'NAMESPACE:{namespace}:ORDER=RU'"
		} else {
			example += " --json '" + body + "'"
		}
	}
	// Body fields tagged cli:"name" (cli:"name,file" for a JSON file).
	type bodyValue struct {
		bodyFlag
		str  *string
		list *[]string
	}
	var bodyValues []bodyValue
	if op.Body {
		for _, bf := range bodyFlags(op.Request) {
			if fs.Lookup(bf.flag) != nil {
				continue
			}
			v := bodyValue{bodyFlag: bf}
			switch {
			case bf.file:
				v.str = fs.String(bf.flag, "", fmt.Sprintf("read the body field %s from the JSON file FILE (- for stdin)", bf.field))
				example += " --" + bf.flag + " FILE"
			case bf.list:
				v.list = fs.StringArray(bf.flag, nil, fmt.Sprintf("a value of the body field %s (a list); repeatable, in order", bf.field))
				example += " --" + bf.flag + " V"
			default:
				v.str = fs.String(bf.flag, "", "the body field "+bf.field)
			}
			bodyValues = append(bodyValues, v)
		}
	}
	if fs.Lookup("role-id") != nil {
		fs.Lookup("role-id").Usage = "the role's id or name"
		_ = cmd.RegisterFlagCompletionFunc("role-id", c.completeRoles)
	}
	var idem string
	if op.Kind == api.Command {
		fs.StringVar(&idem, "idempotency-key", "", "send Idempotency-Key: a retry with the same key is one command")
	}
	cmd.Example = example
	cmd.RunE = func(*cobra.Command, []string) error {
		fields := map[string]any{}
		if op.Body {
			raw := []byte(bodyJSON)
			switch {
			case bodyJSON != "" && bodyFile != "":
				return usageErr("give --json or -f, not both")
			case bodyFile == "-":
				var err error
				if raw, err = io.ReadAll(os.Stdin); err != nil {
					return usageErr("read stdin: %v", err)
				}
			case bodyFile != "":
				var err error
				if raw, err = os.ReadFile(bodyFile); err != nil {
					return usageErr("-f: %v", err)
				}
			}
			if len(strings.TrimSpace(string(raw))) > 0 {
				if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
					return usageErr("the body is not a JSON object (%v); e.g. --json '%s'", err, bodyExample(op))
				}
			}
		}
		for _, f := range flags {
			if v, changed := f.get(); changed {
				fields[f.p.Name] = v
			}
		}
		for _, v := range bodyValues {
			if !fs.Changed(v.flag) {
				continue
			}
			if _, dup := fields[v.field]; dup {
				return usageErr("give %s in the body or with --%s, not both", v.field, v.flag)
			}
			switch {
			case v.file:
				raw, err := readFileArg(*v.str)
				if err != nil {
					return usageErr("--%s: %v", v.flag, err)
				}
				if !json.Valid(raw) {
					return usageErr("--%s: %s is not JSON", v.flag, *v.str)
				}
				fields[v.field] = json.RawMessage(raw)
			case v.list != nil:
				fields[v.field] = *v.list
			default:
				fields[v.field] = *v.str
			}
		}
		if len(perms) > 0 {
			ps, err := parsePermissions(perms)
			if err != nil {
				return err
			}
			fields["permissions"] = ps
		}
		if ref, ok := fields["roleId"].(string); ok && ref != "" {
			id, err := c.roleID(ref)
			if err != nil {
				return err
			}
			fields["roleId"] = id
		}
		for _, p := range op.Params {
			if _, ok := fields[p.Name]; p.In == "path" && !ok {
				return usageErr("--%s is required\nRun '%s --help' for usage.", kebab(p.Name), cmd.CommandPath())
			}
		}
		return c.send(op.Name, fields, idem)
	}
}

// bodyFlag is a body field a request type gives a flag with a cli tag:
// cli:"param" (a string, or for a list a repeatable flag whose values are
// the list's items, in order) or cli:"vast-permission-file,file" (the
// JSON of a file).
type bodyFlag struct {
	field, flag string
	file, list  bool
}

// bodyFlags lists t's body fields tagged cli, in embedded structs too.
func bodyFlags(t reflect.Type) []bodyFlag {
	var out []bodyFlag
	for i := range t.NumField() {
		f := t.Field(i)
		jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && f.Type.Kind() == reflect.Struct && jsonName == "" {
			out = append(out, bodyFlags(f.Type)...)
			continue
		}
		tag := f.Tag.Get("cli")
		if tag == "" || !f.IsExported() || jsonName == "" || jsonName == "-" || f.Tag.Get("path") != "" || f.Tag.Get("query") != "" {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		file := opt == "file"
		out = append(out, bodyFlag{field: jsonName, flag: name, file: file,
			list: !file && f.Type.Kind() == reflect.Slice})
	}
	return out
}

// readFileArg reads the file a flag names ("-" for stdin).
func readFileArg(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

// send sends an operation and prints its answer.
func (c *cli) send(name string, fields any, idem string) error {
	raw, err := c.do(name, fields, idem)
	if err != nil {
		return err
	}
	return c.print(raw)
}

// do sends an operation and returns its answer's JSON.
func (c *cli) do(name string, fields any, idem string) (json.RawMessage, error) {
	cl, err := c.client()
	if err != nil {
		return nil, err
	}
	var opts []client.CallOption
	if idem != "" {
		opts = append(opts, client.WithIdempotencyKey(idem))
	}
	var raw json.RawMessage
	if err := cl.Do(c.ctx, name, fields, &raw, opts...); err != nil {
		return nil, err
	}
	return raw, nil
}
