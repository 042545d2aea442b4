package index

import (
	"bytes"
	"encoding/binary"
	"strings"
	"time"
	"unsafe"
)

// A user's assignments are held as one string, its record, in the users
// table under the user's id (a replica holds ten million users: no pointer,
// no map and no string of its own per assignment; usertable.go). The
// record is
//
//	uvarint len, bytes      the user id (the table's key: it stores no
//	                        other, so id and assignments are one allocation)
//	entries                 the assignments, sorted by namespace, then role id
//
// and each entry is
//
//	uvarint namespace       its id in the state's names table
//	uvarint role            the role's number (Role.num, state.roleByNum)
//	uvarint revision
//	8 bytes                 assignedAt (packTime, little endian)
//	uvarint n<<2 | w        n assigned namespaces; w bit 0: notAfter
//	                        follows, bit 1: notBefore follows
//	[varint, uvarint]       notBefore: Unix seconds, nanoseconds, when flagged
//	[varint, uvarint]       notAfter, when flagged
//	n × uvarint             the assigned namespaces' ids in the names table
//
// About 20 bytes per assignment of grantbench's shape. The garbage
// collector does not scan records (they hold no pointers). Records are
// immutable: a change stores a new record for the user.
const (
	entryNotAfter  = 1 << 0
	entryNotBefore = 1 << 1
)

// names numbers the namespace names that assignments use (their own and
// their assigned namespaces). Names are never removed: they are few (the
// namespaces of a deployment) and the ids are in memory only.
type names struct {
	ids  map[string]uint32
	list []string
}

func newNames() names { return names{ids: map[string]uint32{}} }

// id returns the id of name s, numbering it (with a copy of s) if new.
func (n *names) id(s string) uint32 {
	if id, ok := n.ids[s]; ok {
		return id
	}
	s = strings.Clone(s)
	id := uint32(len(n.list)) //nolint:gosec // far fewer than 2^32 names
	n.list = append(n.list, s)
	n.ids[s] = id
	return id
}

// idBytes is id for a name in bytes (no allocation when it is known).
func (n *names) idBytes(b []byte) uint32 {
	if id, ok := n.ids[string(b)]; ok {
		return id
	}
	return n.id(string(b))
}

// addRole registers r in the state and numbers it for records.
func (st *state) addRole(r *Role) {
	r.num = uint32(len(st.roleByNum)) //nolint:gosec // far fewer than 2^32 roles
	st.roleByNum = append(st.roleByNum, r)
	st.roles[r.ID] = r
}

// uvarintAt reads the uvarint at s[i:], returning it and the offset after
// it. Records are written by this package only: a truncated one reads as
// its end.
func uvarintAt(s string, i int) (uint64, int) {
	var x uint64
	var shift uint
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return x, i
}

func timeAt(s string, i int) (time.Time, int) {
	u, i := uvarintAt(s, i)
	sec := int64(u >> 1) //nolint:gosec // zig-zag decoding
	if u&1 != 0 {
		sec = ^sec
	}
	ns, i := uvarintAt(s, i)
	return time.Unix(sec, int64(ns)).UTC(), i //nolint:gosec // ns < 1e9 as written
}

// recordBody returns the entries of a user's record and the user id.
func recordBody(rec string) (user, body string) {
	n, i := uvarintAt(rec, 0)
	end := i + int(n) //nolint:gosec // as written
	if end > len(rec) {
		return "", ""
	}
	return rec[i:end], rec[end:]
}

// head is what an entry says before its assigned namespaces.
type head struct {
	ns, role uint32
	rev      uint64
	at       int64
	win      window
	n        int // assigned namespaces
	nss      int // offset of their ids
}

