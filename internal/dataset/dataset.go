package dataset

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/grantlog/grantlog/events"
)

// Shape describes a synthetic dataset.
type Shape struct {
	Namespaces     int // e.g. 100
	Roles          int // e.g. 1000
	PermsPerRole   int // e.g. 20
	Users          int // e.g. 100_000
	MaxRolesPerUse int // each user gets 1..MaxRolesPerUse roles (e.g. 3)
	MaxNSPerAssign int // each assignment applies in 1..MaxNSPerAssign namespaces (e.g. 5)
	WildcardEvery  int // every n-th role is a wildcard role (0: none)
	Seed           uint64
	// NoAssignmentEvents leaves the assignments out of Events (Users and
	// Homes still hold them): a load tool that sends them in bulk from
	// Users needs no event per assignment (20M events at 10M users do not
	// fit in memory).
	NoAssignmentEvents bool
}

// Dataset is a generated event sequence and what checks to ask of it.
type Dataset struct {
	Shape  Shape
	Events []events.Event
	// Users[i] holds user i's assignments: role index and namespaces
	// (namespace names are shared strings).
	Users [][]Assignment
	// Homes[i] is the index of the namespace user i's assignments are made
	// in (NSName).
	Homes []int32
	// RolePerms[r] are role r's resources (all with action 15 or 2).
	RolePerms [][]events.Permission
	RoleWild  []bool
}

// Assignment is one generated assignment.
type Assignment struct {
	Role       int
	Namespaces []string
}

// NSName names namespace i.
func NSName(i int) string { return fmt.Sprintf("game%03d", i) }

// UserID names user i.
func UserID(i int) string { return fmt.Sprintf("user%07d", i) }

// RoleID names role i.
func RoleID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

var objects = []string{"ORDER", "PROFILE", "ENTITLEMENT", "WALLET", "FRIENDS", "STATS", "LEADERBOARD", "MATCH", "PARTY", "INVENTORY",
	"CURRENCY", "STORE", "ACHIEVEMENT", "CLOUDSAVE", "SESSION", "CHAT", "GROUP", "REWARD", "SEASON", "TICKET"}

// Generate builds the events of a dataset with the given shape,
// revisions starting at 1.
func Generate(s Shape) *Dataset {
	r := rand.New(rand.NewPCG(s.Seed, 7))
	d := &Dataset{Shape: s}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rev := uint64(0)
	add := func(ns, agg string, p events.Payload) {
		rev++
		d.Events = append(d.Events, events.Event{Revision: rev, Data: p, Envelope: events.Envelope{
			EventID: fmt.Sprintf("ev-%d", rev), Type: p.EventType(), Namespace: ns, AggregateID: agg,
			OccurredAt: at, Actor: events.Actor{Type: events.ActorUser, ID: "bench"}, CommandID: fmt.Sprintf("cmd-%d", rev),
		}})
	}
	for i := range s.Roles {
		ps := make([]events.Permission, 0, s.PermsPerRole)
		for j := range s.PermsPerRole {
			obj := objects[(i+j)%len(objects)]
			var res string
			switch j % 4 {
			case 0:
				res = "NAMESPACE:{namespace}:USER:{userId}:" + obj
			case 1:
				res = "ADMIN:NAMESPACE:{namespace}:" + obj + fmt.Sprint(j)
			case 2:
				res = "NAMESPACE:{namespace}:" + obj + ":" + fmt.Sprint(i)
			default:
				res = "NAMESPACE:{namespace}:USER:*:" + obj + ":*"
			}
			act := uint8(15)
			if j%3 == 0 {
				act = 2
			}
			ps = append(ps, events.Permission{Resource: res, Action: act})
		}
		wild := s.WildcardEvery > 0 && i%s.WildcardEvery == 0
		d.RolePerms = append(d.RolePerms, ps)
		d.RoleWild = append(d.RoleWild, wild)
		add(events.PlatformNamespace, RoleID(i), events.RoleCreated{
			RoleID: RoleID(i), RoleName: fmt.Sprintf("Role%d", i), IsWildcard: wild, Permissions: ps,
		})
	}
	nsNames := make([]string, s.Namespaces)
	for i := range nsNames {
		nsNames[i] = NSName(i)
	}
	d.Users = make([][]Assignment, s.Users)
	d.Homes = make([]int32, s.Users)
	for u := range s.Users {
		h := r.IntN(s.Namespaces)
		d.Homes[u] = int32(h) //nolint:gosec // a namespace index
		home := nsNames[h]
		for range 1 + r.IntN(s.MaxRolesPerUse) {
			role := r.IntN(s.Roles)
			var nss []string
			if !d.RoleWild[role] {
				for range 1 + r.IntN(s.MaxNSPerAssign) {
					nss = append(nss, nsNames[r.IntN(s.Namespaces)])
				}
			}
			d.Users[u] = append(d.Users[u], Assignment{Role: role, Namespaces: nss})
			if !s.NoAssignmentEvents {
				add(home, UserID(u), events.UserRoleAssigned{UserID: UserID(u), RoleID: RoleID(role), AssignedNamespaces: nss})
			}
		}
	}
	return d
}

// Check is one generated check.
type Check struct {
	User, Namespace, Resource string
	Action                    uint8
}

// Checks returns n checks, about half of which the dataset allows.
func (d *Dataset) Checks(n int, seed uint64) []Check {
	r := rand.New(rand.NewPCG(seed, 11))
	out := make([]Check, 0, n)
	for len(out) < n {
		u := r.IntN(len(d.Users))
		user := UserID(u)
		as := d.Users[u]
		a := as[r.IntN(len(as))]
		ns := NSName(r.IntN(d.Shape.Namespaces))
		if len(a.Namespaces) > 0 {
			ns = a.Namespaces[r.IntN(len(a.Namespaces))]
		}
		obj := objects[r.IntN(len(objects))]
		if r.IntN(2) == 0 {
			// likely allowed: the user's own object in an assigned namespace
			ps := d.RolePerms[a.Role]
			for _, p := range ps {
				if len(p.Resource) > 30 && p.Resource[:30] == "NAMESPACE:{namespace}:USER:{us" {
					obj = p.Resource[len("NAMESPACE:{namespace}:USER:{userId}:"):]
					break
				}
			}
			out = append(out, Check{User: user, Namespace: ns, Resource: "NAMESPACE:" + ns + ":USER:" + user + ":" + obj, Action: 2})
			continue
		}
		// likely denied: another namespace or another user's object
		out = append(out, Check{User: user, Namespace: ns, Resource: "NAMESPACE:" + NSName(r.IntN(d.Shape.Namespaces)) + ":USER:" + UserID(r.IntN(len(d.Users))) + ":" + obj, Action: 8})
	}
	return out
}
