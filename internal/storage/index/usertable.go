package index

import (
	"hash/maphash"
	"iter"
	"math/bits"
	"unsafe"
)

// userTable holds the users' records (users.go) by user id: an open
// addressing hash table (linear probing, backward-shift deletion) whose
// slots hold the record itself, where a Go map of ten million entries
// would hold the id and the record as two strings in slots of 32 bytes,
// grouped in tables found through a directory. A check finds its user in
// two memory reads that miss the cache (the slot, then the record, which
// begins with the id the lookup compares), against four or five through
// the map; a slot is 16 bytes (the map's 32, at a lower load), and the
// collector scans one pointer per user instead of two.
//
// The key of a slot is the id its record begins with (recordBody), so the
// table stores no key of its own; a slot keeps 32 bits of its key's hash,
// to skip other keys without reading their records and to move slots on
// growth and deletion without hashing again. Not safe for concurrent
// use: the Store's lock guards it, as it guarded the map.
type userTable struct {
	slots []userSlot
	n     int
	shift uint // 32 - log2(len(slots)): a slot's home is hash >> shift
	seed  maphash.Seed
}

// userSlot is one slot: a record (rec nil: empty), its length and the
// upper 32 bits of its id's hash.
type userSlot struct {
	rec  *byte
	size uint32
	hash uint32
}

// userTableMin is the smallest table allocated (slots).
const userTableMin = 64

func newUserTable() userTable { return userTable{seed: maphash.MakeSeed()} }

func (t *userTable) hashOf(id string) uint32 {
	return uint32(maphash.String(t.seed, id) >> 32)
}

// home is the slot a key of hash h is first looked for in.
func (t *userTable) home(h uint32) int { return int(h >> t.shift) }

func (s *userSlot) record() string { return unsafe.String(s.rec, s.size) }

// idOf is the user id that record rec begins with.
func idOf(rec string) string {
	id, _ := recordBody(rec)
	return id
}

// find returns the slot of id (ok) or the empty slot ending its probe
// sequence. The table must not be empty.
func (t *userTable) find(id string, h uint32) (int, bool) {
	mask := len(t.slots) - 1
	for i := t.home(h); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.rec == nil {
			return i, false
		}
		if s.hash == h && idOf(s.record()) == id {
			return i, true
		}
	}
}

// get returns id's record, or "" when it has none.
func (t *userTable) get(id string) string {
	if t.n == 0 {
		return ""
	}
	if i, ok := t.find(id, t.hashOf(id)); ok {
		return t.slots[i].record()
	}
	return ""
}

// lookup is get that also says whether id has a record.
func (t *userTable) lookup(id string) (string, bool) {
	rec := t.get(id)
	return rec, rec != ""
}

// put stores rec under the id it begins with, replacing that id's record.
func (t *userTable) put(rec string) {
	if len(rec) == 0 || uint64(len(rec)) > 1<<32-1 {
		panic("index: user record of impossible size") // records are written by this package only
	}
	if (t.n+1)*4 > len(t.slots)*3 { // load stays at most 3/4
		t.resize(max(userTableMin, 2*len(t.slots)))
	}
	id := idOf(rec)
	h := t.hashOf(id)
	i, ok := t.find(id, h)
	if !ok {
		t.n++
	}
	t.slots[i] = userSlot{rec: unsafe.StringData(rec), size: uint32(len(rec)), hash: h}
}

// remove removes id's record, if any, shifting back the slots after it
// that would otherwise no longer be found (no tombstones).
func (t *userTable) remove(id string) {
	if t.n == 0 {
		return
	}
	i, ok := t.find(id, t.hashOf(id))
	if !ok {
		return
	}
	mask := len(t.slots) - 1
	for j := (i + 1) & mask; t.slots[j].rec != nil; j = (j + 1) & mask {
		// Slot j may move to the hole at i when its home is not in the
		// cyclic range (i, j]: from there its probe passes i.
		if k := t.home(t.slots[j].hash); (j-k)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = userSlot{}
	t.n--
}

// len is how many users have records.
func (t *userTable) len() int { return t.n }

// reserve sizes the table for n records at most 5/8 full (load sizes it
// once from the index's count instead of doubling through it).
func (t *userTable) reserve(n int) {
	want := userTableMin
	if n > 0 {
		want = max(want, 1<<bits.Len(uint(n*8/5)))
	}
	if want > len(t.slots) {
		t.resize(want)
	}
}

// resize moves every record into a table of size slots (a power of two).
func (t *userTable) resize(size int) {
	old := t.slots
	t.slots = make([]userSlot, size)
	t.shift = uint(32 - bits.TrailingZeros(uint(size))) //nolint:gosec // size is a power of two below 2^32
	mask := size - 1
	for _, s := range old {
		if s.rec == nil {
			continue
		}
		i := t.home(s.hash)
		for t.slots[i].rec != nil {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// all yields every user id and its record, in no particular order. The
// table must not change meanwhile.
func (t *userTable) all() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := range t.slots {
			s := &t.slots[i]
			if s.rec == nil {
				continue
			}
			rec := s.record()
			if !yield(idOf(rec), rec) {
				return
			}
		}
	}
}
