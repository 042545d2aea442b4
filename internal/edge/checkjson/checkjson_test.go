package checkjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/checkjson"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// texts are strings of every kind the encoders meet: plain, needing
// escapes (quotes from %q in error messages, HTML characters, control
// characters), non-ASCII and invalid UTF-8.
var texts = []string{
	"", "user", "invalidSubject", "game001", "NAMESPACE:game001:USER:user0000001:ORDER",
	`subject.id "a b" is not valid: use 1-128 letters, digits, '-' or '_'`,
	"a<b>&c", "tab\there", "line\nbreak", "nul\x00", "bell\x07", "\b\f", `back\slash`,
	"ünïcödé", "日本", "bad \xff utf8", "\u2028\u2029", "emoji 🎮",
}

func randText(r *rand.Rand) string { return texts[r.IntN(len(texts))] }

func randRevision(r *rand.Rand) uint64 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return ^uint64(0) - uint64(r.IntN(3))
	}
	return r.Uint64N(1 << uint(1+r.IntN(60)))
}

func randResult(r *rand.Rand) *query.BatchResult {
	res := &query.BatchResult{Revision: randRevision(r)}
	switch r.IntN(10) {
	case 0: // nil results
		return res
	case 1:
		res.Results = []query.BatchItem{}
		return res
	}
	for range r.IntN(20) {
		it := query.BatchItem{CheckResult: query.CheckResult{Allowed: r.IntN(2) == 0, Revision: randRevision(r)}}
		switch r.IntN(5) {
		case 0:
			it.Allowed = false
			it.ErrorCode, it.ErrorMessage = randText(r), randText(r)
			if r.IntN(2) == 0 {
				it.OldestRevision = randRevision(r)
			}
		case 1:
			now := time.Date(2026, 11, 23, 6, 0, r.IntN(60), r.IntN(1e9), time.UTC)
			it.Explanation = &query.Explanation{
				Required:    perm.Permission{Resource: "NAMESPACE:" + randText(r), Action: perm.Action(1 + r.IntN(15))},
				Considered:  r.IntN(5),
				EvaluatedAt: now,
				Summary:     randText(r),
			}
			if r.IntN(2) == 0 {
				it.Explanation.ChangesAt = &now
				it.Explanation.Grants = []query.GrantReason{{Source: query.SourceAssignment, RoleID: randText(r),
					AssignedNamespaces: []string{randText(r)}, Permission: perm.Permission{Resource: "X", Action: perm.Read}}}
			}
		}
		res.Results = append(res.Results, it)
	}
	return res
}

// TestAppendBatchResultMatchesGeneric: the fast encoder writes byte for
// byte what goccy/go-json wrote for the same result (the servers' former
// encoder), and the same JSON value as encoding/json.
func TestAppendBatchResultMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		res := randResult(r)
		got, err := checkjson.AppendBatchResult([]byte("prefix"), res)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(got, []byte("prefix")))
		got = got[len("prefix"):]
		want, err := gojson.Marshal(res)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "case %d", i)
		std, err := json.Marshal(res)
		require.NoError(t, err)
		require.JSONEq(t, string(std), string(got), "case %d", i)
		// And it reads back as the result it encodes.
		var back query.BatchResult
		require.NoError(t, json.Unmarshal(got, &back))
		var fast query.BatchResult
		if checkjson.DecodeBatchResult(got, &fast) {
			require.Equal(t, back, fast, "case %d", i)
		}
	}
}

func randRequest(r *rand.Rand) *query.BatchRequest {
	req := &query.BatchRequest{AtLeastRevision: randRevision(r)}
	switch r.IntN(10) {
	case 0:
		return req
	case 1:
		req.Checks = []query.CheckRequest{}
		return req
	}
	for range r.IntN(20) {
		c := query.CheckRequest{
			Subject:   query.Subject{Type: []string{"user", "client", "token", randText(r)}[r.IntN(4)]},
			Namespace: randText(r),
		}
		if r.IntN(2) == 0 {
			c.Subject.ID = randText(r)
		}
		if r.IntN(5) == 0 {
			c.Subject.Token = randText(r)
		}
		if r.IntN(4) > 0 {
			c.Resource = randText(r)
		}
		c.Action = perm.Action(r.IntN(256))
		if r.IntN(3) == 0 {
			c.AtLeastRevision = randRevision(r)
		}
		c.Explain = r.IntN(4) == 0
		switch r.IntN(6) { // history (issue 17)
		case 0:
			c.AtRevision = randRevision(r)
		case 1:
			at := time.Date(2026, 11, 24, 14, 2, r.IntN(60), r.IntN(3)*1e8, time.UTC)
			c.AsOf = &at
		}
		switch r.IntN(12) {
		case 0:
			c.Endpoint = &query.EndpointRef{Service: randText(r), Name: "n", Params: map[string]string{"userId": randText(r)}}
		case 2:
			c.Endpoint = &query.EndpointRef{Method: "GET", Path: "/iam/v3/admin/namespaces/" + randText(r) + "/clients"}
		case 3:
			c.Endpoint = &query.EndpointRef{Service: randText(r), Name: randText(r)}
		case 1:
			c.Attributes = map[string]perm.Value{}
			if err := json.Unmarshal([]byte(`{"gpu":4,"region":"eu"}`), &c.Attributes); err != nil {
				panic(err)
			}
		}
		req.Checks = append(req.Checks, c)
	}
	return req
}

