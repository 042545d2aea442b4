package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// HTTPRequest is the other side of BindHTTP, for clients (the SDK, the
// CLI): it turns a request given as one JSON object of every field (as
// over NATS; a struct or a map) into the HTTP request of o: the path with
// its wildcards filled in and escaped, the query string of a bodyless
// operation, and the JSON body of the others (nil for none).
func (o *Op) HTTPRequest(in any) (target string, body []byte, err error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return "", nil, fmt.Errorf("api: %s: %w", o.Name, err)
	}
	fields := map[string]json.RawMessage{}
	if !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return "", nil, fmt.Errorf("api: %s: the request must be a JSON object: %w", o.Name, err)
		}
	}
	path := o.Path
	q := url.Values{}
	for _, p := range o.Params {
		v, ok := fields[p.Name]
		switch {
		case p.In == "path":
			var s string
			if !ok || json.Unmarshal(v, &s) != nil || s == "" {
				return "", nil, fmt.Errorf("api: %s: %s is required", o.Name, p.Name)
			}
			path = strings.Replace(path, "{"+p.Name+"}", url.PathEscape(s), 1)
			delete(fields, p.Name)
		case !o.Body && ok:
			vals, err := queryValues(v)
			if err != nil {
				return "", nil, fmt.Errorf("api: %s: %s: %w", o.Name, p.Name, err)
			}
			for _, s := range vals {
				q.Add(p.Name, s)
			}
			delete(fields, p.Name)
		}
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if !o.Body {
		if len(fields) > 0 {
			names := make([]string, 0, len(fields))
			for n := range fields {
				names = append(names, n)
			}
			sort.Strings(names)
			return "", nil, fmt.Errorf("api: %s takes no field %s", o.Name, strings.Join(names, ", "))
		}
		return path, nil, nil
	}
	body, err = json.Marshal(fields)
	if err != nil {
		return "", nil, fmt.Errorf("api: %s: %w", o.Name, err)
	}
	return path, body, nil
}

// queryValues is a JSON value as query parameter values: a string, a
// number, a boolean, or a list of strings; null is none.
func queryValues(v json.RawMessage) ([]string, error) {
	var (
		s  string
		n  json.Number
		b  bool
		ss []string
	)
	switch {
	case bytes.Equal(v, []byte("null")):
		return nil, nil
	case json.Unmarshal(v, &s) == nil:
		return []string{s}, nil
	case json.Unmarshal(v, &n) == nil:
		return []string{n.String()}, nil
	case json.Unmarshal(v, &b) == nil:
		return []string{strconv.FormatBool(b)}, nil
	case json.Unmarshal(v, &ss) == nil:
		return ss, nil
	}
	return nil, fmt.Errorf("%s cannot be a query parameter", v)
}
