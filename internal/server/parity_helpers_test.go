package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/api"
	"github.com/grantlog/grantlog/internal/edge/natsapi"
)

// parityReply is one transport's answer to one request: the HTTP status
// (over NATS: the Nats-Service-Error-Code of an error, the operation's
// Status for a success), the errorCode ("" for a success) and the body.
type parityReply struct {
	status int
	code   string
	body   []byte
	// requestID is the reply's X-Request-Id header.
	requestID string
}

// parityTransport sends one request of an operation of the table, built
// generically from the api.Op: fields is every field of the request (path
// ones included), raw (when set) replaces the JSON body or payload, auth
// is the whole Authorization value ("" for none), requestID the
// X-Request-Id sent.
type parityTransport interface {
	name() string
	send(t *testing.T, op *api.Op, fields map[string]any, raw *string, auth, requestID string) parityReply
}

// httpTransport: path fields into the path, query fields into the query
// string when the operation has no body, everything else as the JSON body.
type httpTransport struct {
	base string
	hc   *http.Client
}

func (httpTransport) name() string { return "http" }

func (h httpTransport) send(t *testing.T, op *api.Op, fields map[string]any, raw *string, auth, requestID string) parityReply {
	t.Helper()
	in := map[string]string{}
	for _, p := range op.Params {
		in[p.Name] = p.In
	}
	path := op.Path
	q := url.Values{}
	body := map[string]any{}
	for k, v := range fields {
		switch {
		case in[k] == "path":
			s, ok := v.(string)
			require.True(t, ok, "%s: path field %s must be a string", op.Name, k)
			path = strings.Replace(path, "{"+k+"}", url.PathEscape(s), 1)
		case !op.Body:
			addQuery(q, k, v)
		default:
			body[k] = v
		}
	}
	require.NotContains(t, path, "{", "%s: the case must give every path field: %s", op.Name, path)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var rd io.Reader
	switch {
	case raw != nil && !op.Body:
		require.Empty(t, *raw, "%s: only an empty raw payload fits an operation without a body", op.Name)
	case raw != nil:
		rd = strings.NewReader(*raw)
	case op.Body:
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(op.Method, h.base+path, rd)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set(api.AuthorizationHeader, auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(api.RequestIDHeader, requestID)
	resp, err := h.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := parityReply{status: resp.StatusCode, body: data, requestID: resp.Header.Get(api.RequestIDHeader)}
	if resp.StatusCode >= 400 {
		var e api.Error
		require.NoError(t, json.Unmarshal(data, &e), "%s %s: error body is not JSON: %s", op.Method, path, data)
		out.code = e.Code
	}
	return out
}

func addQuery(q url.Values, k string, v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			addQuery(q, k, e)
		}
	case string:
		q.Add(k, x)
	default:
		data, _ := json.Marshal(x)
		q.Add(k, string(data))
	}
}

// natsTransport: the operation's subject, every field in one JSON payload.
type natsTransport struct{ nc *nats.Conn }

func (natsTransport) name() string { return "nats" }

func (n natsTransport) send(t *testing.T, op *api.Op, fields map[string]any, raw *string, auth, requestID string) parityReply {
	t.Helper()
	require.NotEmpty(t, op.Subject, "%s is HTTP only", op.Name)
	msg := nats.NewMsg(op.Subject)
	if raw != nil {
		msg.Data = []byte(*raw)
	} else {
		data, err := json.Marshal(fields)
		require.NoError(t, err)
		msg.Data = data
	}
	if auth != "" {
		msg.Header.Set(natsapi.AuthorizationHeader, auth)
	}
	msg.Header.Set(natsapi.RequestIDHeader, requestID)
	reply, err := n.nc.RequestMsg(msg, 10*time.Second)
	require.NoError(t, err, "%s: no reply on %s", op.Name, op.Subject)
	out := parityReply{status: op.Status, body: reply.Data, requestID: reply.Header.Get(natsapi.RequestIDHeader)}
	if s := reply.Header.Get(micro.ErrorCodeHeader); s != "" {
		st, err := strconv.Atoi(s)
		require.NoError(t, err, "%s: %s %q", op.Name, micro.ErrorCodeHeader, s)
		out.status = st
		var e api.Error
		require.NoError(t, json.Unmarshal(reply.Data, &e), "%s: error body is not JSON: %s", op.Name, reply.Data)
		out.code = e.Code
		require.Equal(t, e.Code, reply.Header.Get(natsapi.ErrorCodeHeader), "%s: %s header and body disagree", op.Name, natsapi.ErrorCodeHeader)
	}
	return out
}

// Normalization: what legitimately differs between two equivalent
// requests over two transports (ids, revisions, times, secrets, request
// ids the server made up, the fixtures' suffixes, the audit record's
// source and chain). Every key ending in "Revision" is a revision too.
var (
	parityUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	parityTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
	parityNum  = regexp.MustCompile(`\d+`)
	// parityVolatile are keys whose values differ by nature.
	parityVolatile = map[string]bool{
		"revision":  true,
		"createdAt": true, "updatedAt": true, "issuedAt": true, "occurredAt": true, "evaluatedAt": true,
		"token": true, "clientSecret": true,
		"hash": true, "prevHash": true, "eventId": true, "commandId": true,
		"object": true, "bytes": true, "signature": true,
	}
)

func parityNormalize(t *testing.T, body []byte, suffixes ...string) any {
	t.Helper()
	s := string(body)
	for _, sfx := range suffixes {
		s = strings.ReplaceAll(s, sfx, "<sfx>")
	}
	s = parityUUID.ReplaceAllString(s, "<uuid>")
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v), "reply is not JSON: %s", body)
	return parityWalk(v)
}

func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

func parityWalk(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch {
			case parityVolatile[k], strings.HasSuffix(k, "Revision"):
				x[k] = "<" + k + ">"
			case k == "source" && isObject(e):
				x[k] = "<source>" // an audit record's: via which transport
			case k == "next" && parityNum.MatchString(fmt.Sprint(e)) && parityNum.FindString(fmt.Sprint(e)) == fmt.Sprint(e):
				x[k] = "<next>" // a revision cursor (audit)
			case k == "errorMessage":
				s, _ := e.(string)
				x[k] = parityNum.ReplaceAllString(s, "<n>")
			default:
				x[k] = parityWalk(e)
			}
		}
	case []any:
		for i := range x {
			x[i] = parityWalk(x[i])
		}
	case string:
		if parityTime.MatchString(x) {
			return "<time>"
		}
	}
	return v
}

// paritySubst replaces the fixture placeholders (<ns>, <role>, <sfx>, ...)
// in a case's request.
func paritySubst(t *testing.T, r *strings.Replacer, fields map[string]any) map[string]any {
	t.Helper()
	if fields == nil {
		fields = map[string]any{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the placeholders' angle brackets
	require.NoError(t, enc.Encode(fields))
	data := []byte(r.Replace(buf.String()))
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	return out
}

func parityJSON(v any) string {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