// TestAppendBatchRequestMatchesGeneric: the SDK's fast request encoder
// writes byte for byte what encoding/json writes.
func TestAppendBatchRequestMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		req := randRequest(r)
		got, err := checkjson.AppendBatchRequest(nil, req)
		require.NoError(t, err)
		want, err := json.Marshal(req)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "case %d", i)
	}
}

// genericRequest decodes data as the servers always did: goccy/go-json,
// unknown fields and trailing data refused.
func genericRequest(data []byte) (query.BatchRequest, error) {
	var req query.BatchRequest
	dec := gojson.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	return req, err
}

// TestDecodeBatchRequest: requests in the fast path's shape decode to what
// the generic decoder gives, whatever the whitespace and key order and
// whatever was in the reused request; others are left to the generic
// decoder.
func TestDecodeBatchRequest(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	reused := &query.BatchRequest{Checks: make([]query.CheckRequest, 3, 50)}
	reused.Checks[0] = query.CheckRequest{Explain: true, Resource: "stale", Endpoint: &query.EndpointRef{}}
	fast := 0
	for i := range 3000 {
		req := randRequest(r)
		data, err := json.Marshal(req)
		require.NoError(t, err)
		if r.IntN(2) == 0 {
			var buf bytes.Buffer
			require.NoError(t, json.Indent(&buf, data, " ", "\t"))
			data = append(buf.Bytes(), "\r\n "...)
		}
		want, err := genericRequest(data)
		require.NoError(t, err)
		if checkjson.DecodeBatchRequest(data, reused) {
			fast++
			require.Equal(t, want, *reused, "case %d: %s", i, data)
		}
	}
	t.Logf("%d of 3000 requests decoded on the fast path", fast)
	assert.Greater(t, fast, 100, "the fast path must be exercised")

	for _, in := range []string{
		`{"checks":[{"subject":{"type":"user","id":"u1"},"namespace":"g","resource":"X","action":2}]}`,
		` {"atLeastRevision":7,"checks":[]} `,
		`{}`,
		`{"checks":[{}],"atLeastRevision":0}`,
		`{"checks":[{"endpoint":{"service":"s","name":"n"}}]}`,
		`{"checks":[{"endpoint":{"method":"GET","path":"/iam/v3/admin/namespaces/foo/clients/abc","service":"iam"}}]}`,
		`{"checks":[{"endpoint":{}}]}`,
		`{"checks":[{"atRevision":12,"namespace":"g"},{"asOf":"2026-11-24T14:02:00Z"},{"asOf":"2026-11-24T14:02:00.5+02:00"}]}`,
	} {
		want, err := genericRequest([]byte(in))
		require.NoError(t, err)
		var got query.BatchRequest
		require.True(t, checkjson.DecodeBatchRequest([]byte(in), &got), in)
		require.Equal(t, want, got, in)
	}
	// Outside the shape, including everything the generic decoder refuses.
	for _, in := range []string{
		``, `null`, `[]`, `{"checks":null}`, `{"Checks":[]}`, `{"checks":[],"checks":[]}`, `{"checks":[]}x`, `{"checks":[]}{}`,
		`{"checks":[{"namespace":"a\"b"}]}`, `{"checks":[{"namespace":"ü"}]}`, `{"checks":[{"action":256}]}`,
		`{"checks":[{"action":-1}]}`, `{"checks":[{"action":1.0}]}`, `{"checks":[{"action":1e0}]}`, `{"checks":[{"action":01}]}`,
		`{"checks":[{"action":"2"}]}`, `{"checks":[{"explain":1}]}`, `{"checks":[{"explain":truex}]}`,
		`{"checks":[{"endpoint":{"service":"s","name":"n","params":{}}}]}`, `{"checks":[{"endpoint":null}]}`,
		`{"checks":[{"endpoint":{"path":"/a","path":"/b"}}]}`, `{"checks":[{"endpoint":{"Path":"/a"}}]}`,
		`{"checks":[{"attributes":{}}]}`, `{"checks":[{"other":1}]}`,
		`{"checks":[{"asOf":"yesterday"}]}`, `{"checks":[{"asOf":null}]}`, `{"checks":[{"atRevision":-1}]}`, `{"checks":[{"atRevision":1,"atRevision":2}]}`,
		`{"checks":[{"subject":{"type":"user","type":"client"}}]}`, `{"atLeastRevision":18446744073709551616}`,
		`{"atLeastRevision":99999999999999999999}`, `{"checks":[{},]}`, `{"checks":[{}`, `{"checks":[{"namespace":"a}]}`,
	} {
		var got query.BatchRequest
		assert.False(t, checkjson.DecodeBatchRequest([]byte(in), &got), in)
	}
}

