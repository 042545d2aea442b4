package arch

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Module is the module path of Grantlog.
const Module = "github.com/grantlog/grantlog"

// Tier is a package's place in the architecture.
type Tier int

// Tiers, lowest first. Support is beside the tiers: see the package doc.
const (
	Unclassified Tier = iota - 1
	Core              // tier 0: perm, events
	Storage           // tier 1: internal/storage/..., internal/catalogs
	Domain            // tier 2: command, query, projector, audit, internal/auth
	Edge              // tier 3: internal/edge/...
	Top               // tier 4: internal/server, client, cmd/..., examples/...
	Support           // tests and the load tool only
)

func (t Tier) String() string {
	switch t {
	case Core:
		return "tier 0 (core)"
	case Storage:
		return "tier 1 (storage)"
	case Domain:
		return "tier 2 (domain)"
	case Edge:
		return "tier 3 (edge)"
	case Top:
		return "tier 4 (server, client, cmd, examples)"
	case Support:
		return "support"
	}
	return "unclassified"
}

// tiers maps a module-relative package path, or a path prefix ending in
// "/", to its tier. The longest match wins.
var tiers = map[string]Tier{
	"perm":   Core,
	"events": Core,

	"internal/storage/": Storage,
	"internal/catalogs": Storage,
	"internal/metrics":  Storage,

	"command":       Domain,
	"query":         Domain,
	"projector":     Domain,
	"audit":         Domain,
	"internal/auth": Domain,

	"internal/edge/":        Edge,
	"internal/edge/console": Edge, // the admin console's embedded page (standard library only)

	"internal/server": Top,
	"internal/apply":  Top,
	"client":          Top,
	"cmd/":            Top,
	"examples/":       Top,

	"internal/testutil": Support,
	"internal/refmodel": Support,
	"internal/dataset":  Support,
	"internal/arch":     Support,
	"internal/readme":   Support,
	"internal/soak":     Support,
	"deploy":            Support, // tests only: deploy/deploy_test.go
}

// coreThirdParty are the only modules outside the standard library that
// tier 0 may import (what perm and events already used when the tiers
// were written down).
var coreThirdParty = []string{"github.com/goccy/go-json", "github.com/robfig/cron/v3"}

// loadTool may import support packages: it generates data sets.
const loadTool = "cmd/grantbench"

// Classify returns the tier of the module package path (full import
// path); Unclassified for a package no rule names, or outside the module.
func Classify(path string) Tier {
	rel, ok := relative(path)
	if !ok {
		return Unclassified
	}
	best, tier := -1, Unclassified
	for k, t := range tiers {
		match := rel == k || (strings.HasSuffix(k, "/") && strings.HasPrefix(rel, k))
		if match && len(k) > best {
			best, tier = len(k), t
		}
	}
	return tier
}

// relative returns path relative to the module; ok is false for a path
// outside it.
func relative(path string) (string, bool) {
	if path == Module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, Module+"/")
	return rel, ok
}

// Violations returns, sorted, every broken rule of the import graph
// imports (package path -> the paths its production files import; paths
// outside the module are ignored, except by tier 0): an unclassified
// module package, an import of a higher tier, anything of ours or a
// third-party module not in coreThirdParty imported by tier 0, command
// and query importing each other, a support package imported by
// production code other than the load tool, and examples/ imported from
// outside examples/.
func Violations(imports map[string][]string) []string {
	var out []string
	for from, deps := range imports {
		if _, ok := relative(from); !ok {
			continue
		}
		ft := Classify(from)
		if ft == Unclassified {
			out = append(out, fmt.Sprintf("%s has no tier: add it to internal/arch (tiers)", from))
			continue
		}
		for _, to := range deps {
			if v := violation(from, ft, to); v != "" {
				out = append(out, v)
			}
		}
	}
	sort.Strings(out)
	return out
}

func violation(from string, ft Tier, to string) string {
	rel, ok := relative(to)
	if !ok {
		if ft == Core && !stdlib(to) && !slices.Contains(coreThirdParty, to) {
			return fmt.Sprintf("%s (%v) imports %s: tier 0 uses the standard library (and %s) only",
				from, ft, to, strings.Join(coreThirdParty, ", "))
		}
		return ""
	}
	fr, _ := relative(from)
	tt := Classify(to)
	switch {
	case tt == Unclassified:
		return fmt.Sprintf("%s imports %s, which has no tier", from, to)
	case ft == Core:
		return fmt.Sprintf("%s (%v) imports %s: tier 0 depends on nothing of ours", from, ft, to)
	case isPkg(fr, "command") && isPkg(rel, "query"), isPkg(fr, "query") && isPkg(rel, "command"):
		return fmt.Sprintf("%s imports %s: command and query never import each other", from, to)
	case tt == Support:
		if ft == Support || fr == loadTool {
			return ""
		}
		return fmt.Sprintf("%s imports %s: support packages are for tests and %s only", from, to, loadTool)
	case isPkg(rel, "examples") && !isPkg(fr, "examples"):
		return fmt.Sprintf("%s imports %s: production code never imports examples/", from, to)
	case ft == Support:
		return "" // test harnesses drive every tier
	case tt > ft:
		return fmt.Sprintf("%s (%v) imports %s (%v): an import of a higher tier", from, ft, to, tt)
	}
	return ""
}

// stdlib reports whether path is a standard library package: its first
// element has no dot.
func stdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// isPkg reports whether rel is pkg or a package under it.
func isPkg(rel, pkg string) bool { return rel == pkg || strings.HasPrefix(rel, pkg+"/") }
