package api

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/grantlog/grantlog/perm"
)

// generate builds the OpenAPI 3.1 document of ops (every op with an HTTP
// route): one path item per path, one operation per method, and the JSON
// Schemas of the requests and answers, made by reflection over their Go
// types the way encoding/json encodes them, in components/schemas.
func generate(ops []*Op) map[string]any {
	doc, _ := document(ops)
	return doc
}

// document is generate, with what it could not describe (a Go type JSON
// cannot carry: a channel, a function, a complex number). Two passes: the
// first finds the schemas the document refers to, so that their names can
// be chosen knowing all of them (a name is the type's own unless two types
// share it); the second writes the document with those names.
func document(ops []*Op) (map[string]any, []string) {
	g := &gen{requests: map[reflect.Type]bool{}}
	for _, o := range ops {
		if o.Body {
			g.requests[o.Request] = true
		}
	}
	g.write(ops)
	g.name()
	doc := g.write(ops)
	sort.Strings(g.problems)
	return doc, g.problems
}

// schemaKey is a schema of components/schemas: a Go type's, or (body) the
// JSON body of an operation whose request is that type: its fields less
// the path ones.
type schemaKey struct {
	t    reflect.Type
	body bool
}

type gen struct {
	// requests are the request types of the operations with a body.
	requests map[reflect.Type]bool
	// names are the schemas' names; nil in the first pass.
	names map[schemaKey]string
	// schemas are the schemas written so far (an entry is set before the
	// schema is built, which makes recursive types safe).
	schemas  map[schemaKey]map[string]any
	problems []string
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	errorType       = reflect.TypeFor[Error]()
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	permValueType   = reflect.TypeFor[perm.Value]()
	permActionType  = reflect.TypeFor[perm.Action]()
	schemaRefPrefix = "#/components/schemas/"
)

// specials are the Go types whose JSON their kind does not tell: they
// marshal themselves, or their values are narrower than their kind.
// component: the schema is one of components/schemas.
var specials = map[reflect.Type]struct {
	component bool
	schema    func() map[string]any
}{
	// time.Time marshals itself as an RFC 3339 string.
	timeType: {false, func() map[string]any { return map[string]any{"type": "string", "format": "date-time"} }},
	// json.RawMessage is any JSON value, as it was given.
	rawMessageType: {false, func() map[string]any { return map[string]any{"description": "Any JSON value."} }},
	// perm.Value's MarshalJSON writes a JSON number, or a string ("$1" to
	// "$9" being a token template's param); its UnmarshalJSON takes either.
	permValueType: {true, func() map[string]any {
		return map[string]any{
			"type": []any{"number", "string"},
			"description": "A constraint operand or request attribute: a JSON number or a string. A string that reads as " +
				`a number ("150", "-1.5e2") compares as that number; in a permission template "$1" to "$9" is a param, filled when a token is issued.`,
		}
	}},
	// HathoraScopes marshals itself as "admin" or a list of scope names.
	reflect.TypeFor[HathoraScopes](): {false, func() map[string]any {
		return map[string]any{
			"oneOf": []any{
				map[string]any{"type": "string", "enum": []any{HathoraAdmin}},
				map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			},
			"description": `Hathora's scopes: "admin" (every scope of the Hathora catalog) or a list of scope names ("builds:read", ...).`,
		}
	}},
	// perm.Action is a plain uint8 in JSON (it has a String method but no
	// MarshalJSON): a bitmask in 1..15, or 0 where a permission removal
	// removes a whole resource.
	permActionType: {true, func() map[string]any {
		return map[string]any{
			"type": "integer", "minimum": 0, "maximum": 15,
			"description": "An action bitmask: Create=1, Read=2, Update=4, Delete=8 (15 is CRUD, 6 Read|Update). " +
				"0 only in a permission removal, where it removes every action on the resource.",
		}
	}},
}

