package arch

import (
	"fmt"
	"go/types"
	"sort"
	"strings"
)

// PublicPackages are the module-relative paths of the packages other
// modules may import: their exported API must not expose an internal type.
var PublicPackages = []string{"perm", "events", "command", "query", "projector", "audit", "client"}

// IsInternal reports whether path is an internal package of the module.
func IsInternal(path string) bool {
	rel, ok := relative(path)
	return ok && (rel == "internal" || strings.HasPrefix(rel, "internal/"))
}

// Exposed returns, sorted, where the exported API of pkg names a type of a
// package for which internal returns true: in the type of an exported
// constant, variable or function, in an exported type's definition, in
// its exported struct fields (embedded ones included), in its exported
// methods and interface methods, and in unexported types of pkg reached
// from those. Type aliases are seen through: an alias of an internal type
// exposes it. Types of other packages are not entered (each public package
// is checked on its own).
func Exposed(pkg *types.Package, internal func(path string) bool) []string {
	w := &walker{pkg: pkg, internal: internal, seen: map[*types.Named]bool{}, found: map[string]bool{}}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		where := pkg.Name() + "." + name
		switch obj := obj.(type) {
		case *types.TypeName:
			if obj.IsAlias() {
				w.typ(where, obj.Type())
				continue
			}
			if n, ok := obj.Type().(*types.Named); ok {
				w.named(where, n)
			}
		default: // *types.Func, *types.Var, *types.Const
			w.typ(where, obj.Type())
		}
	}
	out := make([]string, 0, len(w.found))
	for s := range w.found {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

type walker struct {
	pkg      *types.Package
	internal func(string) bool
	seen     map[*types.Named]bool
	found    map[string]bool
}

// named walks the definition and exported methods of a type of pkg.
func (w *walker) named(where string, n *types.Named) {
	if w.seen[n] {
		return
	}
	w.seen[n] = true
	if tp := n.TypeParams(); tp != nil {
		for i := range tp.Len() {
			w.typ(where, tp.At(i).Constraint())
		}
	}
	w.underlying(where, n.Underlying())
	for i := range n.NumMethods() {
		m := n.Method(i)
		if m.Exported() {
			w.typ(where+"."+m.Name(), m.Type())
		}
	}
}

// underlying walks a type literal: the visible parts of structs and
// interfaces, everything of the others.
func (w *walker) underlying(where string, t types.Type) {
	switch t := t.(type) {
	case *types.Struct:
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() {
				w.typ(where+"."+f.Name(), f.Type())
			}
		}
	case *types.Interface:
		for i := range t.NumExplicitMethods() {
			if m := t.ExplicitMethod(i); m.Exported() {
				w.typ(where+"."+m.Name(), m.Type())
			}
		}
		for i := range t.NumEmbeddeds() {
			w.typ(where, t.EmbeddedType(i))
		}
	default:
		w.typ(where, t)
	}
}

func (w *walker) typ(where string, t types.Type) {
	switch t := t.(type) {
	case *types.Alias:
		w.typ(where, types.Unalias(t))
	case *types.Named:
		obj := t.Obj()
		if obj.Pkg() != nil && w.internal(obj.Pkg().Path()) {
			w.found[fmt.Sprintf("%s exposes %s.%s", where, obj.Pkg().Path(), obj.Name())] = true
		}
		if args := t.TypeArgs(); args != nil {
			for i := range args.Len() {
				w.typ(where, args.At(i))
			}
		}
		if obj.Pkg() == w.pkg && !obj.Exported() {
			w.named(where+" ("+obj.Name()+")", t.Origin())
		}
	case *types.Pointer:
		w.typ(where, t.Elem())
	case *types.Slice:
		w.typ(where, t.Elem())
	case *types.Array:
		w.typ(where, t.Elem())
	case *types.Chan:
		w.typ(where, t.Elem())
	case *types.Map:
		w.typ(where, t.Key())
		w.typ(where, t.Elem())
	case *types.Signature:
		for _, tup := range []*types.Tuple{t.Params(), t.Results()} {
			for i := range tup.Len() {
				w.typ(where, tup.At(i).Type())
			}
		}
	case *types.Struct, *types.Interface:
		w.underlying(where, t)
	case *types.TypeParam:
		w.typ(where, t.Constraint())
	case *types.Union:
		for i := range t.Len() {
			w.typ(where, t.Term(i).Type())
		}
	}
}
