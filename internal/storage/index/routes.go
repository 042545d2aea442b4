package index

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/grantlog/grantlog/perm"
)

// Limits on an endpoint's path template.
const (
	// MaxRouteSegments is the most '/'-separated segments an endpoint path
	// (and a raw request path matched against the catalog) may have.
	MaxRouteSegments = 32
	// MaxRouteParams is the most path parameters an endpoint path may have.
	MaxRouteParams = 16
)

// ErrInvalidRoute is wrapped by every error of ParseRoute.
var ErrInvalidRoute = errors.New("index: invalid endpoint path")

// ParseRoute validates an endpoint's path template, such as
// /iam/v3/admin/namespaces/{namespace}/clients/{clientId}, and returns the
// names of its path parameters in order. A path starts with '/'; its
// segments are non-empty; a parameter is a whole segment {name} (name: 1-64
// letters and digits, each name once); at most MaxRouteSegments segments and
// MaxRouteParams parameters. A path that is only "/" has no segments.
func ParseRoute(path string) ([]string, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("%w %q: it must start with '/' (e.g. /iam/v3/admin/namespaces/{namespace}/clients)", ErrInvalidRoute, path)
	}
	if path == "/" {
		return nil, nil
	}
	var params []string
	n := 0
	for seg := range strings.SplitSeq(path[1:], "/") {
		n++
		switch {
		case n > MaxRouteSegments:
			return nil, fmt.Errorf("%w %q: more than %d segments", ErrInvalidRoute, path, MaxRouteSegments)
		case seg == "":
			return nil, fmt.Errorf("%w %q: segment %d is empty (no '//' and no trailing '/')", ErrInvalidRoute, path, n)
		case seg[0] == '{' && seg[len(seg)-1] == '}' && len(seg) >= 2:
			name := seg[1 : len(seg)-1]
			if !perm.ValidParamName(name) {
				return nil, fmt.Errorf("%w %q: parameter %s is not a name (use 1-64 letters and digits, e.g. {clientId})", ErrInvalidRoute, path, seg)
			}
			for _, p := range params {
				if strings.EqualFold(p, name) {
					return nil, fmt.Errorf("%w %q: parameter %s appears twice", ErrInvalidRoute, path, seg)
				}
			}
			if len(params) == MaxRouteParams {
				return nil, fmt.Errorf("%w %q: more than %d parameters", ErrInvalidRoute, path, MaxRouteParams)
			}
			params = append(params, name)
		case strings.ContainsAny(seg, "{}"):
			return nil, fmt.Errorf("%w %q: segment %q has '{' or '}' but is not a whole {parameter}", ErrInvalidRoute, path, seg)
		case strings.ContainsAny(seg, "?#"):
			return nil, fmt.Errorf("%w %q: '?' and '#' are not part of a path", ErrInvalidRoute, path)
		}
	}
	return params, nil
}

// routeNode is one segment position of the route trie of one method.
type routeNode struct {
	lit   map[string]*routeNode
	param *routeNode
	// eps are the endpoints whose path ends here, sorted by service then
	// name: the first of the asked service (or of any) wins.
	eps []*Endpoint
}

// routeTable finds the catalog endpoint of a raw request: a trie of path
// segments per HTTP method, built as endpoints are applied (never per
// check). It lives in the index state, so it is guarded like the rest of
// it: changed under the write lock, read through a View.
type routeTable struct {
	methods []methodRoutes
}

type methodRoutes struct {
	method string // upper case
	root   *routeNode
}

func (t *routeTable) root(method string, create bool) *routeNode {
	for i := range t.methods {
		if strings.EqualFold(t.methods[i].method, method) {
			return t.methods[i].root
		}
	}
	if !create {
		return nil
	}
	r := &routeNode{}
	t.methods = append(t.methods, methodRoutes{method: strings.ToUpper(method), root: r})
	return r
}