// ref is a reference to the schema k, which it builds the first time.
func (g *gen) ref(k schemaKey) map[string]any {
	if _, ok := g.schemas[k]; !ok {
		g.schemas[k] = nil // being built: a recursive reference finds it
		g.schemas[k] = g.build(k)
	}
	return map[string]any{"$ref": schemaRefPrefix + g.names[k]}
}

func (g *gen) build(k schemaKey) map[string]any {
	if sp, ok := specials[k.t]; ok {
		return sp.schema()
	}
	if k.t.Kind() == reflect.Struct {
		return g.object(k.t, k.body)
	}
	return g.inline(k.t)
}

// component reports whether t's schema is one of components/schemas: named
// structs and the special types that say so.
func component(t reflect.Type) bool {
	if sp, ok := specials[t]; ok {
		return sp.component
	}
	if marshals(t) {
		return false
	}
	return t.Kind() == reflect.Struct && t.Name() != ""
}

// marshals reports whether t (or *t) encodes itself (json.Marshaler or
// encoding.TextMarshaler).
func marshals(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonMarshaler) || pt.Implements(jsonMarshaler) ||
		t.Implements(textMarshaler) || pt.Implements(textMarshaler)
}

// schema is the schema of a value of type t: a reference or inline.
func (g *gen) schema(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		// nil is null; else the value's JSON (its MarshalJSON included).
		return nullable(g.schema(t.Elem()))
	}
	if component(t) {
		return g.ref(schemaKey{t: t})
	}
	return g.inline(t)
}

// inline is the schema of t written where it is used.
func (g *gen) inline(t reflect.Type) map[string]any {
	if sp, ok := specials[t]; ok {
		return sp.schema()
	}
	switch {
	case t.Kind() == reflect.Pointer:
		return nullable(g.schema(t.Elem()))
	case t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler):
		// Whatever its MarshalJSON writes: no constraint can be read off the type.
		return map[string]any{"description": "Any JSON value (" + t.String() + " encodes itself)."}
	case t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int8, reflect.Int16:
		bits := t.Bits()
		return map[string]any{"type": "integer", "format": "int32", "minimum": -(int64(1) << (bits - 1)), "maximum": int64(1)<<(bits-1) - 1}
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return map[string]any{"type": "integer", "minimum": 0, "maximum": uint64(1)<<t.Bits() - 1}
	case reflect.Float32:
		return map[string]any{"type": "number", "format": "float"}
	case reflect.Float64:
		return map[string]any{"type": "number", "format": "double"}
	case reflect.Interface:
		return map[string]any{"description": "Any JSON value."}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !marshals(t.Elem()) {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem()), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		s := map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
		switch k := t.Key(); {
		case k.Kind() == reflect.String, k.Implements(textMarshaler):
		case k.Kind() >= reflect.Int && k.Kind() <= reflect.Int64:
			s["propertyNames"] = map[string]any{"pattern": "^-?[0-9]+$"}
		case k.Kind() >= reflect.Uint && k.Kind() <= reflect.Uintptr:
			s["propertyNames"] = map[string]any{"pattern": "^[0-9]+$"}
		default:
			g.problems = append(g.problems, fmt.Sprintf("%s: encoding/json cannot encode map keys of type %s", t, k))
		}
		return s
	case reflect.Struct:
		return g.object(t, false)
	}
	g.problems = append(g.problems, fmt.Sprintf("%s: JSON cannot carry a %s", t, t.Kind()))
	return map[string]any{"not": map[string]any{}, "description": t.String() + " cannot be encoded as JSON."}
}

