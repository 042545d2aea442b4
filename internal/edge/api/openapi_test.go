package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	valerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/checkjson"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// spec is the document as OpenAPI serves it.
func spec(t *testing.T) []byte {
	t.Helper()
	b, err := OpenAPI()
	require.NoError(t, err)
	return b
}

// load parses and checks a document with libopenapi and
// libopenapi-validator: it must build (every $ref resolved) and be valid
// against the OpenAPI 3.1 schema.
func load(t *testing.T, b []byte) (*v3.Document, validator.Validator) {
	t.Helper()
	m, v, errs := loadErrs(b)
	require.Empty(t, errs, "the document is invalid")
	return m, v
}

func loadErrs(b []byte) (*v3.Document, validator.Validator, []string) {
	cfg := datamodel.NewDocumentConfiguration()
	cfg.Logger = slog.New(slog.DiscardHandler) // the errors are returned too
	doc, err := libopenapi.NewDocumentWithConfiguration(b, cfg)
	if err != nil {
		return nil, nil, []string{"parse: " + err.Error()}
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, nil, []string{"build: " + err.Error()}
	}
	var errs []string
	for _, e := range model.Index.GetReferenceIndexErrors() {
		errs = append(errs, "reference: "+e.Error())
	}
	if r := model.Index.GetResolver(); r != nil {
		for _, e := range r.GetResolvingErrors() {
			errs = append(errs, "resolve: "+e.Error())
		}
	}
	v, verrs := validator.NewValidator(doc, config.WithFormatAssertions())
	for _, e := range verrs {
		errs = append(errs, "validator: "+e.Error())
	}
	if v == nil {
		return nil, nil, errs
	}
	if ok, ves := v.ValidateDocument(); !ok {
		errs = append(errs, describe(ves)...)
	}
	for name, proxy := range model.Model.Components.Schemas.FromOldest() {
		if proxy.Schema() == nil {
			errs = append(errs, "schema "+name+": "+proxy.GetBuildError().Error())
		}
	}
	return &model.Model, v, errs
}

func describe(ves []*valerrors.ValidationError) []string {
	var out []string
	for _, e := range ves {
		s := e.Message + ": " + e.Reason
		for _, se := range e.SchemaValidationErrors {
			s += " [" + se.FieldPath + ": " + se.Reason + "]"
		}
		out = append(out, s)
	}
	return out
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, problems := document(Table())
	require.Empty(t, problems, "types the generator cannot describe")
	b := spec(t)
	again, err := json.Marshal(doc)
	require.NoError(t, err)
	require.Equal(t, string(b), string(again), "the document is not deterministic")

	m, _ := load(t, b)
	require.Equal(t, "3.1.0", m.Version)

	// Readable, deduplicated schema names; one Error schema.
	var raw struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, name := range []string{"Error", "PageRole", "PageRoleMember", "Role", "PermPermission", "EventsPermission", "Value", "Action", "RoleCreateRequest"} {
		require.Contains(t, raw.Components.Schemas, name)
	}
	for name := range raw.Components.Schemas {
		require.Regexp(t, `^[A-Z][A-Za-z0-9]*$`, name)
	}
	require.JSONEq(t, `{"type":"object","additionalProperties":false,
		"properties":{"errorCode":{"type":"string"},"errorMessage":{"type":"string"},"revision":{"type":"integer","minimum":0},"oldestRevision":{"type":"integer","minimum":0},"requestId":{"type":"string"}},
		"required":["errorCode","errorMessage"]}`, string(raw.Components.Schemas["Error"]))
}

