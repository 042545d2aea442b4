package catalogs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/grantlog/grantlog/perm"
)

// ErrVastPermissions is wrapped by every error VastPermissions returns:
// the document is not a Vast.ai permission document Grantlog can map.
var ErrVastPermissions = errors.New("catalogs: invalid Vast.ai permission document")

// VastEndpoint is a Vast.ai API endpoint a permission document may name
// under its category ("api.instance.request_logs" under "instance_read"),
// and the permissions it stands for in Grantlog's Vast.ai model.
type VastEndpoint struct {
	Name        string
	Category    string
	Permissions []perm.Permission
}

// vastEndpoints are the Vast.ai endpoints a document may name one by one.
// Their resources are those of the category's scope in scopes-vastai.json
// (an endpoint never stands for more than its category).
var vastEndpoints = []VastEndpoint{
	{Name: "api.instance.request_logs", Category: "instance_read", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:INSTANCE:LOGS", Action: perm.Read},
	}},
	{Name: "api.instance.show", Category: "instance_read", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:INSTANCE", Action: perm.Read},
	}},
	{Name: "api.instance.create", Category: "instance_write", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:INSTANCE", Action: perm.Create},
	}},
	{Name: "api.instance.manage", Category: "instance_write", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:INSTANCE", Action: perm.Update},
	}},
	{Name: "api.instance.destroy", Category: "instance_write", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:INSTANCE", Action: perm.Delete},
	}},
	{Name: "api.user.show", Category: "user_read", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:PROFILE", Action: perm.Read},
	}},
	{Name: "api.billing.show", Category: "billing_read", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:BILLING", Action: perm.Read},
	}},
	{Name: "api.machine.show", Category: "machine_read", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:USER:{userId}:MACHINE", Action: perm.Read},
	}},
	{Name: "api.offer.search", Category: "misc", Permissions: []perm.Permission{
		{Resource: "NAMESPACE:{namespace}:OFFER", Action: perm.Read},
	}},
}

// VastEndpoints returns the Vast.ai endpoints a permission document may
// name one by one, sorted by name.
func VastEndpoints() []VastEndpoint {
	out := append([]VastEndpoint(nil), vastEndpoints...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Vast.ai's constraint operators, and Grantlog's "in".
var vastOperators = map[string]bool{"eq": true, "gte": true, "lte": true, "in": true}

// Limits on a Vast.ai permission document.
const (
	// MaxVastDocumentBytes bounds the document.
	MaxVastDocumentBytes = 64 << 10
)

func vastErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrVastPermissions}, args...)...)
}