// object is the schema of struct t: its JSON fields as encoding/json finds
// them (embedded structs flattened), required unless omitempty or
// omitzero. When body (a request body): without the path fields, and none
// required, since the Go types cannot say which the server needs (it
// answers a missing one with a 400 that names it). Unknown fields are
// refused (every edge decodes requests strictly).
func (g *gen) object(t reflect.Type, body bool) map[string]any {
	props := map[string]any{}
	required := []string{}
	for _, f := range jsonFields(t) {
		if body && f.path {
			continue
		}
		props[f.name] = g.fieldSchema(f)
		if !f.omit && !body {
			required = append(required, f.name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *gen) fieldSchema(f field) map[string]any {
	if f.quoted {
		return map[string]any{"type": "string", "description": "A " + f.typ.Kind().String() + " written as a JSON string."}
	}
	s := g.schema(f.typ)
	if k := f.typ.Kind(); (k == reflect.Slice || k == reflect.Map) && !f.omit && !marshals(f.typ) {
		s = nullable(s) // a nil slice or map is null
	}
	return s
}

// nullable is s, or null.
func nullable(s map[string]any) map[string]any {
	if _, ok := s["$ref"]; ok {
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	}
	out := make(map[string]any, len(s))
	for k, v := range s {
		out[k] = v
	}
	switch typ := s["type"].(type) {
	case nil: // any value: null already
	case string:
		out["type"] = []any{typ, "null"}
	case []any:
		for _, x := range typ {
			if x == "null" {
				return out
			}
		}
		out["type"] = append(append([]any(nil), typ...), "null")
	}
	return out
}

// field is a JSON field of a struct, as encoding/json finds it.
type field struct {
	name   string
	tagged bool
	index  []int
	typ    reflect.Type
	omit   bool // omitempty or omitzero
	quoted bool // ,string
	path   bool // tagged path: an HTTP path wildcard
}

// jsonFields lists the fields encoding/json encodes for struct t, in its
// order: exported fields and those of embedded structs (flattened, the
// shallowest, or the only tagged, field of a name winning; a name two
// fields share at that depth is dropped), less json:"-".
func jsonFields(t reflect.Type) []field {
	var fields []field
	next := []field{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current := next
		next = nil
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := range f.typ.NumField() {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					et := sf.Type
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if !sf.IsExported() && et.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTag(name) {
					name = ""
				}
				index := append(append([]int(nil), f.index...), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					nf := field{name: name, tagged: name != "", index: index, typ: sf.Type, path: sf.Tag.Get("path") != ""}
					if nf.name == "" {
						nf.name = sf.Name
					}
					for _, o := range strings.Split(opts, ",") {
						switch o {
						case "omitempty", "omitzero":
							nf.omit = true
						case "string":
							switch ft.Kind() {
							case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
								reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
								reflect.Float32, reflect.Float64:
								nf.quoted = true
							}
						}
					}
					fields = append(fields, nf)
					if count[f.typ] > 1 {
						// The struct is embedded twice at this depth: its
						// fields annihilate each other.
						fields = append(fields, nf)
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, field{name: ft.Name(), index: index, typ: ft})
				}
			}
		}
	}
	sort.SliceStable(fields, func(i, j int) bool {
		a, b := fields[i], fields[j]
		switch {
		case a.name != b.name:
			return a.name < b.name
		case len(a.index) != len(b.index):
			return len(a.index) < len(b.index)
		case a.tagged != b.tagged:
			return a.tagged
		}
		return lessIndex(a.index, b.index)
	})
	out := fields[:0]
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		group := fields[i:j]
		if len(group) == 1 || len(group[0].index) != len(group[1].index) || group[0].tagged != group[1].tagged {
			out = append(out, group[0])
		}
		i = j
	}
	sort.Slice(out, func(i, j int) bool { return lessIndex(out[i].index, out[j].index) })
	return out
}

func lessIndex(a, b []int) bool {
	for k := range min(len(a), len(b)) {
		if a[k] != b[k] {
			return a[k] < b[k]
		}
	}
	return len(a) < len(b)
}

// validTag is encoding/json's test of a tag's name.
func validTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// qualifier matches a package path and name before a type name.
var qualifier = regexp.MustCompile(`(?:[\w.-]+/)*\w+\.`)

// readable is a Go type name as a schema name: Page[query.Role] is
// PageRole, roleCreate RoleCreate.
func readable(name string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(qualifier.ReplaceAllString(name, ""), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	}) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// name names the schemas the first pass found. A request body is its
// request type's name with Request after it. Types that share a name are
// told apart by their package's name (but this package's keep theirs:
// Error is api.Error).
func (g *gen) name() {
	keys := make([]schemaKey, 0, len(g.schemas))
	for k := range g.schemas {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i].t.PkgPath()+"."+keys[i].t.Name(), keys[j].t.PkgPath()+"."+keys[j].t.Name()
		if a != b {
			return a < b
		}
		return !keys[i].body && keys[j].body
	})
	base := map[schemaKey]string{}
	shared := map[string]int{}
	for _, k := range keys {
		n := readable(k.t.Name())
		if g.requests[k.t] && !strings.HasSuffix(n, "Request") {
			n += "Request"
		}
		if _, own := g.schemas[schemaKey{t: k.t}]; k.body && own {
			n += "Body" // the type's own schema is one too
		}
		base[k] = n
		shared[n]++
	}
	self := errorType.PkgPath()
	g.names = map[schemaKey]string{}
	used := map[string]bool{}
	for _, k := range keys {
		n := base[k]
		if shared[n] > 1 && k.t.PkgPath() != self {
			pkg := k.t.PkgPath()[strings.LastIndex(k.t.PkgPath(), "/")+1:]
			n = readable(pkg) + n
		}
		for i, cand := 2, n; used[n]; i++ {
			n = cand + strconv.Itoa(i)
		}
		used[n] = true
		g.names[k] = n
	}
}

