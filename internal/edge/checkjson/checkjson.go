package checkjson

import (
	"encoding/json"
	"strconv"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// AppendBatchResult appends the JSON of res, byte for byte what
// goccy/go-json's Marshal writes (the servers' generic encoder).
func AppendBatchResult(dst []byte, res *query.BatchResult) ([]byte, error) {
	if res.Results == nil {
		dst = append(dst, `{"results":null,"revision":`...)
	} else {
		dst = append(dst, `{"results":[`...)
		for i := range res.Results {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendItem(dst, &res.Results[i]); err != nil {
				return dst, err
			}
		}
		dst = append(dst, `],"revision":`...)
	}
	dst = strconv.AppendUint(dst, res.Revision, 10)
	return append(dst, '}'), nil
}

func appendItem(dst []byte, it *query.BatchItem) ([]byte, error) {
	if it.Explanation != nil {
		raw, err := gojson.Marshal(it)
		return append(dst, raw...), err
	}
	if it.Allowed {
		dst = append(dst, `{"allowed":true,"revision":`...)
	} else {
		dst = append(dst, `{"allowed":false,"revision":`...)
	}
	dst = strconv.AppendUint(dst, it.Revision, 10)
	if it.ErrorCode != "" {
		dst = append(dst, `,"errorCode":`...)
		dst = appendString(dst, it.ErrorCode)
	}
	if it.ErrorMessage != "" {
		dst = append(dst, `,"errorMessage":`...)
		dst = appendString(dst, it.ErrorMessage)
	}
	if it.OldestRevision != 0 {
		dst = append(dst, `,"oldestRevision":`...)
		dst = strconv.AppendUint(dst, it.OldestRevision, 10)
	}
	return append(dst, '}'), nil
}

// plain[c] is set for the bytes a JSON string holds as they are in the
// output of both goccy/go-json and encoding/json (which escape <, > and &
// for HTML, and treat non-ASCII specially).
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, as the generic encoder does.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			raw, _ := gojson.Marshal(s) // cannot fail for a string
			return append(dst, raw...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendStdString is appendString for encoding/json's output.
func appendStdString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			raw, _ := json.Marshal(s) // cannot fail for a string
			return append(dst, raw...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// AppendBatchRequest appends the JSON of req, byte for byte what
// encoding/json's Marshal writes (the SDK's encoder).
func AppendBatchRequest(dst []byte, req *query.BatchRequest) ([]byte, error) {
	if req.Checks == nil {
		dst = append(dst, `{"checks":null`...)
	} else {
		dst = append(dst, `{"checks":[`...)
		for i := range req.Checks {
			if i > 0 {
				dst = append(dst, ',')
			}
			c := &req.Checks[i]
			if c.Endpoint != nil || c.Attributes != nil || c.AsOf != nil {
				raw, err := json.Marshal(c)
				if err != nil {
					return dst, err
				}
				dst = append(dst, raw...)
				continue
			}
			dst = append(dst, `{"subject":{"type":`...)
			dst = appendStdString(dst, c.Subject.Type)
			if c.Subject.ID != "" {
				dst = append(dst, `,"id":`...)
				dst = appendStdString(dst, c.Subject.ID)
			}
			if c.Subject.Token != "" {
				dst = append(dst, `,"token":`...)
				dst = appendStdString(dst, c.Subject.Token)
			}
			dst = append(dst, `},"namespace":`...)
			dst = appendStdString(dst, c.Namespace)
			if c.Resource != "" {
				dst = append(dst, `,"resource":`...)
				dst = appendStdString(dst, c.Resource)
			}
			if c.Action != 0 {
				dst = append(dst, `,"action":`...)
				dst = strconv.AppendUint(dst, uint64(c.Action), 10)
			}
			if c.AtLeastRevision != 0 {
				dst = append(dst, `,"atLeastRevision":`...)
				dst = strconv.AppendUint(dst, c.AtLeastRevision, 10)
			}
			if c.AtRevision != 0 {
				dst = append(dst, `,"atRevision":`...)
				dst = strconv.AppendUint(dst, c.AtRevision, 10)
			}
			if c.Explain {
				dst = append(dst, `,"explain":true`...)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if req.AtLeastRevision != 0 {
		dst = append(dst, `,"atLeastRevision":`...)
		dst = strconv.AppendUint(dst, req.AtLeastRevision, 10)
	}
	return append(dst, '}'), nil
}

// scanner reads JSON tokens from s; every method reports false when the
// next token is not what it reads (or is outside the fast path's shape).
type scanner struct {
	s string
	i int
}

func (d *scanner) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// tok consumes c.
func (d *scanner) tok(c byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (d *scanner) str() (string, bool) {
	if !d.tok('"') {
		return "", false
	}
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c == '"' {
			d.i++
			return d.s[start : d.i-1], true
		}
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return "", false
		}
		d.i++
	}
	return "", false
}

// uint reads a non-negative integer of at most limit. A fraction or
// exponent leaves the scanner before it, and the next token fails.
func (d *scanner) uint(limit uint64) (uint64, bool) {
	d.ws()
	start := d.i
	var n uint64
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		if d.i-start == 19 { // may overflow: the generic decoder decides
			return 0, false
		}
		n = n*10 + uint64(d.s[d.i]-'0')
		d.i++
	}
	switch {
	case d.i == start, d.i-start > 1 && d.s[start] == '0', n > limit:
		return 0, false
	}
	return n, true
}

// boolean reads true or false.
func (d *scanner) boolean() (bool, bool) {
	d.ws()
	switch {
	case len(d.s)-d.i >= 4 && d.s[d.i:d.i+4] == "true":
		d.i += 4
		return true, true
	case len(d.s)-d.i >= 5 && d.s[d.i:d.i+5] == "false":
		d.i += 5
		return false, true
	}
	return false, false
}

// object reads an object, calling field for each key (a key seen twice
// fails), after which field must read the value.
func (d *scanner) object(field func(key string) bool) bool {
	if !d.tok('{') {
		return false
	}
	if d.tok('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.tok(':') || !field(key) {
			return false
		}
		if d.tok(',') {
			continue
		}
		return d.tok('}')
	}
}

// array reads an array, calling elem for each element.
func (d *scanner) array(elem func() bool) bool {
	if !d.tok('[') {
		return false
	}
	if d.tok(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.tok(',') {
			continue
		}
		return d.tok(']')
	}
}

// end reports whether only whitespace is left.
func (d *scanner) end() bool {
	d.ws()
	return d.i == len(d.s)
}

// once records key bit b in seen, failing when it was already there.
func once(seen *uint32, b uint32) bool {
	if *seen&b != 0 {
		return false
	}
	*seen |= b
	return true
}

// DecodeBatchRequest decodes data into req, reusing req.Checks' capacity,
// as a strict generic decoder (unknown fields and trailing data refused)
// would. It reports false when data is outside the fast path's shape;
// req's content is then unspecified, and the caller decodes data with the
// generic decoder into a zero BatchRequest. The strings of req share one
// copy of data.
func DecodeBatchRequest(data []byte, req *query.BatchRequest) bool {
	d := scanner{s: string(data)}
	checks := req.Checks[:0]
	var seenTop uint32
	ok := d.object(func(key string) bool {
		switch key {
		case "checks":
			if !once(&seenTop, 1) {
				return false
			}
			return d.array(func() bool {
				checks = append(checks, query.CheckRequest{})
				return d.check(&checks[len(checks)-1])
			})
		case "atLeastRevision":
			var ok bool
			req.AtLeastRevision, ok = d.uint(^uint64(0))
			return ok && once(&seenTop, 2)
		}
		return false
	}) && d.end()
	// Checks is nil without "checks" and empty for "checks": [], as the
	// generic decoder leaves it.
	switch {
	case seenTop&1 == 0:
		checks = nil
	case checks == nil:
		checks = []query.CheckRequest{}
	}
	req.Checks = checks
	if seenTop&2 == 0 {
		req.AtLeastRevision = 0
	}
	return ok
}

func (d *scanner) check(c *query.CheckRequest) bool {
	var seen uint32
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "subject":
			ok = once(&seen, 1) && d.subject(&c.Subject)
		case "namespace":
			c.Namespace, ok = d.str()
			ok = ok && once(&seen, 2)
		case "resource":
			c.Resource, ok = d.str()
			ok = ok && once(&seen, 4)
		case "action":
			var n uint64
			n, ok = d.uint(255)
			c.Action = perm.Action(n)
			ok = ok && once(&seen, 8)
		case "atLeastRevision":
			c.AtLeastRevision, ok = d.uint(^uint64(0))
			ok = ok && once(&seen, 16)
		case "explain":
			c.Explain, ok = d.boolean()
			ok = ok && once(&seen, 32)
		case "endpoint":
			ok = once(&seen, 64) && d.endpoint(c)
		case "atRevision":
			c.AtRevision, ok = d.uint(^uint64(0))
			ok = ok && once(&seen, 128)
		case "asOf":
			var s string
			if s, ok = d.str(); ok {
				ok = once(&seen, 256) && d.instant(c, s)
			}
		}
		return ok
	})
}

