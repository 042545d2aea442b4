package command

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// CreateClient is the input of Service.CreateClient.
type CreateClient struct {
	ClientName  string            `json:"clientName"`
	Permissions []perm.Permission `json:"permissions"`
	Roles       []string          `json:"roles,omitempty"`
}

// ClientCreated is what CreateClient returns: the secret is shown once.
type ClientCreated struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Revision     uint64 `json:"revision"`
}

func validateName(field, name string, maxLen int) error {
	if name == "" || len(name) > maxLen {
		return errorf(ErrInvalid, "invalidName", "%s must be 1-%d bytes", field, maxLen)
	}
	return validText("invalidName", field, name, maxLen, false)
}

// clientRoles copies the grants of role ids out of the view.
func clientRoles(v index.View, roles []string) ([]roleGrant, error) {
	out := make([]roleGrant, 0, len(roles))
	for _, rid := range roles {
		r := v.Role(rid)
		if r == nil {
			return nil, roleNotFound(rid)
		}
		out = append(out, grantOf(r))
	}
	return out, nil
}

// clientGrantsCheck requires the caller to hold what a client of ns with
// id would get from perms and roles.
func (s *Service) clientGrantsCheck(ctx context.Context, m *Meta, ns, id string, perms []perm.Permission, roles []roleGrant) error {
	if err := s.holds(ctx, m, ns, perms, perm.RequiredBinding{Namespace: ns, UserID: id}, "client "+id); err != nil {
		return err
	}
	for _, r := range roles {
		if err := s.holdsRole(ctx, m, r, []string{ns}, id); err != nil {
			return err
		}
	}
	return nil
}

// CreateClient creates an IAM client in namespace ns. Its secret is in the
// answer only; the event and the index keep a hash.
func (s *Service) CreateClient(ctx context.Context, m Meta, ns string, in CreateClient) (ClientCreated, error) {
	if !events.ValidNamespace(ns) {
		return ClientCreated{}, invalidNamespace("namespace", ns)
	}
	if err := s.authorize(ctx, &m, auth.PermClient(ns), perm.Create, ns); err != nil {
		return ClientCreated{}, err
	}
	if err := validateMeta(&m); err != nil {
		return ClientCreated{}, err
	}
	if err := validateName("clientName", in.ClientName, 128); err != nil {
		return ClientCreated{}, err
	}
	eps, err := validatePermissions(in.Permissions, false)
	if err != nil {
		return ClientCreated{}, err
	}
	id := uuid.NewString()
	secret, hash := s.credentialSecret(ClientSecretPrefix, &m, id)
	roles := slices.Compact(slices.Sorted(slices.Values(in.Roles)))
	rq := req("CreateClient", in.ClientName, eps, roles)
	var stored events.Payload
	rq.replay = &stored
	rev, err := s.execute(ctx, ns, &m, rq, func(v index.View) (decision, error) {
		grants, err := clientRoles(v, roles)
		if err != nil {
			return decision{}, err
		}
		return decision{kind: events.KindClient, aggregateID: id, payload: events.ClientCreated{
			ClientID: id, ClientName: in.ClientName, SecretHash: hash, Permissions: eps, Roles: roles,
		}, check: func() error {
			return s.clientGrantsCheck(ctx, &m, ns, id, index.FromEvent(eps), grants)
		}}, nil
	})
	if err != nil {
		return ClientCreated{}, err
	}
	if p, ok := stored.(events.ClientCreated); ok {
		// A retry: the client the first attempt created (the caller's
		// right to create clients was checked above, as it is now).
		id = p.ClientID
		secret, hash = s.credentialSecret(ClientSecretPrefix, &m, id)
		if secret, err = replayedSecret("client", id, secret, hash, p.SecretHash); err != nil {
			return ClientCreated{}, err
		}
	}
	return ClientCreated{ClientID: id, ClientSecret: secret, Revision: rev}, nil
}

// UpdateClient is the input of Service.UpdateClient; nil fields stay.
type UpdateClient struct {
	ClientName *string   `json:"clientName"`
	Roles      *[]string `json:"roles"`
}

func clientNotFound(ns, id string) error {
	return errorf(ErrNotFound, "clientNotFound", "namespace %s has no client %q", ns, id)
}