// write writes the document.
func (g *gen) write(ops []*Op) map[string]any {
	g.schemas = map[schemaKey]map[string]any{}
	g.problems = nil
	errRef := g.ref(schemaKey{t: errorType})
	paths := map[string]any{}
	var tags []any
	tagged := map[string]bool{}
	for _, o := range ops {
		if o.Method == "" || o.Path == "" {
			continue
		}
		item, _ := paths[o.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[o.Path] = item
		}
		item[strings.ToLower(o.Method)] = g.operation(o)
		if t := tagOf(o); !tagged[t] {
			tagged[t] = true
			tags = append(tags, map[string]any{"name": t})
		}
	}
	schemas := map[string]any{}
	for k, s := range g.schemas {
		schemas[g.names[k]] = s
	}
	errorResponse := func(what string, headers map[string]any) map[string]any {
		h := map[string]any{"X-Request-Id": map[string]any{"$ref": "#/components/headers/RequestId"}}
		for k, v := range headers {
			h[k] = v
		}
		return map[string]any{
			"description": what,
			"headers":     h,
			"content":     map[string]any{"application/json": map[string]any{"schema": errRef}},
		}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Grantlog",
			"version": "v1",
			"description": "Grantlog's permission service API, generated from its operation table. Every operation with a " +
				"NATS subject (x-nats-subject) is served over NATS too, with every field (path and query ones included) " +
				"in the JSON payload. Errors have one body: {errorCode, errorMessage, revision?, requestId?}.",
		},
		"tags":  tags,
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearerAuth": map[string]any{
					"type": "http", "scheme": "bearer",
					"description": "Authorization: Bearer <token>: a token issued by token.issue, an IAM client's credential or the bootstrap credential.",
				},
			},
			"headers": map[string]any{
				"RequestId": map[string]any{
					"description": "The request's id (the request's X-Request-Id, or one made up): in the log lines and the audit record.",
					"schema":      map[string]any{"type": "string"},
				},
			},
			"parameters": map[string]any{
				"RequestId": map[string]any{
					"name": RequestIDHeader, "in": "header",
					"description": "Ties the request to its log lines and audit record; made up when absent, and echoed on the answer.",
					"schema":      map[string]any{"type": "string"},
				},
				"IdempotencyKey": map[string]any{
					"name": IdempotencyKeyHeader, "in": "header",
					"description": "Makes a retried command one command: send the same key when retrying after a timeout.",
					"schema":      map[string]any{"type": "string"},
				},
				"LastEventId": map[string]any{
					"name": "Last-Event-ID", "in": "header",
					"description": "Resumes the stream after the event with that id (as sent in the stream's id lines).",
					"schema":      map[string]any{"type": "string"},
				},
			},
			"responses": map[string]any{
				"BadRequest": errorResponse("The request is invalid (malformed JSON, an unknown field, a bad parameter): errorMessage says how to fix it.", nil),
				"Unauthorized": errorResponse("No valid credential.", map[string]any{
					"WWW-Authenticate": map[string]any{"schema": map[string]any{"type": "string"}},
				}),
				"Forbidden":       errorResponse("The credential does not allow this.", nil),
				"NotFound":        errorResponse("Not found, or this node's deployment role does not serve the operation (notACommandNode, notACheckNode).", nil),
				"Conflict":        errorResponse("The command conflicts with the current state.", nil),
				"PayloadTooLarge": errorResponse("The request body is over the operation's limit.", nil),
				"InternalError":   errorResponse("An internal error: the server log has details under requestId.", nil),
				"Unavailable": errorResponse("Retry later: the node has not applied the revision asked (revision says which it has), "+
					"is shutting down, or the request timed out (its outcome is unknown: retry a command with the same Idempotency-Key).", map[string]any{
					"Retry-After": map[string]any{"schema": map[string]any{"type": "string"}},
				}),
				"TooManyRequests": errorResponse("The caller is over the node's rate limit (grantlog serve --rate-limit; off by default): "+
					"errorCode rateLimited; retry after Retry-After seconds.", map[string]any{
					"Retry-After": map[string]any{"schema": map[string]any{"type": "string"}},
				}),
				"Error": errorResponse("An error.", nil),
			},
		},
	}
}

