package index

import (
	"encoding/json"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/perm"
)

// FromEvent converts permissions as carried in events. A permission whose
// constraints cannot be read keeps a constraint no request satisfies, so a
// corrupt event can only take access away.
func FromEvent(ps []events.Permission) []perm.Permission {
	out := make([]perm.Permission, len(ps))
	for i, p := range ps {
		q := perm.Permission{
			Resource: p.Resource, Action: perm.Action(p.Action),
			NotBefore: p.NotBefore, NotAfter: p.NotAfter,
			SchedAction: perm.Action(p.SchedAction), SchedCron: p.SchedCron, SchedRange: p.SchedRange,
		}
		if len(p.Constraints) > 0 {
			if err := json.Unmarshal(p.Constraints, &q.Constraints); err != nil {
				q.Constraints = perm.Constraints{"\x00unreadable": {In: []perm.Value{}}}
			}
		}
		out[i] = q
	}
	return out
}

// ToEvent converts permissions for an event.
func ToEvent(ps []perm.Permission) []events.Permission {
	out := make([]events.Permission, len(ps))
	for i, p := range ps {
		q := events.Permission{
			Resource: p.Resource, Action: uint8(p.Action),
			NotBefore: p.NotBefore, NotAfter: p.NotAfter,
			SchedAction: uint8(p.SchedAction), SchedCron: p.SchedCron, SchedRange: p.SchedRange,
		}
		if len(p.Constraints) > 0 {
			q.Constraints, _ = json.Marshal(p.Constraints)
		}
		out[i] = q
	}
	return out
}

// compileAll compiles ps, dropping those that do not compile (commands
// validate every permission; this only guards against a corrupt log).
func compileAll(ps []perm.Permission) ([]perm.Permission, []perm.Grant) {
	kept := make([]perm.Permission, 0, len(ps))
	grants := make([]perm.Grant, 0, len(ps))
	for _, p := range ps {
		g, err := perm.CompileGrant(p)
		if err != nil {
			continue
		}
		kept = append(kept, g.Permission())
		grants = append(grants, g)
	}
	return kept, grants
}