// TestOpenAPICoversTheTable: every operation with a route is in the
// document at its method and path, with what the table says of it, and
// nothing else is.
func TestOpenAPICoversTheTable(t *testing.T) {
	b := spec(t)
	m, _ := load(t, b)
	var raw struct {
		Paths map[string]map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(b, &raw))

	want, got := map[string]string{}, map[string]string{}
	for _, o := range Table() {
		if o.Method == "" || o.Path == "" {
			continue
		}
		want[o.Method+" "+o.Path] = o.Name
		op := raw.Paths[o.Path][strings.ToLower(o.Method)]
		require.NotNil(t, op, "%s %s", o.Method, o.Path)

		// Path parameters: exactly the path's wildcards.
		var wild, declared []string
		for _, w := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(o.Path, -1) {
			wild = append(wild, w[1])
		}
		var inQuery []string
		for _, p := range op["parameters"].([]any) {
			p := p.(map[string]any)
			switch p["in"] {
			case "path":
				declared = append(declared, p["name"].(string))
				require.Equal(t, true, p["required"], "%s: path parameter %s", o.Name, p["name"])
			case "query":
				inQuery = append(inQuery, p["name"].(string))
			}
		}
		sort.Strings(wild)
		sort.Strings(declared)
		require.Equal(t, wild, declared, "%s: path parameters", o.Name)
		if o.Body {
			if !o.QueryParams {
				require.Empty(t, inQuery, "%s: a request with a body has its query fields in it", o.Name)
			}
			require.NotNil(t, op["requestBody"], o.Name)
		} else {
			require.Nil(t, op["requestBody"], o.Name)
			for _, p := range o.Params {
				if p.In == "query" {
					require.Contains(t, inQuery, p.Name, o.Name)
				}
			}
		}

		require.Equal(t, []any{strings.SplitN(o.Name, ".", 2)[0]}, op["tags"], o.Name)
		if o.Public {
			require.Equal(t, []any{}, op["security"], o.Name)
		} else {
			require.Equal(t, []any{map[string]any{"bearerAuth": []any{}}}, op["security"], o.Name)
		}
		if o.Subject != "" {
			require.Equal(t, o.Subject, op["x-nats-subject"], o.Name)
		} else {
			require.NotContains(t, op, "x-nats-subject", o.Name)
		}
		responses := op["responses"].(map[string]any)
		success := responses[strconv.Itoa(o.Status)].(map[string]any)
		content, _ := success["content"].(map[string]any)
		if o.Status == http.StatusNoContent {
			require.Nil(t, content, "%s: a 204 answer has no body", o.Name)
		} else if o.Stream {
			require.Contains(t, content, "text/event-stream", o.Name)
		} else {
			require.Contains(t, content, "application/json", o.Name)
		}
		_, noStore := success["headers"].(map[string]any)["Cache-Control"]
		require.Equal(t, o.NoStore, noStore, o.Name)
		for _, status := range []string{"500", "503", "default"} {
			require.Contains(t, responses, status, o.Name)
		}
		if !o.Public {
			require.Contains(t, responses, "401", o.Name)
			require.Contains(t, responses, "403", o.Name)
		}
		if o.Body {
			require.Contains(t, responses, "400", o.Name)
			require.Contains(t, responses, "413", o.Name)
		}
	}
	for path, item := range m.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			got[strings.ToUpper(method)+" "+path] = op.OperationId
		}
	}
	require.Equal(t, want, got)
}

// request builds an HTTP request to the document's server.
func request(method, target, token string, body any) *http.Request {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			panic(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, "http://grantlog.test"+target, r)
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set(AuthorizationHeader, "Bearer "+token)
	}
	return req
}

func response(req *http.Request, status int, body string, headers ...string) *http.Response {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}
}