// add inserts e (whose params were set by ParseRoute); an endpoint whose
// path is not a valid route is only reachable by name.
func (t *routeTable) add(e *Endpoint) {
	if !e.routable || e.Method == "" {
		return
	}
	n := t.root(e.Method, true)
	if e.Path != "/" {
		for seg := range strings.SplitSeq(e.Path[1:], "/") {
			if seg[0] == '{' {
				if n.param == nil {
					n.param = &routeNode{}
				}
				n = n.param
				continue
			}
			next := n.lit[seg]
			if next == nil {
				if n.lit == nil {
					n.lit = map[string]*routeNode{}
				}
				next = &routeNode{}
				n.lit[seg] = next
			}
			n = next
		}
	}
	i := sort.Search(len(n.eps), func(i int) bool { return !endpointLess(n.eps[i], e) })
	n.eps = append(n.eps, nil)
	copy(n.eps[i+1:], n.eps[i:])
	n.eps[i] = e
}

// remove takes e out of the trie (nodes left empty stay: they are few).
func (t *routeTable) remove(e *Endpoint) {
	if !e.routable || e.Method == "" {
		return
	}
	n := t.root(e.Method, false)
	if n == nil {
		return
	}
	if e.Path != "/" {
		for seg := range strings.SplitSeq(e.Path[1:], "/") {
			if seg[0] == '{' {
				n = n.param
			} else {
				n = n.lit[seg]
			}
			if n == nil {
				return
			}
		}
	}
	for i, x := range n.eps {
		if x == e {
			n.eps = append(n.eps[:i:i], n.eps[i+1:]...)
			return
		}
	}
}

func endpointLess(a, b *Endpoint) bool {
	if a.Service != b.Service {
		return a.Service < b.Service
	}
	return a.Name < b.Name
}

// RouteMatch is the endpoint a raw request path matched, with the values
// of its path parameters. It holds substrings of the path and no pointers
// into the index beyond Endpoint; it is valid while the View it came from.
type RouteMatch struct {
	Endpoint *Endpoint
	values   [MaxRouteParams]string
	n        int
}

// Params returns the matched path parameters (name and value, in path
// order) into dst[:0], which it returns; with a dst of capacity
// MaxRouteParams it does not allocate.
func (m *RouteMatch) Params(dst []perm.Param) []perm.Param {
	dst = dst[:0]
	for i := 0; i < m.n && i < len(m.Endpoint.params); i++ {
		dst = append(dst, perm.Param{Name: m.Endpoint.params[i], Value: m.values[i]})
	}
	return dst
}

// Param returns the value of the path parameter name (compared
// case-insensitively), or "".
func (m *RouteMatch) Param(name string) string {
	for i := 0; i < m.n && i < len(m.Endpoint.params); i++ {
		if strings.EqualFold(m.Endpoint.params[i], name) {
			return m.values[i]
		}
	}
	return ""
}

// MatchRoute finds the catalog endpoint serving method and the raw request
// path (a query string or fragment is ignored, as is one trailing '/'), of
// service when service is not "": at each segment, from the first, a
// literal segment beats a parameter, backtracking when the literal branch
// leads nowhere; among endpoints with the same method and path, the first
// by service, then name. It reports false when nothing matches. It does
// not allocate.
func (v View) MatchRoute(method, path, service string, m *RouteMatch) bool {
	n := v.s.mu.st.routes.root(method, false)
	if n == nil || !strings.HasPrefix(path, "/") {
		return false
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	m.n = 0
	if path == "/" {
		m.Endpoint = n.pick(service)
		return m.Endpoint != nil
	}
	return n.match(path[1:], service, m, 0)
}

// match matches rest (the path after a '/') below n at depth.
func (n *routeNode) match(rest, service string, m *RouteMatch, depth int) bool {
	if depth == MaxRouteSegments {
		return false
	}
	seg, tail, more := strings.Cut(rest, "/")
	if seg == "" {
		return false
	}
	if next := n.lit[seg]; next != nil {
		if next.end(tail, more, service, m, depth) {
			return true
		}
	}
	if n.param != nil && m.n < MaxRouteParams {
		k := m.n
		m.values[k] = seg
		m.n++
		if n.param.end(tail, more, service, m, depth) {
			return true
		}
		m.n = k
	}
	return false
}

// end continues a match at n with the rest of the path, or ends it there.
func (n *routeNode) end(tail string, more bool, service string, m *RouteMatch, depth int) bool {
	if more {
		return n.match(tail, service, m, depth+1)
	}
	m.Endpoint = n.pick(service)
	return m.Endpoint != nil
}

func (n *routeNode) pick(service string) *Endpoint {
	for _, e := range n.eps {
		if service == "" || e.Service == service {
			return e
		}
	}
	return nil
}
