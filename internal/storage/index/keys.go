package index

import (
	"bytes"
	"errors"

	"github.com/grantlog/grantlog/events"
)

// layoutVersion is the layout this binary writes. Layout 2 changed only the
// encoding of assignment records (binary instead of JSON, see compact.go);
// layout 1 indexes are read too, marked layout 2 when opened and their
// records rewritten in binary as they are read.
const (
	layoutVersion   = "2"
	layoutVersionV1 = "1"
)

var (
	keyApplied = []byte("\x00meta/applied")
	// keyAppliedAt holds the occurredAt of the applied revision's event
	// (Unix nanoseconds, 8 bytes big endian): the instant a past check at
	// that revision is evaluated at, even once retention removed the event.
	keyAppliedAt    = []byte("\x00meta/applied-at")
	keyLayout       = []byte("\x00meta/layout")
	keyPebbleFormat = []byte("\x00meta/pebble-format")
	// keyUsers holds how many users have assignments (8 bytes, big endian)
	// as of the applied revision: a hint that lets load size its map once.
	keyUsers = []byte("\x00meta/users")
)

// Key kinds inside a namespace prefix.
const (
	kindInfo       = 'i'
	kindRole       = 'r'
	kindAssignment = 'a'
	kindMember     = 'm'
	kindClient     = 'c'
	kindToken      = 't'
	kindScope      = 's'
	kindEndpoint   = 'e'
)

var errBadKey = errors.New("index: malformed key")

func nsPrefix(ns string) []byte {
	b := make([]byte, 0, len(ns)+3)
	b = append(b, 'n', '/')
	b = append(b, ns...)
	return append(b, '/')
}

func nsInfoKey(ns string) []byte { return append(nsPrefix(ns), kindInfo) }

func kindPrefix(ns string, kind byte) []byte {
	return appendKindPrefix(make([]byte, 0, len(ns)+5), ns, kind)
}

func roleKey(ns, roleID string) []byte { return append(kindPrefix(ns, kindRole), roleID...) }

func clientKey(ns, id string) []byte { return append(kindPrefix(ns, kindClient), id...) }

func tokenKey(ns, id string) []byte { return append(kindPrefix(ns, kindToken), id...) }

func scopeKey(name string) []byte {
	return append(kindPrefix(events.PlatformNamespace, kindScope), name...)
}

func endpointKey(service, name string) []byte {
	return append(append(append(kindPrefix(events.PlatformNamespace, kindEndpoint), service...), '/'), name...)
}

func assignmentPrefix(ns, userID string) []byte {
	return append(append(kindPrefix(ns, kindAssignment), userID...), '/')
}

func assignmentKey(ns, userID, roleID string) []byte {
	return appendAssignmentKey(nil, ns, userID, roleID)
}

// appendKindPrefix appends kindPrefix(ns, kind) to dst.
func appendKindPrefix(dst []byte, ns string, kind byte) []byte {
	return append(append(append(dst, 'n', '/'), ns...), '/', kind, '/')
}

// appendAssignmentKey appends assignmentKey(ns, userID, roleID) to dst.
func appendAssignmentKey(dst []byte, ns, userID, roleID string) []byte {
	return append(append(append(appendKindPrefix(dst, ns, kindAssignment), userID...), '/'), roleID...)
}

// appendMemberKey appends memberKey(ns, roleID, userID) to dst.
func appendMemberKey(dst []byte, ns, roleID, userID string) []byte {
	return append(append(append(appendKindPrefix(dst, ns, kindMember), roleID...), '/'), userID...)
}

// splitAssignmentKey returns the parts of an assignment key (aliasing k),
// and ok false for any other key.
func splitAssignmentKey(k []byte) (ns, userID, roleID []byte, ok bool) {
	if len(k) < 2 || k[0] != 'n' || k[1] != '/' {
		return nil, nil, nil, false
	}
	rest := k[2:]
	i := bytes.IndexByte(rest, '/')
	if i <= 0 || len(rest) < i+3 || rest[i+1] != kindAssignment || rest[i+2] != '/' {
		return nil, nil, nil, false
	}
	ns, rest = rest[:i], rest[i+3:]
	j := bytes.IndexByte(rest, '/')
	if j <= 0 || j+1 >= len(rest) || bytes.IndexByte(rest[j+1:], '/') >= 0 {
		return nil, nil, nil, false
	}
	return ns, rest[:j], rest[j+1:], true
}

func memberPrefix(ns, roleID string) []byte {
	return append(append(kindPrefix(ns, kindMember), roleID...), '/')
}

func memberKey(ns, roleID, userID string) []byte {
	return appendMemberKey(nil, ns, roleID, userID)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// parsedKey is a decoded namespace key.
type parsedKey struct {
	ns   string
	kind byte
	a, b string // kind-specific parts: role, client, token, scope: a=id or name; assignment: a=userId b=roleId; member: a=roleId b=userId; endpoint: a=service b=name
}

// parseKey decodes a key of the n/ space.
func parseKey(k []byte) (parsedKey, error) {
	if !bytes.HasPrefix(k, []byte("n/")) {
		return parsedKey{}, errBadKey
	}
	rest := k[2:]
	i := bytes.IndexByte(rest, '/')
	if i <= 0 || i+1 >= len(rest) {
		return parsedKey{}, errBadKey
	}
	pk := parsedKey{ns: string(rest[:i]), kind: rest[i+1]}
	rest = rest[i+2:]
	switch pk.kind {
	case kindInfo:
		if len(rest) != 0 {
			return parsedKey{}, errBadKey
		}
		return pk, nil
	case kindRole, kindClient, kindToken, kindScope:
		if len(rest) < 2 || rest[0] != '/' || bytes.IndexByte(rest[1:], '/') >= 0 {
			return parsedKey{}, errBadKey
		}
		pk.a = string(rest[1:])
		return pk, nil
	case kindAssignment, kindMember, kindEndpoint:
		if len(rest) < 2 || rest[0] != '/' {
			return parsedKey{}, errBadKey
		}
		rest = rest[1:]
		j := bytes.IndexByte(rest, '/')
		if j <= 0 || j+1 >= len(rest) || bytes.IndexByte(rest[j+1:], '/') >= 0 {
			return parsedKey{}, errBadKey
		}
		pk.a, pk.b = string(rest[:j]), string(rest[j+1:])
		return pk, nil
	}
	return parsedKey{}, errBadKey
}