// TestOpenAPIValidatesSamples proves the schemas: requests and answers
// the service takes and gives pass, wrong ones fail.
func TestOpenAPIValidatesSamples(t *testing.T) {
	_, v := load(t, spec(t))
	role := `{"roleName":"Reader","adminRole":false,"isWildcard":false,"description":"reads",` +
		`"permissions":[{"resource":"NAMESPACE:{namespace}:USER:{userId}","action":2,"constraints":{"id":{"eq":1227,"in":["a",3]}}}],"reason":"setup"}`
	requests := []struct {
		name string
		req  *http.Request
		ok   bool
	}{
		{"role.create", request(post, "/v1/roles", "tok", role), true},
		{"role.create with a wrong type", request(post, "/v1/roles", "tok", strings.Replace(role, `"Reader"`, `5`, 1)), false},
		{"role.create with an unknown field", request(post, "/v1/roles", "tok", strings.Replace(role, `"reason"`, `"reasons"`, 1)), false},
		{"role.create with action 16", request(post, "/v1/roles", "tok", strings.Replace(role, `"action":2`, `"action":16`, 1)), false},
		{"role.permissions.remove of a whole resource (action 0)", request(del, "/v1/roles/r1/permissions", "tok", `{"permissions":[{"resource":"R","action":0}]}`), true},
		{"role.create with an object as a constraint value", request(post, "/v1/roles", "tok", strings.Replace(role, `1227`, `{}`, 1)), false},
		{"role.create with a bad notBefore", request(post, "/v1/roles", "tok", strings.Replace(role, `"action":2`, `"action":2,"notBefore":"tomorrow"`, 1)), false},
		{"role.create without a role name", request(post, "/v1/roles", "tok", strings.Replace(role, `"roleName":"Reader",`, ``, 1)), false},
		{"role.create without a credential", request(post, "/v1/roles", "", role), false},
		{"role.update (pointers: null is no change)", request(patch, "/v1/roles/r1", "tok", `{"roleName":null,"adminRole":true,"isWildcard":null,"description":"d"}`), true},
		{"role.update with the path's roleId in the body", request(patch, "/v1/roles/r1", "tok", `{"roleId":"r1","roleName":null,"adminRole":true,"isWildcard":null,"description":"d"}`), false},
		{"role.list", request(get, "/v1/roles?limit=10&after=abc&atLeastRevision=7", "tok", nil), true},
		{"role.list with a bad limit", request(get, "/v1/roles?limit=ten", "tok", nil), false},
		{"role.list with a negative revision", request(get, "/v1/roles?atLeastRevision=-1", "tok", nil), false},
		{"audit.list with repeated namespaces", request(get, "/v1/audit?namespace=a&namespace=b&since=1h", "tok", nil), true},
		{"checks", request(post, "/v1/checks", "tok", `{"checks":[{"subject":{"type":"user","id":"u1"},"namespace":"g1","resource":"R","action":2,"attributes":{"id":"150"}}]}`), true},
		{"checks with a subject that is a string", request(post, "/v1/checks", "tok", `{"checks":[{"subject":"u1","namespace":"g1"}]}`), false},
		{"assign.batch", request(post, "/v1/namespaces/g1/assignments:batch", "tok", `{"assignments":[{"userId":"u","roleId":"r","assignedNamespaces":["g1"],"notAfter":"2027-01-02T15:04:05Z"}]}`), true},
		{"status needs no credential", request(get, "/v1/status", "", nil), true},
		{"openapi needs no credential", request(get, "/v1/openapi.json", "", nil), true},
	}
	for _, c := range requests {
		ok, errs := v.ValidateHttpRequestSync(c.req)
		require.Equal(t, c.ok, ok, "%s: %v", c.name, describe(errs))
	}

	get1 := request(get, "/v1/roles/r1", "tok", nil)
	issued := request(post, "/v1/namespaces/g1/tokens", "tok", `{"name":"t"}`)
	responses := []struct {
		name string
		resp *http.Response
		ok   bool
	}{
		{"role.get", response(get1, 200, marshal(t, query.Role{RoleID: "r1", RoleName: "Reader",
			Permissions: []perm.Permission{{Resource: "R", Action: perm.Read, Constraints: perm.Constraints{"id": {Eq: ptr(perm.Num(3)), In: []perm.Value{perm.Str("x")}}}}},
			CreatedAt:   time.Now(), UpdatedAt: time.Now(), Revision: 9})), true},
		{"role.get with a negative revision", response(get1, 200, `{"roleId":"r1","roleName":"R","adminRole":false,"isWildcard":false,"description":"","permissions":[],`+
			`"createdAt":"2026-01-02T15:04:05Z","updatedAt":"2026-01-02T15:04:05Z","revision":-1}`), false},
		{"role.get with a time that is not one", response(get1, 200, `{"roleId":"r1","roleName":"R","adminRole":false,"isWildcard":false,"description":"","permissions":[],`+
			`"createdAt":"yesterday","updatedAt":"2026-01-02T15:04:05Z","revision":1}`), false},
		{"role.get answered 404", response(get1, 404, marshal(t, Errorf(404, "roleNotFound", "no role r1"))), true},
		{"an error without its code", response(get1, 404, `{"errorMessage":"no role r1"}`), false},
		{"503 with the revision", response(get1, 503, `{"errorCode":"revisionNotYetApplied","errorMessage":"later","revision":4,"requestId":"q"}`), true},
		{"token.issue answered no-store", response(issued, 201, `{"tokenId":"t1","token":"s","owner":{"type":"user","id":"u"},"permissions":null,"revision":3}`,
			"Cache-Control", "no-store"), true},
	}
	for _, c := range responses {
		ok, errs := v.ValidateHttpResponse(c.resp.Request, c.resp)
		require.Equal(t, c.ok, ok, "%s: %v", c.name, describe(errs))
	}
}