// readHead reads the head of the entry at body[i:].
func readHead(body string, i int) head {
	var h head
	var u uint64
	u, i = uvarintAt(body, i)
	h.ns = uint32(u) //nolint:gosec // as written
	u, i = uvarintAt(body, i)
	h.role = uint32(u) //nolint:gosec // as written
	h.rev, i = uvarintAt(body, i)
	if i+8 <= len(body) {
		h.at = int64(uint64(body[i]) | uint64(body[i+1])<<8 | uint64(body[i+2])<<16 | uint64(body[i+3])<<24 | //nolint:gosec // packTime's bits
			uint64(body[i+4])<<32 | uint64(body[i+5])<<40 | uint64(body[i+6])<<48 | uint64(body[i+7])<<56)
	}
	i += 8
	u, i = uvarintAt(body, i)
	h.n = int(u >> 2) //nolint:gosec // as written
	if u&entryNotBefore != 0 {
		h.win.notBefore, i = timeAt(body, i)
	}
	if u&entryNotAfter != 0 {
		h.win.notAfter, i = timeAt(body, i)
	}
	h.nss = i
	return h
}

// skipIDs returns the offset after the n ids at body[i:].
func skipIDs(body string, i, n int) int {
	for ; n > 0 && i < len(body); i++ {
		if body[i] < 0x80 {
			n--
		}
	}
	return i
}

// decode reads the entry at body[i:], appending its assigned namespaces
// to nss (a.AssignedNamespaces is what was appended, nil when there are
// none), and returns it, the offset of the next entry and nss.
func (st *state) decode(user, body string, i int, nss []string) (Assignment, int, []string) {
	h := readHead(body, i)
	a := Assignment{Namespace: st.names.list[h.ns], UserID: user, Revision: h.rev, assignedAt: h.at,
		role: st.roleByNum[h.role], win: h.win}
	i = h.nss
	if h.n == 0 {
		return a, i, nss
	}
	start := len(nss)
	for range h.n {
		var u uint64
		u, i = uvarintAt(body, i)
		nss = append(nss, st.names.list[u])
	}
	a.AssignedNamespaces = nss[start:len(nss):len(nss)]
	return a, i, nss
}

// AssignmentIter iterates over one user's assignments without allocating
// (for assignments of at most 8 assigned namespaces). It is valid while
// the View it came from is.
type AssignmentIter struct {
	st         *state
	user, body string
	// list, when set, holds the assignments instead (a view with an
	// overlay: transactions, what-if), and at is the next one's index.
	list []Assignment
	at   int
	off  int
	// n is how many namespaces the last assignment is assigned in: in buf,
	// or in more when they do not fit.
	n    int
	buf  [8]string
	more []string
}

// Next returns the next assignment, and false after the last. Its
// AssignedNamespaces is nil: read them with AssignedNamespaces. (Returning
// them in the Assignment would make the iterator escape to the heap.)
func (it *AssignmentIter) Next() (Assignment, bool) {
	if it.list != nil {
		if it.at >= len(it.list) {
			return Assignment{}, false
		}
		a := it.list[it.at]
		it.at++
		it.more = a.AssignedNamespaces
		it.n = len(a.AssignedNamespaces)
		if it.n <= len(it.buf) {
			copy(it.buf[:], a.AssignedNamespaces)
		}
		a.AssignedNamespaces = nil
		return a, true
	}
	if it.off >= len(it.body) {
		return Assignment{}, false
	}
	h := readHead(it.body, it.off)
	a := Assignment{Namespace: it.st.names.list[h.ns], UserID: it.user, Revision: h.rev, assignedAt: h.at,
		role: it.st.roleByNum[h.role], win: h.win}
	i := h.nss
	it.n = h.n
	var u uint64
	if h.n <= len(it.buf) {
		for k := range h.n {
			u, i = uvarintAt(it.body, i)
			it.buf[k] = it.st.names.list[u]
		}
	} else {
		it.more = it.more[:0]
		for range h.n {
			u, i = uvarintAt(it.body, i)
			it.more = append(it.more, it.st.names.list[u])
		}
	}
	it.off = i
	return a, true
}

