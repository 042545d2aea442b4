package index

import (
	"encoding/binary"
	"errors"
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
	recordBinary  = 0x01
	flagNotBefore = 1 << 0
	flagNotAfter  = 1 << 1
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