// TestOpenAPIDescribesEveryType marshals a zero and a filled value of
// every operation's answer (as the HTTP edge writes it) and request body,
// and fills every query parameter: each must pass.
func TestOpenAPIDescribesEveryType(t *testing.T) {
	b := spec(t)
	m, v := load(t, b)
	var raw struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Event map[string]string `json:"x-event-schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(b, &raw))
	schemas := schema_validation.NewSchemaValidator(config.WithFormatAssertions())
	for _, o := range Table() {
		target := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(o.Path, "x")
		for _, filled := range []bool{false, true} {
			// The answer.
			reply := reflect.New(o.Reply)
			if filled {
				fill(reply.Elem(), 0)
			}
			out, err := gojson.Marshal(reply.Interface())
			require.NoError(t, err)
			if o.Stream {
				ref := raw.Paths[o.Path][strings.ToLower(o.Method)].Responses[strconv.Itoa(o.Status)].Content["text/event-stream"].Event["$ref"]
				name := strings.TrimPrefix(ref, schemaRefPrefix)
				s := m.Components.Schemas.GetOrZero(name)
				require.NotNil(t, s, "%s: event schema %q", o.Name, ref)
				ok, errs := schemas.ValidateSchemaBytes(s.Schema(), out)
				require.True(t, ok, "%s event %s: %v", o.Name, out, describe(errs))
			} else {
				req := request(o.Method, target, "tok", nil)
				h := []string{}
				if o.NoStore {
					h = []string{"Cache-Control", "no-store"}
				}
				ok, errs := v.ValidateHttpResponse(req, response(req, o.Status, string(out), h...))
				require.True(t, ok, "%s answer %s: %v", o.Name, out, describe(errs))
			}

			// The request: filled (a zero one is not always valid: an
			// endpoint's action 0, for one).
			if !filled {
				continue
			}
			in := reflect.New(o.Request)
			fill(in.Elem(), 0)
			var req *http.Request
			if o.Body {
				var fields map[string]json.RawMessage
				require.NoError(t, json.Unmarshal([]byte(marshal(t, in.Interface())), &fields))
				for _, p := range o.Params {
					if p.In == "path" {
						// By its JSON name, which differs from the path's
						// where the body has a field of that name (compat ops).
						name, _, _ := strings.Cut(o.Request.FieldByIndex(p.index).Tag.Get("json"), ",")
						delete(fields, name)
					}
				}
				if lb, ok := ListBody(o.Request); ok { // the body is that field's value
					req = request(o.Method, target, "tok", in.Elem().FieldByIndex(lb.Index).Interface())
				} else {
					req = request(o.Method, target, "tok", fields)
				}
			} else {
				q := url.Values{}
				for _, p := range o.Params {
					if p.In != "query" {
						continue
					}
					f := in.Elem().FieldByIndex(p.index)
					if f.IsZero() {
						continue
					}
					if f.Kind() == reflect.Slice {
						q[p.Name] = f.Interface().([]string)
					} else {
						q.Set(p.Name, strings.Trim(marshal(t, f.Interface()), `"`))
					}
				}
				if len(q) > 0 {
					target += "?" + q.Encode()
				}
				req = request(o.Method, target, "tok", nil)
			}
			ok, errs := v.ValidateHttpRequestSync(req)
			require.True(t, ok, "%s request %s: %v", o.Name, req.URL, describe(errs))
		}
	}
}