// endpoint reads an endpoint without params (by name, or by raw request:
// {"method": "GET", "path": "/iam/v3/admin/namespaces/foo/clients/abc"});
// params, null and anything else take the generic decoder.
func (d *scanner) endpoint(c *query.CheckRequest) bool {
	ep := &query.EndpointRef{}
	c.Endpoint = ep
	var seen uint32
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "service":
			ep.Service, ok = d.str()
			ok = ok && once(&seen, 1)
		case "name":
			ep.Name, ok = d.str()
			ok = ok && once(&seen, 2)
		case "method":
			ep.Method, ok = d.str()
			ok = ok && once(&seen, 4)
		case "path":
			ep.Path, ok = d.str()
			ok = ok && once(&seen, 8)
		}
		return ok
	})
}

// instant sets c.AsOf to s as encoding/json decodes a time (RFC 3339);
// anything else takes the generic decoder, which says why.
func (d *scanner) instant(c *query.CheckRequest, s string) bool {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return false
	}
	c.AsOf = &t
	return true
}

func (d *scanner) subject(s *query.Subject) bool {
	var seen uint32
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "type":
			s.Type, ok = d.str()
			ok = ok && once(&seen, 1)
		case "id":
			s.ID, ok = d.str()
			ok = ok && once(&seen, 2)
		case "token":
			s.Token, ok = d.str()
			ok = ok && once(&seen, 4)
		}
		return ok
	})
}