// UpdateClient renames a client or replaces its roles.
func (s *Service) UpdateClient(ctx context.Context, m Meta, ns, id string, in UpdateClient) (uint64, error) {
	if in.ClientName == nil && in.Roles == nil {
		return 0, errorf(ErrInvalid, "emptyUpdate", "nothing to update: give clientName or roles")
	}
	if in.ClientName != nil {
		if err := validateName("clientName", *in.ClientName, 128); err != nil {
			return 0, err
		}
	}
	return s.changeClient(ctx, m, ns, id, req("UpdateClient", id, in), func(v index.View, c *index.Client, ev *events.ClientUpdated) (func() error, error) {
		if in.ClientName != nil {
			ev.ClientName = *in.ClientName
		}
		if in.Roles == nil {
			return nil, nil
		}
		ev.Roles = slices.Compact(slices.Sorted(slices.Values(*in.Roles)))
		grants, err := clientRoles(v, ev.Roles)
		if err != nil {
			return nil, err
		}
		return func() error { return s.clientGrantsCheck(ctx, &m, ns, id, nil, grants) }, nil
	})
}

// ChangeClientPermissions adds, removes or replaces a client's permissions.
func (s *Service) ChangeClientPermissions(ctx context.Context, m Meta, ns, id string, op PermissionOp, ps []perm.Permission) (uint64, error) {
	eps, err := validatePermissions(ps, op == RemovePermissions)
	if err != nil {
		return 0, err
	}
	if op != ReplacePermissions && len(eps) == 0 {
		return 0, errorf(ErrInvalid, "invalidPermission", "permissions must list at least one permission")
	}
	return s.changeClient(ctx, m, ns, id, req("ChangeClientPermissions", id, op, eps), func(_ index.View, c *index.Client, ev *events.ClientUpdated) (func() error, error) {
		var next []perm.Permission
		switch op {
		case AddPermissions:
			next = index.AddPermissions(c.Permissions, index.FromEvent(eps))
		case RemovePermissions:
			next = index.RemovePermissions(c.Permissions, index.FromEvent(eps))
		default:
			next = index.FromEvent(eps)
		}
		ev.Permissions = index.ToEvent(next)
		if op == RemovePermissions {
			return nil, nil
		}
		added := index.FromEvent(eps)
		return func() error {
			return s.holds(ctx, &m, ns, added, perm.RequiredBinding{Namespace: ns, UserID: id}, "client "+id)
		}, nil
	})
}

func (s *Service) changeClient(ctx context.Context, m Meta, ns, id string, rq request,
	change func(v index.View, c *index.Client, ev *events.ClientUpdated) (func() error, error),
) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	if err := s.authorize(ctx, &m, auth.PermClient(ns), perm.Update, ns); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	return s.execute(ctx, ns, &m, rq, func(v index.View) (decision, error) {
		c := v.Client(id)
		if c == nil || c.Namespace != ns {
			return decision{}, clientNotFound(ns, id)
		}
		ev := events.ClientUpdated{ClientID: c.ID, ClientName: c.Name, Permissions: index.ToEvent(c.Permissions), Roles: c.Roles, Before: clientState(c)}
		check, err := change(v, c, &ev)
		if err != nil {
			return decision{}, err
		}
		return decision{kind: events.KindClient, aggregateID: id, payload: ev, check: check}, nil
	})
}

// DeleteClient deletes a client.
func (s *Service) DeleteClient(ctx context.Context, m Meta, ns, id string) (uint64, error) {
	if !events.ValidNamespace(ns) {
		return 0, invalidNamespace("namespace", ns)
	}
	if err := s.authorize(ctx, &m, auth.PermClient(ns), perm.Delete, ns); err != nil {
		return 0, err
	}
	return s.execute(ctx, ns, &m, req("DeleteClient", id), func(v index.View) (decision, error) {
		c := v.Client(id)
		if c == nil || c.Namespace != ns {
			return decision{}, clientNotFound(ns, id)
		}
		return decision{kind: events.KindClient, aggregateID: id, payload: events.ClientDeleted{ClientID: id, Before: clientState(c)}}, nil
	})
}
