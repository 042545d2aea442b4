package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// format is the output format: -o, else table on a terminal and json
// otherwise.
func (c *cli) format() (string, error) {
	switch c.output {
	case "table", "json", "yaml":
		return c.output, nil
	case "":
		if c.tty {
			return "table", nil
		}
		return "json", nil
	}
	return "", usageErr("-o %q: use table, json or yaml", c.output)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// print writes an API answer in the chosen format: json is the API's
// bytes as they came.
func (c *cli) print(raw json.RawMessage) error {
	format, err := c.format()
	if err != nil {
		return err
	}
	switch format {
	case "json":
		_, err := fmt.Fprintf(c.stdout, "%s\n", bytes.TrimSpace(raw))
		return err
	case "yaml":
		n, err := parseNode(raw)
		if err != nil {
			return err
		}
		out, err := yaml.Marshal(n)
		if err != nil {
			return err
		}
		_, err = c.stdout.Write(out)
		return err
	}
	n, err := parseNode(raw)
	if err != nil {
		return err
	}
	return writeTable(c.stdout, n)
}

// parseNode reads JSON (YAML's subset) as a YAML node, in block style.
func parseNode(raw json.RawMessage) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode the answer: %w", err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			n.Style &^= yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

// field is the value of key in mapping n, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// writeTable writes a list answer ({data: [...]}) as a table with a
// column per field of its items (times left out: see -o json), and any
// other object as "key: value" lines.
func writeTable(w io.Writer, n *yaml.Node) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	data := field(n, "data")
	if data == nil || data.Kind != yaml.SequenceNode {
		if n.Kind != yaml.MappingNode {
			fmt.Fprintln(tw, cell(n))
			return tw.Flush()
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			fmt.Fprintf(tw, "%s:\t%s\n", n.Content[i].Value, cell(n.Content[i+1]))
		}
		return tw.Flush()
	}
	switch {
	case len(data.Content) == 0:
		fmt.Fprintln(tw, "(none)")
	case data.Content[0].Kind != yaml.MappingNode:
		for _, item := range data.Content {
			fmt.Fprintln(tw, cell(item))
		}
	default:
		var cols []string
		first := data.Content[0]
		for i := 0; i+1 < len(first.Content); i += 2 {
			if k := first.Content[i].Value; !strings.HasSuffix(k, "At") {
				cols = append(cols, k)
			}
		}
		heads := make([]string, len(cols))
		for i, k := range cols {
			heads[i] = header(k)
		}
		fmt.Fprintln(tw, strings.Join(heads, "\t"))
		for _, item := range data.Content {
			cells := make([]string, len(cols))
			for i, k := range cols {
				if v := field(item, k); v != nil {
					cells[i] = truncate(cell(v), maxCell)
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rev := field(n, "revision"); rev != nil {
		fmt.Fprintf(w, "\nrevision: %s\n", rev.Value)
	}
	if p := field(n, "paging"); p != nil {
		if next := field(p, "next"); next != nil && next.Value != "" {
			fmt.Fprintf(w, "more: --after %s\n", next.Value)
		}
	}
	return nil
}

// maxCell bounds a table cell: -o json or yaml show everything.
const maxCell = 60

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// header is a column header: roleName → ROLE NAME.
func header(k string) string {
	var b strings.Builder
	for i, r := range k {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// cell is a value in one line: scalars as they are, lists of scalars
// comma-separated, permissions as TAG=CRUD letters, anything else as
// compact JSON.
func cell(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return ""
		}
		return n.Value
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			switch {
			case c.Kind == yaml.ScalarNode:
				parts = append(parts, c.Value)
			case field(c, "resource") != nil && field(c, "action") != nil:
				s := field(c, "resource").Value + "=" + actionLetters(field(c, "action").Value)
				if len(c.Content) > 4 {
					s += "(+conditions)"
				}
				parts = append(parts, s)
			default:
				parts = append(parts, compact(c))
			}
		}
		return strings.Join(parts, ", ")
	}
	return compact(n)
}

func compact(n *yaml.Node) string {
	var v any
	if err := n.Decode(&v); err != nil {
		return "?"
	}
	out, err := json.Marshal(jsonable(v))
	if err != nil {
		return "?"
	}
	return string(out)
}

// jsonable turns the map[string]any YAML decodes into (map[any]any for
// odd keys) into what encoding/json takes.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
	}
	return v
}

// actionLetters is an action bitmask as CRUD letters: 6 → RU.
func actionLetters(s string) string {
	a, err := strconv.Atoi(s)
	if err != nil || a < 1 || a > 15 {
		return s
	}
	var b strings.Builder
	for i, l := range "CRUD" {
		if a&(1<<i) != 0 {
			b.WriteRune(l)
		}
	}
	return b.String()
}

// parseAction reads an action: 0..15, or letters of CRUD (any case, each
// once): RU is 6.
func parseAction(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 15 {
			return 0, usageErr("action %q: use 1..15 or letters of CRUD (C=1 R=2 U=4 D=8)", s)
		}
		return n, nil
	}
	a := 0
	for _, r := range strings.ToUpper(s) {
		i := strings.IndexRune("CRUD", r)
		if i < 0 || a&(1<<i) != 0 || s == "" {
			return 0, usageErr("action %q: use 1..15 or letters of CRUD (C=1 R=2 U=4 D=8), e.g. RU", s)
		}
		a |= 1 << i
	}
	if a == 0 {
		return 0, usageErr("action is empty: use 1..15 or letters of CRUD, e.g. RU")
	}
	return a, nil
}

// permissionJSON is the JSON of one --permission TAG=ACTION.
type permissionJSON struct {
	Resource string `json:"resource"`
	Action   int    `json:"action"`
}

func parsePermissions(specs []string) ([]permissionJSON, error) {
	out := make([]permissionJSON, 0, len(specs))
	for _, s := range specs {
		i := strings.LastIndexByte(s, '=')
		if i <= 0 {
			return nil, usageErr("--permission %q: use TAG=ACTION, e.g. 'NAMESPACE:{namespace}:USER:{userId}:ORDER=RU'", s)
		}
		a, err := parseAction(s[i+1:])
		if err != nil {
			return nil, err
		}
		out = append(out, permissionJSON{Resource: s[:i], Action: a})
	}
	return out, nil
}