// AssignedNamespaces returns the assigned namespaces of the assignment
// Next returned last (nil for none), valid until the next call of Next:
// copy them to keep them.
func (it *AssignmentIter) AssignedNamespaces() []string {
	switch {
	case it.n == 0:
		return nil
	case it.n > len(it.buf):
		return it.more
	}
	return it.buf[:it.n]
}

// assignmentsOf returns the assignments of the user whose record is rec,
// appended to dst, their namespace lists appended to nss.
func (st *state) assignmentsOf(rec string, dst []Assignment, nss []string) ([]Assignment, []string) {
	user, body := recordBody(rec)
	for i := 0; i < len(body); {
		var a Assignment
		a, i, nss = st.decode(user, body, i, nss)
		dst = append(dst, a)
	}
	return dst, nss
}

// entry is an assignment to store, as apply and load build it.
type entry struct {
	ns string
	// nsID is ns's name id plus one, when the caller knows it (0: look
	// it up; a load knows it once per namespace, not per assignment).
	nsID    uint32
	role    *Role
	rev     uint64
	at      int64 // packTime
	win     window
	nss     []string // assigned namespaces, by name
	nssRaw  []byte   // or in an assignment record's encoding (see compact.go)
	haveRaw bool
}

// appendEntry appends e's encoding to dst.
func (st *state) appendEntry(dst []byte, e *entry) ([]byte, error) {
	nsID := e.nsID - 1
	if e.nsID == 0 {
		nsID = st.names.id(e.ns)
	}
	dst = binary.AppendUvarint(dst, uint64(nsID))
	dst = binary.AppendUvarint(dst, uint64(e.role.num))
	dst = binary.AppendUvarint(dst, e.rev)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.at)) //nolint:gosec // packTime's bits
	var ids []uint32
	n := len(e.nss)
	if e.haveRaw {
		var err error
		if ids, err = st.rawIDs(e.nssRaw); err != nil {
			return dst, err
		}
		n = len(ids)
	}
	w := uint64(n) << 2 //nolint:gosec // n >= 0
	if !e.win.notBefore.IsZero() {
		w |= entryNotBefore
	}
	if !e.win.notAfter.IsZero() {
		w |= entryNotAfter
	}
	dst = binary.AppendUvarint(dst, w)
	if !e.win.notBefore.IsZero() {
		dst = appendZigzagTime(dst, e.win.notBefore)
	}
	if !e.win.notAfter.IsZero() {
		dst = appendZigzagTime(dst, e.win.notAfter)
	}
	if e.haveRaw {
		for _, id := range ids {
			dst = binary.AppendUvarint(dst, uint64(id))
			st.refAssigned(id, 1)
		}
		return dst, nil
	}
	for _, ns := range e.nss {
		id := st.names.id(ns)
		dst = binary.AppendUvarint(dst, uint64(id))
		st.refAssigned(id, 1)
	}
	return dst, nil
}

func appendZigzagTime(dst []byte, t time.Time) []byte {
	s := t.Unix()
	u := uint64(s) << 1 //nolint:gosec // zig-zag encoding
	if s < 0 {
		u = ^u
	}
	dst = binary.AppendUvarint(dst, u)
	return binary.AppendUvarint(dst, uint64(t.Nanosecond())) //nolint:gosec // 0 <= ns < 1e9
}

// rawIDs returns the ids of an assignment record's namespace list
// (appendNamespaceList's encoding), numbering new names.
func (st *state) rawIDs(raw []byte) ([]uint32, error) {
	n, k := binary.Uvarint(raw)
	if k <= 0 || n > uint64(len(raw)) {
		return nil, errBadRecord
	}
	b := raw[k:]
	st.ids = st.ids[:0]
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errBadRecord
		}
		st.ids = append(st.ids, st.names.idBytes(b[k:k+int(l)])) //nolint:gosec // l <= len(b)
		b = b[k+int(l):]                                         //nolint:gosec // l <= len(b)
	}
	if len(b) != 0 {
		return nil, errBadRecord
	}
	return st.ids, nil
}