// tagOf is an operation's tag: the first segment of its name.
func tagOf(o *Op) string {
	t, _, _ := strings.Cut(o.Name, ".")
	return t
}

// operation is o's operation object.
func (g *gen) operation(o *Op) map[string]any {
	op := map[string]any{
		"operationId":     o.Name,
		"summary":         o.Summary,
		"tags":            []any{tagOf(o)},
		"x-grantlog-kind": o.Kind.String(),
	}
	if o.Subject != "" {
		op["x-nats-subject"] = o.Subject
	}
	if o.Public {
		op["security"] = []any{}
	} else {
		op["security"] = []any{map[string]any{"bearerAuth": []any{}}}
	}
	var params []any
	hasPath := false
	for _, p := range o.Params {
		if p.In == "query" && o.Body && !o.QueryParams {
			continue // a request with a body carries its query fields in it
		}
		param := map[string]any{"name": p.Name, "in": p.In, "schema": g.schema(p.Type)}
		if p.In == "path" {
			param["required"] = true
			hasPath = true
		}
		if d := paramDocs[p.Name]; d != "" {
			param["description"] = d
		}
		params = append(params, param)
	}
	params = append(params, map[string]any{"$ref": "#/components/parameters/RequestId"})
	if o.Kind == Command {
		params = append(params, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
	}
	if o.Stream {
		params = append(params, map[string]any{"$ref": "#/components/parameters/LastEventId"})
	}
	op["parameters"] = params
	if o.Body {
		var body map[string]any
		lb, isList := ListBody(o.Request)
		switch {
		case isList:
			body = g.schema(lb.Type)
		case o.Request.Kind() != reflect.Struct:
			body = g.schema(o.Request)
		case hasPath:
			body = g.ref(schemaKey{t: o.Request, body: true})
		default:
			body = g.ref(schemaKey{t: o.Request})
		}
		op["requestBody"] = map[string]any{
			"required":    true,
			"description": fmt.Sprintf("JSON, at most %d bytes; unknown fields are refused.", o.MaxBytes),
			"content":     map[string]any{"application/json": map[string]any{"schema": body}},
		}
	}
	op["description"] = g.describe(o)

	headers := map[string]any{"X-Request-Id": map[string]any{"$ref": "#/components/headers/RequestId"}}
	success := map[string]any{
		"description": http.StatusText(o.Status),
		"headers":     headers,
	}
	if o.NoStore {
		headers["Cache-Control"] = map[string]any{
			"description": "no-store: the answer carries a secret shown once.",
			"schema":      map[string]any{"type": "string", "const": "no-store"},
		}
	}
	if o.Stream {
		success["content"] = map[string]any{"text/event-stream": map[string]any{
			"schema": map[string]any{
				"type": "string",
				"description": "Server-sent events: each event has an id line and one data line, the JSON of " +
					g.names[schemaKey{t: o.Reply}] + " (x-event-schema); comment lines keep an idle stream alive.",
			},
			"x-event-schema": g.schema(o.Reply),
		}}
	} else if o.Status != http.StatusNoContent { // 204 has no body
		success["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(o.Reply)}}
	}
	responses := map[string]any{strconv.Itoa(o.Status): success}
	refuse := func(status int, name string) {
		responses[strconv.Itoa(status)] = map[string]any{"$ref": "#/components/responses/" + name}
	}
	if o.Body || len(o.Params) > 0 || o.Stream {
		refuse(http.StatusBadRequest, "BadRequest")
	}
	if !o.Public {
		refuse(http.StatusUnauthorized, "Unauthorized")
		refuse(http.StatusForbidden, "Forbidden")
	}
	if hasPath || o.Kind == Command || o.Kind == Check {
		refuse(http.StatusNotFound, "NotFound")
	}
	if o.Kind == Command {
		refuse(http.StatusConflict, "Conflict")
	}
	if o.Body {
		refuse(http.StatusRequestEntityTooLarge, "PayloadTooLarge")
	}
	refuse(http.StatusTooManyRequests, "TooManyRequests")
	refuse(http.StatusInternalServerError, "InternalError")
	refuse(http.StatusServiceUnavailable, "Unavailable")
	responses["default"] = map[string]any{"$ref": "#/components/responses/Error"}
	op["responses"] = responses
	return op
}

// describe says which nodes serve o, how it travels and what is special
// about it.
func (g *gen) describe(o *Op) string {
	var s []string
	switch o.Kind {
	case Command:
		s = append(s, "A command: served by command nodes (role all or command); a read replica answers 404 notACommandNode.")
	case Check:
		s = append(s, "A check: served by replicas (role all or replica); a command node answers 404 notACheckNode.")
	case Read:
		s = append(s, "A read: served by every node.")
	}
	if o.Subject != "" {
		s = append(s, "Over NATS: "+o.Subject+", with every field (path ones included) in the JSON payload.")
	} else {
		s = append(s, "HTTP only.")
	}
	if o.Public {
		s = append(s, "Needs no credential.")
	}
	if o.NoStore {
		s = append(s, "The answer carries a secret shown once: it is sent with Cache-Control: no-store.")
	}
	if o.Stream {
		s = append(s, "A stream of server-sent events, each one "+g.names[schemaKey{t: o.Reply}]+"; Last-Event-ID resumes after an event.")
	}
	return strings.Join(s, " ")
}

// paramDocs describe the shared path and query parameters.
var paramDocs = map[string]string{
	"reason":          "The command's reason, recorded in its audit record.",
	"atLeastRevision": "Wait (bounded) until the node has applied this revision: read your own writes.",
	"after":           "The cursor paging.next of the previous page.",
	"limit":           "At most this many items (1-1000; default 100).",
	"fromRevision":    "Start at this revision.",
	"since":           "An RFC 3339 time, or a duration before now (1h, 30m).",
	"namespace":       "A namespace (a query parameter is repeatable).",
	"type":            "An event type (repeatable).",
	"expand":          "members: list the users a role change affects.",
}
