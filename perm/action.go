package perm

import (
	"errors"
	"strconv"
	"strings"
)

// Action is a bitmask of the operations a permission allows or requires.
// Valid actions are 1..15; see [Action.Valid].
type Action uint8

// The action bits. CRUD is all of them.
const (
	Create Action = 1
	Read   Action = 2
	Update Action = 4
	Delete Action = 8
	CRUD   Action = Create | Read | Update | Delete
)

// ErrInvalidAction is wrapped by every error about an action outside 1..15.
var ErrInvalidAction = errors.New("perm: invalid action")

// Valid reports whether a is in 1..15: at least one bit, and no unknown bits.
func (a Action) Valid() bool { return a >= 1 && a <= CRUD }

// Allows reports whether a includes every bit of required
// (a&required == required). It does not check validity.
func (a Action) Allows(required Action) bool { return a&required == required }

// String returns the bits joined by '|' in the order Create, Read, Update,
// Delete ("Create|Read"), "CRUD" for 15, "None" for 0, and "Action(N)" for a
// value with bits outside CRUD.
func (a Action) String() string {
	switch {
	case a == 0:
		return "None"
	case a == CRUD:
		return "CRUD"
	case a > CRUD:
		return "Action(" + strconv.Itoa(int(a)) + ")"
	}
	var parts [4]string
	n := 0
	for _, bit := range [...]struct {
		a    Action
		name string
	}{{Create, "Create"}, {Read, "Read"}, {Update, "Update"}, {Delete, "Delete"}} {
		if a&bit.a != 0 {
			parts[n] = bit.name
			n++
		}
	}
	return strings.Join(parts[:n], "|")
}

// actionError reports an invalid action, wrapping ErrInvalidAction.
func actionError(a Action) error {
	return &actionErr{a: a}
}

type actionErr struct{ a Action }

func (e *actionErr) Error() string {
	return "perm: invalid action " + strconv.Itoa(int(e.a)) +
		" (use a bitmask in 1..15: Create=1, Read=2, Update=4, Delete=8, e.g. 6 for Read|Update)"
}

func (e *actionErr) Unwrap() error { return ErrInvalidAction }