// unref uncounts the assigned namespaces of the entry at body[i:] and
// returns the offset after it.
func (st *state) unref(body string, i int) int {
	h := readHead(body, i)
	i = h.nss
	for range h.n {
		var u uint64
		u, i = uvarintAt(body, i)
		st.refAssigned(uint32(u), -1) //nolint:gosec // an id this index wrote
	}
	return i
}

// compareEntry orders one user's entries: by namespace, then role id.
func (st *state) compareEntry(ns uint32, role uint32, ens string, erole *Role) int {
	if c := strings.Compare(st.names.list[ns], ens); c != 0 {
		return c
	}
	return strings.Compare(st.roleByNum[role].ID, erole.ID)
}

// appendUser starts a record of user in dst.
func appendUser(dst []byte, user string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(user)))
	return append(dst, user...)
}

// store stores the record in rec (empty of entries: removes the user).
func (st *state) store(user string, rec []byte) {
	if len(rec) == len(user)+uvarintLen(uint64(len(user))) {
		st.users.remove(user)
		return
	}
	st.users.put(string(rec)) // the old record is freed
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// putAssignment stores e in user's record, replacing the user's
// assignment of the same role made in the same namespace.
func (st *state) putAssignment(user string, e *entry) error {
	_, body := recordBody(st.users.get(user))
	b := appendUser(st.buf[:0], user)
	done := false
	for i := 0; i < len(body); {
		h := readHead(body, i)
		end := skipIDs(body, h.nss, h.n)
		c := st.compareEntry(h.ns, h.role, e.ns, e.role)
		if !done && c >= 0 {
			var err error
			if b, err = st.appendEntry(b, e); err != nil {
				return err
			}
			done = true
			if c == 0 {
				st.unref(body, i)
				i = end
				continue
			}
		}
		b = append(b, body[i:end]...)
		i = end
	}
	if !done {
		var err error
		if b, err = st.appendEntry(b, e); err != nil {
			return err
		}
	}
	st.buf = b
	st.store(user, b)
	return nil
}

// removeAssignment removes userID's assignment of roleID made in ns, if any.
func (st *state) removeAssignment(ns, userID, roleID string) {
	rec, ok := st.users.lookup(userID)
	if !ok {
		return
	}
	nsID, ok := st.names.ids[ns]
	role := st.roles[roleID]
	if !ok || role == nil {
		return
	}
	_, body := recordBody(rec)
	for i := 0; i < len(body); {
		h := readHead(body, i)
		end := skipIDs(body, h.nss, h.n)
		if h.ns == nsID && h.role == role.num {
			st.unref(body, i)
			b := appendUser(st.buf[:0], userID)
			b = append(b, body[:i]...)
			b = append(b, body[end:]...)
			st.buf = b
			st.store(userID, b)
			return
		}
		i = end
	}
}

// loadRun collects the assignments of one user that load reads one after
// the other (a user's assignments made in one namespace), so that each
// user's record is built once per namespace. Runs wait, up to loadBatch of
// them, and are merged into their users' records together (flush): the
// table slots and records of a batch are first read side by side, loads
// that do not depend on one another and that the processor overlaps,
// instead of one cache miss after another (at ten million users the
// misses were a third of the load's folding).
type loadRun struct {
	// users are the waiting runs' user ids, one after the other; runs say
	// where each run's id ends in users and its entries in ends.
	users []byte
	runs  []pendingRun
	// ents are the runs' entries, encoded; ends their ends.
	ents []byte
	ends []int
	// The namespace (and its name id) and role of the last assignment read.
	ns   string
	nsID uint32
	role *Role
	// rewrite stores a record again (a layout 1 record in binary, from
	// buf).
	rewrite func(key, value []byte) error
	buf     []byte
	spans   []span
	hashes  []uint32
	// touched sums what flush read ahead, so that the reads are kept.
	touched uint32
}

// loadBatch is how many runs flush merges together.
const loadBatch = 32

type pendingRun struct{ userEnd, endsEnd int }

type span struct {
	from string
	i, j int
}

// user returns the id of run k.
func (r *loadRun) user(k int) []byte {
	from := 0
	if k > 0 {
		from = r.runs[k-1].userEnd
	}
	return r.users[from:r.runs[k].userEnd]
}

// add adds user's entry e to the last run, starting a run (first merging
// a full batch) unless the last run is user's already.
func (r *loadRun) add(st *state, user []byte, e *entry) error {
	if n := len(r.runs); n == 0 || !bytes.Equal(user, r.user(n-1)) {
		if n == loadBatch {
			r.flush(st)
		}
		r.users = append(r.users, user...)
		r.runs = append(r.runs, pendingRun{userEnd: len(r.users)})
	}
	var err error
	if r.ents, err = st.appendEntry(r.ents, e); err != nil {
		return err
	}
	r.ends = append(r.ends, len(r.ents))
	r.runs[len(r.runs)-1].endsEnd = len(r.ends)
	return nil
}

// flush merges the waiting runs into their users' records, in order (a
// user may have two runs in a batch, one per namespace).
func (r *loadRun) flush(st *state) {
	if len(r.runs) == 0 {
		return
	}
	if t := &st.users; len(t.slots) > 0 {
		r.hashes = r.hashes[:0]
		touched := r.touched
		for k := range r.runs {
			h := t.hashOf(string(r.user(k)))
			r.hashes = append(r.hashes, h)
			touched += t.slots[t.home(h)].hash
		}
		for _, h := range r.hashes {
			if s := &t.slots[t.home(h)]; s.hash == h && s.rec != nil {
				touched += uint32(*s.rec)
			}
		}
		r.touched = touched
	}
	from := 0
	for k := range r.runs {
		r.merge(st, r.user(k), from, r.runs[k].endsEnd)
		from = r.runs[k].endsEnd
	}
	r.users, r.runs = r.users[:0], r.runs[:0]
	r.ents, r.ends = r.ents[:0], r.ends[:0]
}

// merge merges the entries ends[from:to] into user's record.
func (r *loadRun) merge(st *state, user []byte, from, to int) {
	_, body := recordBody(st.users.get(string(user)))
	r.spans = r.spans[:0]
	for i := 0; i < len(body); {
		h := readHead(body, i)
		end := skipIDs(body, h.nss, h.n)
		r.spans = append(r.spans, span{body, i, end})
		i = end
	}
	// A view of the runs' bytes as a string, so that spans are of
	// strings: it lives only until b is built below (r.ents is not
	// changed before then), and costs no copy per user loaded.
	ents := unsafe.String(unsafe.SliceData(r.ents), len(r.ents))
	for k := from; k < to; k++ {
		start := 0
		if k > 0 {
			start = r.ends[k-1]
		}
		r.spans = append(r.spans, span{ents, start, r.ends[k]})
	}
	// Key order is not namespace order across namespaces ("n/foo-bar/"
	// sorts before "n/foo/"); lists are short.
	less := func(x, y span) bool {
		hx, hy := readHead(x.from, x.i), readHead(y.from, y.i)
		return st.compareEntry(hx.ns, hx.role, st.names.list[hy.ns], st.roleByNum[hy.role]) < 0
	}
	for i := 1; i < len(r.spans); i++ {
		for j := i; j > 0 && less(r.spans[j], r.spans[j-1]); j-- {
			r.spans[j], r.spans[j-1] = r.spans[j-1], r.spans[j]
		}
	}
	b := appendUser(st.buf[:0], string(user))
	for _, s := range r.spans {
		b = append(b, s.from[s.i:s.j]...)
	}
	st.buf = b
	st.store(string(user), b)
}
