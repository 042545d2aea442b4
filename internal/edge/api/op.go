package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	gojson "github.com/goccy/go-json"

	"github.com/grantlog/grantlog/audit"
	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/query"
)

// Kind says what an operation does, and so which nodes serve it.
type Kind int

// Operation kinds.
const (
	// Read operations are served by every node (over NATS: by the nodes
	// that answer checks, on grantlog.v1.read.<name>).
	Read Kind = iota + 1
	// Command operations append events: served by command nodes (role
	// all or command), on grantlog.v1.cmd.<name> over NATS.
	Command
	// Check operations answer checks: served by replicas (role all or
	// replica), on grantlog.v1.<name> over NATS.
	Check
)

func (k Kind) String() string {
	switch k {
	case Read:
		return "read"
	case Command:
		return "command"
	case Check:
		return "check"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// NATS subjects of the API.
const (
	// SubjectPrefix prefixes every API subject.
	SubjectPrefix = "grantlog.v1"
	// CommandSubjectPrefix prefixes the command subjects:
	// grantlog.v1.cmd.<name>, e.g. grantlog.v1.cmd.role.create.
	CommandSubjectPrefix = SubjectPrefix + ".cmd"
	// ReadSubjectPrefix prefixes the read subjects:
	// grantlog.v1.read.<name>, e.g. grantlog.v1.read.role.get.
	ReadSubjectPrefix = SubjectPrefix + ".read"
)

// Request headers every edge reads (over HTTP as headers, over NATS as
// message headers).
const (
	AuthorizationHeader = "Authorization"
	// IdempotencyKeyHeader makes a retried command one command.
	IdempotencyKeyHeader = "Idempotency-Key"
	// RequestIDHeader ties a request to its log lines and audit record;
	// made up when absent, and echoed on the answer.
	RequestIDHeader = "X-Request-Id"
)

// Deps are what operations run against. A node sets the parts it has:
// a replica has no Commands.
type Deps struct {
	Commands *command.Service
	Query    *query.Engine
	// Audit serves the audit operations; nil: they answer 501.
	Audit *audit.Service
	// Snapshots serves snapshot.take; nil: it answers 501.
	Snapshots Snapshotter
	// Status serves status; nil: it answers 501.
	Status func() NodeStatus
}

// Call is one request as an edge received it: who asks, and the ids the
// command and the audit record carry.
type Call struct {
	Caller events.Caller
	// IdempotencyKey is the Idempotency-Key header ("" for none).
	IdempotencyKey string
	// RequestID is the request's id (X-Request-Id, or made up).
	RequestID string
	// Source says through what the request came, for the audit record.
	Source *events.Source
}

// Meta is the metadata of the command the call makes.
func (c *Call) Meta(reason string) command.Meta {
	return command.Meta{
		Caller:        c.Caller,
		CommandID:     c.IdempotencyKey,
		CorrelationID: c.RequestID,
		Reason:        reason,
		Source:        c.Source,
	}
}

// ReadAt is the read options of a read waiting for revision atLeast.
func (c *Call) ReadAt(atLeast uint64) query.ReadOptions {
	return query.ReadOptions{Caller: c.Caller, AtLeastRevision: atLeast}
}

// Param is a request field an HTTP request carries in its path or query
// string (over NATS every field is in the JSON payload).
type Param struct {
	// Name is the path wildcard or query parameter, and the JSON field.
	Name string
	// In is "path" or "query".
	In string
	// Type is the field's Go type.
	Type  reflect.Type
	index []int
}

// Op is one operation of the API, declared once in Table: every edge (the
// HTTP router, the NATS micro endpoints, the OpenAPI document, the CLI) is
// built from it.
type Op struct {
	// Name names the operation: "role.create". It is the NATS subject
	// under the kind's prefix and the OpenAPI operationId.
	Name string
	// Summary says what it does, for the OpenAPI document and help.
	Summary string
	Kind    Kind
	// Method and Path are the HTTP route; path wildcards bind the
	// request's fields tagged path:"name".
	Method, Path string
	// Subject is the NATS subject; "" when the operation is HTTP only.
	Subject string
	// Status is the HTTP status of a success.
	Status int
	// Body says whether an HTTP request carries a JSON body (it has fields
	// other than path and query ones). Without a body, the query-tagged
	// fields come from the query string; with one, from the body.
	Body bool
	// MaxBytes bounds the request.
	MaxBytes int
	// Public operations need no credential.
	Public bool
	// NoStore marks answers that carry a secret shown once.
	NoStore bool
	// Stream marks HTTP server-sent-event streams (the HTTP edge serves
	// them itself; HTTP only).
	Stream bool
	// Compat names the system whose own API the operation reproduces at
	// that system's path ("accelbyte", "hathora"); "" for Grantlog's own.
	// Compat operations are HTTP only, and the CLI leaves them out (it has
	// Grantlog's own verbs for the same things).
	Compat string
	// QueryParams makes an operation with a body take its query fields
	// from the query string too (after=, limit= of a paginated answer to
	// a body; the body may carry them as well, the query string wins).
	QueryParams bool
	// Fast marks the hot check paths: each edge serves them with a
	// specialised handler (pooled buffers, checkjson) instead of Run.
	Fast bool
	// Request and Reply are the Go types of the request and the answer.
	Request, Reply reflect.Type
	// Params are the request fields bound from the HTTP path and query.
	Params []Param
	run    func(ctx context.Context, d *Deps, c *Call, in any) (any, error)
}

// NewRequest returns a new zero request (a pointer to Request).
func (o *Op) NewRequest() any { return reflect.New(o.Request).Interface() }

// Run runs the operation on a request made by NewRequest and bound.
func (o *Op) Run(ctx context.Context, d *Deps, c *Call, in any) (any, error) {
	if o.run == nil {
		return nil, Errorf(http.StatusNotImplemented, "notImplemented", "%s is served over HTTP only: %s %s", o.Name, o.Method, o.Path)
	}
	return o.run(ctx, d, c, in)
}

// BindHTTP sets in's path and query fields from an HTTP request's path
// values and query string (query fields only when the request has no
// body, or QueryParams: otherwise they are body fields). Bad values and unknown query
// parameters are refused with a 400 *Error.
func (o *Op) BindHTTP(in any, path func(string) string, q map[string][]string) error {
	v := reflect.ValueOf(in).Elem()
	for name := range q {
		if p := o.param(name); p == nil || p.In != "query" || (o.Body && !o.QueryParams) {
			return o.unknownParameter(name)
		}
	}
	for i := range o.Params {
		p := &o.Params[i]
		var vals []string
		switch {
		case p.In == "path":
			vals = []string{path(p.Name)}
		case !o.Body || o.QueryParams:
			vals = q[p.Name]
		}
		if len(vals) == 0 {
			continue
		}
		if err := setParam(v.FieldByIndex(p.index), p, vals); err != nil {
			return err
		}
	}
	return nil
}

// BindFields decodes the request of a bodyless operation from one JSON
// object of its parameters (a NATS request), with the rules BindHTTP
// applies to the query string: a field that is no parameter, and a value
// the query string could not carry either, are refused with a 400 *Error.
// An empty payload is {}.
func (o *Op) BindFields(in any, data []byte) error {
	if len(data) > o.MaxBytes {
		return TooLarge(o.MaxBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	var fields map[string]gojson.RawMessage
	if err := Decode(data, &fields, o.MaxBytes); err != nil {
		return err
	}
	if fields == nil {
		return Bad("malformedJson", "request body is not valid JSON for this endpoint: send a JSON object")
	}
	v := reflect.ValueOf(in).Elem()
	for name, raw := range fields {
		p := o.param(name)
		if p == nil {
			return o.unknownParameter(name)
		}
		vals, err := queryValues(json.RawMessage(raw))
		if err != nil || (p.In == "path" && len(vals) != 1) {
			return Bad("invalidParameter", "%s must be a string, a number or a list of strings", name)
		}
		if len(vals) == 0 {
			continue
		}
		if err := setParam(v.FieldByIndex(p.index), p, vals); err != nil {
			return err
		}
	}
	return nil
}

func (o *Op) param(name string) *Param {
	for i := range o.Params {
		if o.Params[i].Name == name {
			return &o.Params[i]
		}
	}
	return nil
}

func (o *Op) unknownParameter(name string) *Error {
	var names []string
	for _, p := range o.Params {
		if p.In == "query" && !o.Body {
			names = append(names, p.Name)
		}
	}
	switch {
	case o.Body:
		return Bad("unknownParameter", "%s %s takes no query parameter (%q): send its fields in the JSON body", o.Method, o.Path, name)
	case len(names) == 0:
		return Bad("unknownParameter", "%s %s takes no parameter %q", o.Method, o.Path, name)
	}
	return Bad("unknownParameter", "%s %s takes no parameter %q; it takes %s", o.Method, o.Path, name, strings.Join(names, ", "))
}

// Validate checks a request bound and decoded by any edge: path fields
// present (over NATS they are JSON fields), then the request's own rules.
func (o *Op) Validate(in any) error {
	v := reflect.ValueOf(in).Elem()
	for i := range o.Params {
		p := &o.Params[i]
		if p.In == "path" && v.FieldByIndex(p.index).IsZero() {
			return Bad("missingParameter", "%s is required: send {%q: \"...\"}", p.Name, p.Name)
		}
	}
	if val, ok := in.(interface{ Validate() error }); ok {
		return val.Validate()
	}
	return nil
}

// paramErrors are the errorCodes of bad query values.
var paramErrors = map[string]string{
	"atLeastRevision": "invalidRevision",
	"fromRevision":    "invalidRevision",
	"limit":           "invalidLimit",
}

func setParam(f reflect.Value, p *Param, vals []string) error {
	bad := func(what string) error {
		code := paramErrors[p.Name]
		if code == "" {
			code = "invalidParameter"
		}
		return Bad(code, "%s must be %s", p.Name, what)
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(vals[0])
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return bad("a list of strings")
		}
		f.Set(reflect.ValueOf(append([]string(nil), vals...)))
	case reflect.Uint64:
		n, err := strconv.ParseUint(vals[0], 10, 64)
		if err != nil {
			return bad("a non-negative integer")
		}
		f.SetUint(n)
	case reflect.Int:
		n, err := strconv.Atoi(vals[0])
		if err != nil {
			return bad("an integer")
		}
		f.SetInt(int64(n))
	case reflect.Pointer:
		if f.Type().Elem().Kind() != reflect.Int {
			return fmt.Errorf("api: parameter %s has unsupported type %s", p.Name, f.Type())
		}
		n, err := strconv.Atoi(vals[0])
		if err != nil {
			return bad("an integer")
		}
		f.Set(reflect.ValueOf(&n))
	case reflect.Bool:
		b, err := strconv.ParseBool(vals[0])
		if err != nil {
			return bad("true or false")
		}
		f.SetBool(b)
	default:
		return fmt.Errorf("api: parameter %s has unsupported type %s", p.Name, f.Type())
	}
	return nil
}

// def declares an operation whose request is a Req and answer a Rep.
func def[Req, Rep any](kind Kind, name, method, path string, status int, summary string,
	run func(ctx context.Context, d *Deps, c *Call, in *Req) (Rep, error)) *Op {
	o := &Op{
		Name: name, Summary: summary, Kind: kind, Method: method, Path: path, Status: status,
		MaxBytes: MaxRequestBytes,
		Request:  reflect.TypeFor[Req](), Reply: reflect.TypeFor[Rep](),
	}
	switch kind {
	case Command:
		o.Subject = CommandSubjectPrefix + "." + name
	case Read:
		o.Subject = ReadSubjectPrefix + "." + name
	case Check:
		o.Subject = SubjectPrefix + "." + name
	}
	if run != nil {
		o.run = func(ctx context.Context, d *Deps, c *Call, in any) (any, error) {
			req, ok := in.(*Req)
			if !ok {
				return nil, fmt.Errorf("api: %s: request is a %T, want %T (make it with NewRequest)", name, in, req)
			}
			return run(ctx, d, c, req)
		}
	}
	o.Params, o.Body = params(o.Request, nil)
	return o
}

// httpOnly makes o an HTTP-only operation (no NATS subject).
func (o *Op) httpOnly() *Op { o.Subject = ""; return o }

// compat marks o as a drop-in of system's own API (HTTP only).
func (o *Op) compat(system string) *Op { o.Compat = system; return o.httpOnly() }

// params lists t's path- and query-tagged fields (in embedded structs too)
// and reports whether t has other JSON fields (a body).
func params(t reflect.Type, index []int) (ps []Param, body bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		idx := append(append([]int(nil), index...), i)
		jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && f.Type.Kind() == reflect.Struct && jsonName == "" {
			sub, b := params(f.Type, idx)
			ps, body = append(ps, sub...), body || b
			continue
		}
		if !f.IsExported() || jsonName == "-" {
			continue
		}
		switch {
		case f.Tag.Get("path") != "":
			ps = append(ps, Param{Name: f.Tag.Get("path"), In: "path", Type: f.Type, index: idx})
		case f.Tag.Get("query") != "":
			ps = append(ps, Param{Name: f.Tag.Get("query"), In: "query", Type: f.Type, index: idx})
		default:
			body = true
		}
	}
	return ps, body
}

// Node deployment roles (server.NodeRole): which kinds of operation a
// node serves.
const (
	NodeAll     = "all"
	NodeCommand = "command"
	NodeReplica = "replica"
)

// Refusal is the answer of a node whose deployment role does not serve o
// (404 notACommandNode or notACheckNode), or nil when it serves it. Reads
// are served by every node.
func (o *Op) Refusal(nodeRole string) *Error {
	nats := ""
	if o.Subject != "" {
		nats = ", or over NATS to " + o.Subject
	}
	switch {
	case nodeRole == NodeReplica && o.Kind == Command:
		return Errorf(http.StatusNotFound, "notACommandNode",
			"this node is a read replica: send %s %s to a command node (role command or all)%s", o.Method, o.Path, nats)
	case nodeRole == NodeCommand && o.Kind == Check:
		return Errorf(http.StatusNotFound, "notACheckNode",
			"this node is a command node: send %s %s to a replica (role replica or all)%s", o.Method, o.Path, nats)
	}
	return nil
}