// FuzzDecodeBatchRequest: whatever the fast path accepts, the generic
// strict decoder accepts too, with the same request.
func FuzzDecodeBatchRequest(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 30 {
		data, err := json.Marshal(randRequest(r))
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"checks":[{"subject":{"type":"user","id":"u1"},"namespace":"g","resource":"X","action":2,"explain":false}]}`))
	f.Add([]byte(`{"checks":[{"subject":{"type":"user","id":"u1"},"namespace":"g","endpoint":{"method":"GET","path":"/iam/v3/admin/namespaces/g/clients/c1"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got query.BatchRequest
		if !checkjson.DecodeBatchRequest(data, &got) {
			return
		}
		want, err := genericRequest(data)
		if err != nil {
			t.Fatalf("fast path accepts %q, the generic decoder refuses it: %v", data, err)
		}
		// DeepEqual, not %#v: an endpoint is a pointer.
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: fast path %#v, generic %#v", data, got, want)
		}
	})
}

// FuzzDecodeBatchResult: whatever the fast path accepts, encoding/json
// (the SDK's decoder) reads as the same result.
func FuzzDecodeBatchResult(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 30 {
		data, err := gojson.Marshal(randResult(r))
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got query.BatchResult
		if !checkjson.DecodeBatchResult(data, &got) {
			return
		}
		var want query.BatchResult
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("fast path accepts %q, encoding/json refuses it: %v", data, err)
		}
		// DeepEqual, not %#v: an endpoint is a pointer.
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: fast path %#v, generic %#v", data, got, want)
		}
	})
}

// TestDecodeBatchResult: a server's answer decodes on the fast path unless
// it holds an explanation or escaped text.
func TestDecodeBatchResult(t *testing.T) {
	res := &query.BatchResult{Revision: 9, Results: []query.BatchItem{
		{CheckResult: query.CheckResult{Allowed: true, Revision: 9}},
		{CheckResult: query.CheckResult{Revision: 9}, ErrorCode: "invalidSubject", ErrorMessage: "subject.type is not supported"},
	}}
	data, err := checkjson.AppendBatchResult(nil, res)
	require.NoError(t, err)
	var got query.BatchResult
	require.True(t, checkjson.DecodeBatchResult(data, &got))
	require.Equal(t, *res, got)
	for _, in := range []string{`{"results":[{"allowed":true,"explanation":{}}],"revision":1}`,
		`{"results":[{"errorMessage":"\"q\""}],"revision":1}`, `{"results":[],"revision":1,"extra":2}`,
		`{"results":[{"allowed":"yes"}]}`, strings.Repeat("{", 3)} {
		assert.False(t, checkjson.DecodeBatchResult([]byte(in), &got), in)
	}
}

// batchOf is a batch of n checks of the load tool's shape, and its answer.
func batchOf(n int) (*query.BatchRequest, *query.BatchResult) {
	req := &query.BatchRequest{}
	res := &query.BatchResult{Revision: 200_311}
	for i := range n {
		ns, user := fmt.Sprintf("game%03d", i%100), fmt.Sprintf("user%07d", i*7919%100_000)
		req.Checks = append(req.Checks, query.CheckRequest{Subject: query.Subject{Type: "user", ID: user}, Namespace: ns,
			Resource: "NAMESPACE:" + ns + ":USER:" + user + ":INVENTORY", Action: perm.Read})
		res.Results = append(res.Results, query.BatchItem{CheckResult: query.CheckResult{Allowed: i%2 == 0, Revision: res.Revision}})
	}
	return req, res
}

// BenchmarkBatchJSON compares checkjson with goccy/go-json (the servers'
// generic codec) on a batch of 1000 checks: ns/op per batch.
func BenchmarkBatchJSON(b *testing.B) {
	req, res := batchOf(query.MaxBatch)
	data, err := json.Marshal(req)
	require.NoError(b, err)
	b.Run("decode/checkjson", func(b *testing.B) {
		b.ReportAllocs()
		var out query.BatchRequest
		for b.Loop() {
			if !checkjson.DecodeBatchRequest(data, &out) {
				b.Fatal("not on the fast path")
			}
		}
	})
	b.Run("decode/goccy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := genericRequest(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/checkjson", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = checkjson.AppendBatchResult(buf[:0], res)
		}
	})
	b.Run("encode/goccy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gojson.Marshal(res); err != nil {
				b.Fatal(err)
			}
		}
	})
}
