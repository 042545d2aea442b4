package command

import (
	"context"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

func invalidNamespace(field, ns string) error {
	return errorf(ErrInvalid, "invalidNamespace",
		"%s %q is not valid: use 1-64 letters, digits, '-' or '_', starting with a letter or digit", field, ns)
}

// CreateNamespace is the input of Service.CreateNamespace.
type CreateNamespace struct {
	Namespace string `json:"namespace"`
	// Parent is the studio namespace whose grants cover this one.
	Parent string `json:"parent,omitempty"`
	// DefaultRoles are role ids every user of the namespace holds with no
	// assignment of their own. Nil means the default "User" role (when it
	// exists); an empty list means none.
	DefaultRoles *[]string `json:"defaultRoles,omitempty"`
}

// DefaultUserRole names the role that is the default role of every
// explicitly created namespace unless told otherwise.
const DefaultUserRole = "User"

// CreateNamespace creates a namespace explicitly with its parent studio and
// default roles. It needs ADMIN:NAMESPACE Create; for a namespace that
// already exists implicitly (it has events, or something names it: see
// index.View.NamespaceReferenced) also
// ADMIN:NAMESPACE:{namespace}:NAMESPACE Update there, and for a parent the
// same in the parent.
func (s *Service) CreateNamespace(ctx context.Context, m Meta, in CreateNamespace) (events.NamespaceCreated, uint64, error) {
	if !events.ValidNamespace(in.Namespace) {
		return events.NamespaceCreated{}, 0, invalidNamespace("namespace", in.Namespace)
	}
	if in.Parent != "" && (!events.ValidNamespace(in.Parent) || in.Parent == in.Namespace) {
		return events.NamespaceCreated{}, 0, invalidNamespace("parent", in.Parent)
	}
	if err := s.authorize(ctx, &m, auth.PermNamespaces, perm.Create, in.Namespace); err != nil {
		return events.NamespaceCreated{}, 0, err
	}
	if err := validateMeta(&m); err != nil {
		return events.NamespaceCreated{}, 0, err
	}
	var ev events.NamespaceCreated
	rq := req("CreateNamespace", in)
	var stored events.Payload
	rq.replay = &stored
	rev, err := s.execute(ctx, in.Namespace, &m, rq, func(v index.View) (decision, error) {
		if info, ok := v.Namespace(in.Namespace); ok && info.Explicit {
			return decision{}, errorf(ErrConflict, "namespaceExists", "namespace %s already exists", in.Namespace)
		}
		// Events of its own, or named by anything else: an assignment's
		// assignedNamespaces, a parent, a literal namespace in a permission.
		existed := v.NamespaceReferenced(in.Namespace)
		ev = events.NamespaceCreated{Namespace: in.Namespace, Parent: in.Parent, DefaultRoles: []string{}}
		var grants []roleGrant
		if in.DefaultRoles == nil {
			if r := v.RoleByName(DefaultUserRole); r != nil {
				ev.DefaultRoles = []string{r.ID}
			}
		} else {
			for _, id := range *in.DefaultRoles {
				r := v.Role(id)
				if r == nil {
					return decision{}, roleNotFound(id)
				}
				ev.DefaultRoles = append(ev.DefaultRoles, id)
				grants = append(grants, grantOf(r))
			}
		}
		return decision{kind: events.KindNamespace, aggregateID: in.Namespace, payload: ev, check: func() error {
			// A namespace that already exists implicitly (it has events:
			// assignments, clients, tokens; or others name it) has owners:
			// making it explicit sets its parent and default roles, which
			// needs rights in it, not only ADMIN:NAMESPACE Create.
			if existed {
				if err := s.authorize(ctx, &m, auth.PermNamespace(in.Namespace), perm.Update, in.Namespace); err != nil {
					return err
				}
			}
			// A parent studio's grants cover the namespace: attaching it
			// to a studio needs rights in the studio.
			if in.Parent != "" {
				if err := s.authorize(ctx, &m, auth.PermNamespace(in.Parent), perm.Update, in.Parent); err != nil {
					return err
				}
			}
			// Default roles apply to every user of the namespace.
			for _, g := range grants {
				if err := s.holds(ctx, &m, in.Namespace, g.perms, unbound, "default role "+g.name); err != nil {
					return err
				}
			}
			return nil
		}}, nil
	})
	if p, ok := stored.(events.NamespaceCreated); ok {
		ev = p // a retry: the namespace as the first attempt created it
	}
	return ev, rev, err
}

// DeleteNamespace deletes a namespace: it ends its assignments, clients and
// tokens.
func (s *Service) DeleteNamespace(ctx context.Context, m Meta, ns string) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	if err := s.authorize(ctx, &m, auth.PermNamespace(ns), perm.Delete, ns); err != nil {
		return 0, err
	}
	return s.execute(ctx, ns, &m, req("DeleteNamespace"), func(v index.View) (decision, error) {
		if _, ok := v.Namespace(ns); !ok {
			return decision{}, errorf(ErrNotFound, "namespaceNotFound", "namespace %s does not exist", ns)
		}
		return decision{kind: events.KindNamespace, aggregateID: ns, payload: events.NamespaceDeleted{Namespace: ns}}, nil
	})
}
