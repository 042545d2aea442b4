package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
)

// Assignment records (the value of n/<ns>/a/<userId>/<roleId>).
//
// Layout 2 writes them in binary:
//
//	0x01                      format tag (a layout 1 record is JSON: '{')
//	flags                     bit 0: notBefore follows, bit 1: notAfter follows
//	uvarint revision
//	varint, uvarint           assignedAt: Unix seconds, nanoseconds
//	[varint, uvarint]         notBefore, when flagged
//	[varint, uvarint]         notAfter, when flagged
//	uvarint n, n × (uvarint len, bytes)   assignedNamespaces (always last)
//
// Layout 1 records (assignmentRecord as JSON) are still read, so an index
// written by an older binary opens without a rebuild (and load rewrites
// them in binary).
const (
	recordBinary   = 0x01
	flagNotBefore  = 1 << 0
	flagNotAfter   = 1 << 1
	maxInternStrs  = 1 << 16 // distinct interned names (namespaces)
	maxInternLists = 1 << 16 // distinct interned assignedNamespaces lists
)

var errBadRecord = errors.New("index: malformed assignment record")

func appendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond())) //nolint:gosec // 0 <= ns < 1e9
}

// appendAssignmentRecord appends the binary record of an assignment and
// returns it with the offset where its namespace list starts.
func appendAssignmentRecord(dst []byte, rev uint64, assignedAt, notBefore, notAfter time.Time, nss []string) ([]byte, int) {
	var flags byte
	if !notBefore.IsZero() {
		flags |= flagNotBefore
	}
	if !notAfter.IsZero() {
		flags |= flagNotAfter
	}
	dst = append(dst, recordBinary, flags)
	dst = binary.AppendUvarint(dst, rev)
	dst = appendTime(dst, assignedAt)
	if !notBefore.IsZero() {
		dst = appendTime(dst, notBefore)
	}
	if !notAfter.IsZero() {
		dst = appendTime(dst, notAfter)
	}
	off := len(dst)
	return appendNamespaceList(dst, nss), off
}

func appendNamespaceList(dst []byte, nss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(nss)))
	for _, n := range nss {
		dst = binary.AppendUvarint(dst, uint64(len(n)))
		dst = append(dst, n...)
	}
	return dst
}

// record is a decoded assignment record: its namespace list is raw (the
// binary encoding, aliasing the record) or, for a JSON record, namespaces.
type record struct {
	rev                 uint64
	assignedAt          time.Time
	notBefore, notAfter time.Time
	raw                 []byte
	namespaces          []string
	json                bool
}

func readTime(b []byte) (time.Time, []byte, error) {
	s, n := binary.Varint(b)
	if n <= 0 {
		return time.Time{}, nil, errBadRecord
	}
	ns, m := binary.Uvarint(b[n:])
	if m <= 0 || ns >= 1e9 {
		return time.Time{}, nil, errBadRecord
	}
	return time.Unix(s, int64(ns)).UTC(), b[n+m:], nil //nolint:gosec // ns < 1e9
}

// decodeAssignmentRecord decodes a record of either layout. For a binary
// record, raw aliases v.
func decodeAssignmentRecord(v []byte) (record, error) {
	var r record
	if len(v) > 0 && v[0] == '{' {
		var rec assignmentRecord
		if err := gojson.Unmarshal(v, &rec); err != nil {
			return r, err
		}
		r.rev, r.assignedAt = rec.Revision, rec.AssignedAt
		r.notBefore, r.notAfter, r.namespaces = fromOpt(rec.NotBefore), fromOpt(rec.NotAfter), rec.AssignedNamespaces
		r.json = true
		return r, nil
	}
	if len(v) < 2 || v[0] != recordBinary {
		return r, errBadRecord
	}
	flags := v[1]
	b := v[2:]
	var n int
	if r.rev, n = binary.Uvarint(b); n <= 0 {
		return r, errBadRecord
	}
	b = b[n:]
	var err error
	if r.assignedAt, b, err = readTime(b); err != nil {
		return r, err
	}
	if flags&flagNotBefore != 0 {
		if r.notBefore, b, err = readTime(b); err != nil {
			return r, err
		}
	}
	if flags&flagNotAfter != 0 {
		if r.notAfter, b, err = readTime(b); err != nil {
			return r, err
		}
	}
	r.raw = b
	return r, nil
}

// interner shares the strings and namespace lists of assignments: a
// million assignments name the same few namespaces, often in the same
// lists. Interned lists are shared between assignments and never modified.
// It is bounded: past its limits, strings and lists are copied instead.
type interner struct {
	strs  map[string]string
	lists map[string][]string // by their binary encoding (see appendAssignmentRecord)
	buf   []byte
}

func newInterner() *interner {
	return &interner{strs: map[string]string{}, lists: map[string][]string{}}
}

// str returns the interned copy of s.
func (in *interner) str(s string) string {
	if v, ok := in.strs[s]; ok {
		return v
	}
	s = strings.Clone(s)
	if len(in.strs) < maxInternStrs {
		in.strs[s] = s
	}
	return s
}

// bytes returns the interned string of b.
func (in *interner) bytes(b []byte) string {
	if v, ok := in.strs[string(b)]; ok {
		return v
	}
	s := string(b)
	if len(in.strs) < maxInternStrs {
		in.strs[s] = s
	}
	return s
}

// list returns the interned list whose binary encoding is raw (nil for an
// empty list).
func (in *interner) list(raw []byte) ([]string, error) {
	if v, ok := in.lists[string(raw)]; ok {
		return v, nil
	}
	n, k := binary.Uvarint(raw)
	if k <= 0 || n > uint64(len(raw)) {
		return nil, errBadRecord
	}
	b := raw[k:]
	var out []string
	if n > 0 {
		out = make([]string, n)
	}
	for i := range out {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errBadRecord
		}
		out[i] = in.bytes(b[k : k+int(l)]) //nolint:gosec // l <= len(b)
		b = b[k+int(l):]                   //nolint:gosec // l <= len(b)
	}
	if len(b) != 0 {
		return nil, errBadRecord
	}
	if len(in.lists) < maxInternLists {
		in.lists[string(raw)] = out
	}
	return out, nil
}

// strings returns the interned list equal to nss.
func (in *interner) strings(nss []string) []string {
	if len(nss) == 0 {
		return nil
	}
	in.buf = appendNamespaceList(in.buf[:0], nss)
	out, err := in.list(in.buf)
	if err != nil {
		panic(fmt.Sprintf("index: interner: %v", err)) // cannot happen: just encoded
	}
	return out
}

// namespaces returns the interned namespace list of r.
func (in *interner) namespaces(r *record) ([]string, error) {
	if r.json {
		return in.strings(r.namespaces), nil
	}
	return in.list(r.raw)
}