// DecodeBatchResult decodes a batch answer into res (reusing
// res.Results' capacity), as a generic decoder would. It reports false
// when data is outside the fast path's shape (an explanation, escapes,
// unknown fields, ...); res's content is then unspecified and the caller
// decodes data with the generic decoder into a zero BatchResult.
func DecodeBatchResult(data []byte, res *query.BatchResult) bool {
	d := scanner{s: string(data)}
	results := res.Results[:0]
	var seenTop uint32
	ok := d.object(func(key string) bool {
		switch key {
		case "results":
			if !once(&seenTop, 1) {
				return false
			}
			return d.array(func() bool {
				results = append(results, query.BatchItem{})
				return d.item(&results[len(results)-1])
			})
		case "revision":
			var ok bool
			res.Revision, ok = d.uint(^uint64(0))
			return ok && once(&seenTop, 2)
		}
		return false
	}) && d.end()
	switch {
	case seenTop&1 == 0:
		results = nil
	case results == nil:
		results = []query.BatchItem{}
	}
	res.Results = results
	if seenTop&2 == 0 {
		res.Revision = 0
	}
	return ok
}

func (d *scanner) item(it *query.BatchItem) bool {
	var seen uint32
	return d.object(func(key string) bool {
		var ok bool
		switch key {
		case "allowed":
			it.Allowed, ok = d.boolean()
			ok = ok && once(&seen, 1)
		case "revision":
			it.Revision, ok = d.uint(^uint64(0))
			ok = ok && once(&seen, 2)
		case "errorCode":
			it.ErrorCode, ok = d.str()
			ok = ok && once(&seen, 4)
		case "errorMessage":
			it.ErrorMessage, ok = d.str()
			ok = ok && once(&seen, 8)
		case "oldestRevision":
			it.OldestRevision, ok = d.uint(^uint64(0))
			ok = ok && once(&seen, 16)
		}
		return ok
	})
}