// TestOpenAPIDescribesTheFastPath: the batch check's own encoder
// (checkjson, the HTTP edge's fast path) writes what the document says.
func TestOpenAPIDescribesTheFastPath(t *testing.T) {
	_, v := load(t, spec(t))
	for _, filled := range []bool{false, true} {
		var res query.BatchResult
		var in query.BatchRequest
		if filled {
			fill(reflect.ValueOf(&res).Elem(), 0)
			fill(reflect.ValueOf(&in).Elem(), 0)
		}
		body, err := checkjson.AppendBatchRequest(nil, &in)
		require.NoError(t, err)
		req := request(post, "/v1/checks", "tok", string(body))
		ok, errs := v.ValidateHttpRequestSync(req)
		require.True(t, ok, "checks request %s: %v", body, describe(errs))
		out, err := checkjson.AppendBatchResult(nil, &res)
		require.NoError(t, err)
		ok, errs = v.ValidateHttpResponse(req, response(req, http.StatusOK, string(out)))
		require.True(t, ok, "checks answer %s: %v", out, describe(errs))
	}
}

// TestOpenAPIValidatorRejectsBrokenDocuments: the validation the tests
// above rely on refuses a document with a dangling $ref, and one that is
// not OpenAPI 3.1.
func TestOpenAPIValidatorRejectsBrokenDocuments(t *testing.T) {
	broken := func(edit func(doc map[string]any)) []byte {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(spec(t), &doc))
		edit(doc)
		b, err := json.Marshal(doc)
		require.NoError(t, err)
		return b
	}
	op := func(doc map[string]any, path, method string) map[string]any {
		return doc["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)
	}
	for name, b := range map[string][]byte{
		"a $ref to a missing schema": broken(func(doc map[string]any) {
			op(doc, "/v1/roles", "post")["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"] =
				map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Missing"}}
		}),
		"a schema removed": broken(func(doc map[string]any) {
			delete(doc["components"].(map[string]any)["schemas"].(map[string]any), "PermPermission")
		}),
		"a parameter in the body": broken(func(doc map[string]any) {
			o := op(doc, "/v1/roles", "get")
			o["parameters"] = append(o["parameters"].([]any), map[string]any{"name": "x", "in": "body", "schema": map[string]any{"type": "string"}})
		}),
		"an operation whose responses are a list": broken(func(doc map[string]any) {
			op(doc, "/v1/roles", "get")["responses"] = []any{"200"}
		}),
	} {
		_, _, errs := loadErrs(b)
		require.NotEmpty(t, errs, "%s: the validator accepted it", name)
		t.Logf("%s: refused: %s", name, errs[0])
	}
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func ptr[T any](v T) *T { return &v }

// fill sets every field of v it can reach to a value that is not zero and
// that the service could send: one element per slice and map.
func fill(v reflect.Value, depth int) {
	if depth > 20 || !v.CanSet() {
		return
	}
	switch v.Type() {
	case timeType:
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)))
		return
	case permValueType:
		v.Set(reflect.ValueOf(perm.Num(1.5)))
		return
	case permActionType:
		v.Set(reflect.ValueOf(perm.Read | perm.Update))
		return
	case rawMessageType:
		v.Set(reflect.ValueOf(json.RawMessage(`{"any":["json",1]}`)))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	}
}
