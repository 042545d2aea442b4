package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/dataset"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

const casbinModel = `
[request_definition]
r = sub, dom, ctx, owner, obj, act

[policy_definition]
p = sub, own, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = (g(r.sub, p.sub, r.dom) || (g(r.sub, p.sub, "*") && r.dom == r.ctx)) && (p.own == "any" || r.owner == r.sub) && r.obj == p.obj && r.act == p.act
`

func main() {
	users := flag.Int("users", 10_000, "users in the dataset")
	checks := flag.Int("checks", 2_000, "sampled checks (all compared, then timed; Casbin takes milliseconds each)")
	seed := flag.Uint64("seed", 1, "dataset seed")
	flag.Parse()
	if err := run(*users, *checks, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(users, nChecks int, seed uint64) error {
	shape := dataset.Shape{Namespaces: 100, Roles: 200, PermsPerRole: 20, Users: users,
		MaxRolesPerUse: 3, MaxNSPerAssign: 5, WildcardEvery: 50, Seed: seed}
	fmt.Fprintf(os.Stderr, "generating %d users...\n", users)
	d := dataset.Generate(shape)

	// Grantlog: a real Pebble index and the query engine.
	dir, err := os.MkdirTemp("", "peers-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	st, err := index.Open(index.Options{Dir: filepath.Join(dir, "index")})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	start := time.Now()
	for i := 0; i < len(d.Events); i += 5000 {
		if err := st.Apply(d.Events[i:min(i+5000, len(d.Events))]); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "grantlog index built in %s\n", time.Since(start).Round(time.Millisecond))
	eng := query.New(query.Config{}, st, nil)

	// Casbin: the same roles, permissions and assignments.
	m, err := model.NewModelFromString(casbinModel)
	if err != nil {
		return err
	}
	e, err := casbin.NewEnforcer(m)
	if err != nil {
		return err
	}
	e.EnableAutoBuildRoleLinks(false)
	start = time.Now()
	var policies, groupings [][]string
	// A second assignment of the same role to the same user (in the same
	// home namespace) replaces the first, as in Grantlog: keep the last.
	type ur struct{ user, role string }
	last := map[ur][]string{}
	var order []ur
	for i := range d.Events {
		switch p := d.Events[i].Data.(type) {
		case events.RoleCreated:
			for _, q := range p.Permissions {
				own, obj, ok := casbinShape(q.Resource)
				if !ok {
					continue
				}
				for bit := uint8(1); bit <= 8; bit <<= 1 {
					if q.Action&bit != 0 {
						policies = append(policies, []string{p.RoleID, own, obj, strconv.Itoa(int(bit))})
					}
				}
			}
		case events.UserRoleAssigned:
			k := ur{p.UserID, p.RoleID}
			if _, seen := last[k]; !seen {
				order = append(order, k)
			}
			last[k] = p.AssignedNamespaces
		}
	}
	for _, k := range order {
		if len(last[k]) == 0 {
			groupings = append(groupings, []string{k.user, k.role, "*"})
		}
		for _, ns := range last[k] {
			groupings = append(groupings, []string{k.user, k.role, ns})
		}
	}
	if _, err := e.AddPolicies(policies); err != nil {
		return err
	}
	if _, err := e.AddGroupingPolicies(groupings); err != nil {
		return err
	}
	if err := e.BuildRoleLinks(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "casbin loaded %d policies and %d groupings in %s\n", len(policies), len(groupings), time.Since(start).Round(time.Millisecond))

	// The same sampled checks, compared one by one.
	sample := d.Checks(nChecks, seed+1)
	reqs := make([]query.CheckRequest, len(sample))
	creqs := make([][]any, len(sample))
	for i, c := range sample {
		reqs[i] = query.CheckRequest{Subject: query.Subject{Type: "user", ID: c.User}, Namespace: c.Namespace,
			Resource: c.Resource, Action: perm.Action(c.Action)}
		seg := strings.Split(c.Resource, ":") // NAMESPACE:<ns>:USER:<owner>:<OBJECT>
		if len(seg) != 5 || seg[0] != "NAMESPACE" || seg[2] != "USER" {
			return fmt.Errorf("unexpected sampled tag %s", c.Resource)
		}
		creqs[i] = []any{c.User, seg[1], c.Namespace, seg[3], seg[4], strconv.Itoa(int(c.Action))}
	}
	ctx := context.Background()
	allowed := 0
	for i := range reqs {
		g, err := eng.Check(ctx, &reqs[i])
		if err != nil {
			return err
		}
		cb, err := e.Enforce(creqs[i]...)
		if err != nil {
			return err
		}
		if g.Allowed != cb {
			return fmt.Errorf("the answers differ on %s %s %s [%d]: grantlog %v, casbin %v",
				sample[i].User, sample[i].Namespace, sample[i].Resource, sample[i].Action, g.Allowed, cb)
		}
		if cb {
			allowed++
		}
	}
	fmt.Printf("agreement: %d of %d sampled checks answered the same (%d allowed)\n", len(reqs), len(reqs), allowed)

	gl := timeIt(len(reqs), func(i int) {
		if _, err := eng.Check(ctx, &reqs[i]); err != nil {
			panic(err)
		}
	})
	cb := timeIt(len(reqs), func(i int) {
		if _, err := e.Enforce(creqs[i]...); err != nil {
			panic(err)
		}
	})
	fmt.Printf("%-22s %10s %10s %10s\n", "", "p50", "p99", "checks/s")
	for _, r := range []struct {
		name string
		t    timing
	}{{"grantlog (in-process)", gl}, {"casbin (in-process)", cb}} {
		fmt.Printf("%-22s %10s %10s %10.0f\n", r.name, r.t.p50, r.t.p99, r.t.rate)
	}
	fmt.Printf("ratio (casbin / grantlog): p50 %.1fx, throughput %.1fx\n",
		float64(cb.p50)/float64(gl.p50), gl.rate/cb.rate)
	return nil
}

// casbinShape maps a dataset permission that can cover NAMESPACE:<ns>:USER:<owner>:<OBJECT>
// to (owner rule, object).
func casbinShape(res string) (own, obj string, ok bool) {
	seg := strings.Split(res, ":")
	switch {
	case len(seg) == 5 && seg[0] == "NAMESPACE" && seg[1] == "{namespace}" && seg[2] == "USER" && seg[3] == "{userId}":
		return "self", seg[4], true
	case len(seg) == 6 && seg[0] == "NAMESPACE" && seg[1] == "{namespace}" && seg[2] == "USER" && seg[3] == "*" && seg[5] == "*":
		return "any", seg[4], true
	}
	return "", "", false
}

type timing struct {
	p50, p99 time.Duration
	rate     float64
}

func timeIt(n int, op func(i int)) timing {
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		op(i)
		lat[i] = time.Since(t0)
	}
	el := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return timing{p50: lat[n/2], p99: lat[n*99/100], rate: float64(n) / el.Seconds()}
}