// decodeObject decodes raw as a JSON object whose member order is kept.
func decodeObject(raw json.RawMessage, where string) ([]string, map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, nil, vastErr("%s must be a JSON object", where)
	}
	// Member by member: a key given twice is refused (with a map, the last
	// would win, so the document would read otherwise than it grants).
	dec := json.NewDecoder(bytes.NewReader(raw))
	m := map[string]json.RawMessage{}
	if _, err := dec.Token(); err != nil {
		return nil, nil, vastErr("%s is not valid JSON: %v", where, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, vastErr("%s is not valid JSON: %v", where, err)
		}
		k, _ := tok.(string)
		if _, dup := m[k]; dup {
			return nil, nil, vastErr("%s names %q twice", where, k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, vastErr("%s is not valid JSON: %v", where, err)
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, vastErr("%s is not valid JSON: %v", where, err)
	}
	if dec.More() {
		return nil, nil, vastErr("%s is not valid JSON: text after the object", where)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, m, nil
}

// VastPermissions maps a Vast.ai permission document (the file of
// `vastai create api-key --permission_file`) onto Grantlog permission
// templates, through the Vast.ai scope catalog (scopes-vastai.json):
//
//	{"api": {"misc": {}, "billing_read": {},
//	         "instance_read": {"api.instance.request_logs":
//	             {"constraints": {"id": {"gte": "$1", "lte": "$2"}}}}}}
//
// A category mapped to {} (or holding "*": {}) grants its whole scope; a
// category mapped to endpoints grants only those endpoints (VastEndpoints),
// each narrowed by its constraints. "constraints" beside a category's
// endpoints narrows every permission of the category. Params ("$1" ...)
// stay in the templates: the token issue fills them. Unknown categories,
// endpoints, operators and keys are refused (ErrVastPermissions) with the
// names that are known.
func VastPermissions(doc json.RawMessage) ([]perm.Permission, error) {
	if len(doc) > MaxVastDocumentBytes {
		return nil, vastErr("the document is %d bytes; the limit is %d", len(doc), MaxVastDocumentBytes)
	}
	scopes, err := Scopes("vastai")
	if err != nil {
		return nil, err
	}
	byCategory := make(map[string]Scope, len(scopes))
	var categories []string
	for _, s := range scopes {
		byCategory[s.Name] = s
		categories = append(categories, s.Name)
	}
	sort.Strings(categories)
	keys, top, err := decodeObject(doc, "the permission document")
	if err != nil {
		return nil, err
	}
	if len(keys) != 1 || keys[0] != "api" {
		return nil, vastErr(`the document must be {"api": {"<category>": {...}}}, not an object with keys %s`, strings.Join(keys, ", "))
	}
	cats, api, err := decodeObject(top["api"], `"api"`)
	if err != nil {
		return nil, err
	}
	if len(cats) == 0 {
		return nil, vastErr(`"api" names no category: give at least one of %s`, strings.Join(categories, ", "))
	}
	var out []perm.Permission
	for _, cat := range cats {
		if cat == "constraints" {
			if c, err := constraintsOf(api[cat], `"api"`); err != nil || len(c) > 0 {
				if err != nil {
					return nil, err
				}
				return nil, vastErr(`"api" may not carry constraints: put them under an endpoint of a category`)
			}
			continue
		}
		sc, ok := byCategory[cat]
		if !ok {
			return nil, vastErr("unknown category %q: use one of %s", cat, strings.Join(categories, ", "))
		}
		ps, err := categoryPermissions(sc, api[cat])
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

func categoryPermissions(sc Scope, raw json.RawMessage) ([]perm.Permission, error) {
	where := fmt.Sprintf("category %q", sc.Name)
	keys, m, err := decodeObject(raw, where)
	if err != nil {
		return nil, err
	}
	var (
		whole  bool
		catCon perm.Constraints
		out    []perm.Permission
	)
	for _, k := range keys {
		switch k {
		case "*":
			ks, _, err := decodeObject(m[k], where+` "*"`)
			if err != nil {
				return nil, err
			}
			if len(ks) > 0 {
				return nil, vastErr(`%s: "*" must be {} (every endpoint of the category)`, where)
			}
			whole = true
		case "constraints":
			if catCon, err = constraintsOf(m[k], where); err != nil {
				return nil, err
			}
		default:
			ep, err := vastEndpoint(sc.Name, k)
			if err != nil {
				return nil, err
			}
			c, err := endpointConstraints(ep, m[k])
			if err != nil {
				return nil, err
			}
			for _, p := range ep.Permissions {
				p.Constraints = c
				out = append(out, p)
			}
		}
	}
	if whole && len(out) > 0 {
		return nil, vastErr(`%s: give either "*" (every endpoint of the category, unconstrained) or named endpoints, not both`, where)
	}
	if len(out) == 0 || whole {
		// {} (or "*"): the whole category.
		for _, p := range sc.Permissions {
			p.Constraints = catCon
			out = append(out, p)
		}
	} else if len(catCon) > 0 {
		for i := range out {
			if out[i].Constraints, err = merge(catCon, out[i].Constraints); err != nil {
				return nil, vastErr("%s: %v", where, err)
			}
		}
	}
	return out, nil
}

func vastEndpoint(category, name string) (VastEndpoint, error) {
	var names []string
	for _, ep := range vastEndpoints {
		if ep.Name == name {
			if ep.Category != category {
				return VastEndpoint{}, vastErr("endpoint %q belongs to category %q, not %q: move it there", name, ep.Category, category)
			}
			return ep, nil
		}
		if ep.Category == category {
			names = append(names, ep.Name)
		}
	}
	if len(names) == 0 {
		return VastEndpoint{}, vastErr("unknown endpoint %q: category %q names no endpoints one by one; give it as {} (the whole category)", name, category)
	}
	sort.Strings(names)
	return VastEndpoint{}, vastErr("unknown endpoint %q in category %q: use one of %s, or {} for the whole category", name, category, strings.Join(names, ", "))
}

func endpointConstraints(ep VastEndpoint, raw json.RawMessage) (perm.Constraints, error) {
	where := fmt.Sprintf("endpoint %q", ep.Name)
	keys, m, err := decodeObject(raw, where)
	if err != nil {
		return nil, err
	}
	var out perm.Constraints
	for _, k := range keys {
		if k != "constraints" {
			return nil, vastErr(`%s: unknown key %q: an endpoint holds only "constraints"`, where, k)
		}
		if out, err = constraintsOf(m[k], where); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// constraintsOf decodes {"attr": {"op": value}} refusing unknown operators.
func constraintsOf(raw json.RawMessage, where string) (perm.Constraints, error) {
	attrs, m, err := decodeObject(raw, where+` "constraints"`)
	if err != nil {
		return nil, err
	}
	if len(attrs) == 0 {
		return nil, nil
	}
	out := make(perm.Constraints, len(attrs))
	for _, a := range attrs {
		ops, _, err := decodeObject(m[a], fmt.Sprintf("%s constraint on %q", where, a))
		if err != nil {
			return nil, err
		}
		if len(ops) == 0 {
			return nil, vastErr("%s: constraint on %q has no operator: use eq, gte or lte (or in)", where, a)
		}
		for _, op := range ops {
			if !vastOperators[op] {
				return nil, vastErr("%s: constraint on %q: unknown operator %q: use eq, gte or lte (or in)", where, a, op)
			}
		}
		var c perm.Constraint
		if err := json.Unmarshal(m[a], &c); err != nil {
			return nil, vastErr("%s: constraint on %q: %v", where, a, err)
		}
		out[a] = c
	}
	return out, nil
}

// merge returns the constraints of a and b; an attribute both constrain is
// refused (which one would hold is not clear).
func merge(a, b perm.Constraints) (perm.Constraints, error) {
	out := make(perm.Constraints, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%q is constrained both for the category and for an endpoint: keep one", k)
		}
		out[k] = v
	}
	return out, nil
}
