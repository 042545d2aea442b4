package audit

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/storage/index"
)

// TestRoleFoldAgreesWithIndex applies random role events to a real index
// and to the effects feed's fold: after every event both must hold the same
// permissions for every role. It fails when the feed folds role
// permissions another way than the index does.
func TestRoleFoldAgreesWithIndex(t *testing.T) {
	st, err := index.Open(index.Options{Dir: "/idx", FS: vfs.NewMem(), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })

	resources := []string{
		"NAMESPACE:{namespace}:USER:{userId}:ORDER",
		"NAMESPACE:{namespace}:USER:{userId}:SAVE",
		"NAMESPACE:*:CLOUDSAVE",
		"ADMIN:NAMESPACE:{namespace}:ROLE",
		"NAMESPACE:foo:STORE:*",
		"namespace:FOO:store:*", // the canonical form of the one above is another resource
		"",                      // invalid: dropped by both
	}
	rng := rand.New(rand.NewPCG(1, 11))
	perms := func(n int, zero bool) []events.Permission {
		out := make([]events.Permission, n)
		for i := range out {
			a := uint8(rng.IntN(16))
			if a == 0 && !zero {
				a = 2
			}
			out[i] = events.Permission{Resource: resources[rng.IntN(len(resources))], Action: a}
		}
		return out
	}

	roles := map[string]*roleFold{}
	var ids []string
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for rev := uint64(1); rev <= 400; rev++ {
		var p events.Payload
		switch k := rng.IntN(10); {
		case len(ids) == 0 || k == 0:
			id := fmt.Sprintf("r%d", rev)
			ids = append(ids, id)
			p = events.RoleCreated{RoleID: id, RoleName: "Role " + id, Permissions: perms(rng.IntN(4), false)}
		case k <= 3:
			p = events.RolePermissionsAdded{RoleID: ids[rng.IntN(len(ids))], Permissions: perms(1+rng.IntN(3), false)}
		case k <= 6:
			p = events.RolePermissionsRemoved{RoleID: ids[rng.IntN(len(ids))], Permissions: perms(1+rng.IntN(2), true)}
		case k <= 8:
			p = events.RolePermissionsReplaced{RoleID: ids[rng.IntN(len(ids))], Permissions: perms(rng.IntN(4), false)}
		default:
			i := rng.IntN(len(ids))
			p = events.RoleDeleted{RoleID: ids[i]}
			ids = append(ids[:i], ids[i+1:]...)
		}
		ev := events.Event{
			Envelope: events.Envelope{
				EventID: fmt.Sprintf("ev-%d", rev), Type: p.EventType(), Namespace: events.PlatformNamespace,
				OccurredAt: t0.Add(time.Duration(rev) * time.Second),
				Actor:      events.Actor{Type: events.ActorSystem, ID: "test"}, CommandID: fmt.Sprintf("cmd-%d", rev),
			},
			Revision: rev,
			Data:     p,
		}
		require.NoError(t, st.Apply([]events.Event{ev}))
		foldRole(roles, p)

		func() {
			v := st.Acquire()
			defer v.Release() // before the store's Close when a require fails
			require.Len(t, roles, len(v.Roles()), "revision %d (%s)", rev, ev.Type)
			for id, r := range roles {
				ir := v.Role(id)
				require.NotNil(t, ir, "revision %d: role %s", rev, id)
				require.Equal(t, ir.Permissions, r.perms, "revision %d (%s): role %s", rev, ev.Type, id)
			}
		}()
	}
}
