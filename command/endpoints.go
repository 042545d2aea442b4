package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/internal/storage/index"
	"github.com/grantlog/grantlog/perm"
)

// RegisterEndpoint is the input of Service.RegisterEndpoint.
type RegisterEndpoint struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	Resource string      `json:"resource"`
	Action   perm.Action `json:"action"`
}

func validIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !identByte(s[i]) {
			return false
		}
	}
	return true
}

// ValidateEndpoint validates an endpoint's registration and returns its
// required permission in canonical form. The required resource may name,
// besides {namespace} and {userId}, any path parameter of the endpoint's
// path ({clientId} in ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId} for
// /iam/v3/admin/namespaces/{namespace}/clients/{clientId}), spelled as the
// path spells it; a placeholder that is not a parameter of the path is
// refused. A path, when given, is a route (index.ParseRoute): it starts
// with '/', its parameters are whole segments; the method is an HTTP method
// name (letters), kept in upper case.
func ValidateEndpoint(in RegisterEndpoint) (perm.Permission, error) {
	p, params, err := perm.ValidateEndpointTemplate(perm.Permission{Resource: in.Resource, Action: in.Action})
	if err != nil {
		return perm.Permission{}, errorf(ErrInvalid, "invalidPermission", "%v", err)
	}
	if err := validText("invalidEndpoint", "method", in.Method, 16, false); err != nil {
		return perm.Permission{}, err
	}
	for i := 0; i < len(in.Method); i++ {
		if c := in.Method[i] | 0x20; c < 'a' || c > 'z' {
			return perm.Permission{}, errorf(ErrInvalid, "invalidEndpoint", "method %q is not an HTTP method name (GET, POST, PUT, PATCH, DELETE, ...)", in.Method)
		}
	}
	if err := validText("invalidEndpoint", "path", in.Path, 1024, false); err != nil {
		return perm.Permission{}, err
	}
	var pathParams []string
	if in.Path != "" {
		if pathParams, err = index.ParseRoute(in.Path); err != nil {
			return perm.Permission{}, errorf(ErrInvalid, "invalidEndpoint", "%v", err)
		}
	}
	if len(params) > 0 {
		if in.Path == "" {
			return perm.Permission{}, errorf(ErrInvalid, "invalidPermission",
				"resource %q names path parameters {%s}: give the endpoint's path, which must have them", p.Resource, strings.Join(params, "}, {"))
		}
		if p.Resource, err = perm.RespellTemplate(p.Resource, pathParams); err != nil {
			return perm.Permission{}, errorf(ErrInvalid, "invalidPermission", "%v", err)
		}
	}
	return p, nil
}

// RegisterEndpoint records which permission an endpoint requires (see
// ValidateEndpoint).
func (s *Service) RegisterEndpoint(ctx context.Context, m Meta, service, name string, in RegisterEndpoint) (uint64, error) {
	if !validIdent(service) || !validIdent(name) {
		return 0, errorf(ErrInvalid, "invalidEndpoint", "service and endpoint names: use 1-64 letters, digits, '_' or '-'")
	}
	if err := s.authorize(ctx, &m, auth.PermEndpoints, perm.Create|perm.Update, ""); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	p, err := ValidateEndpoint(in)
	if err != nil {
		return 0, err
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("RegisterEndpoint", service, name, in.Method, in.Path, p), func(index.View) (decision, error) {
		return decision{kind: events.KindEndpoint, aggregateID: service + "." + name, payload: events.EndpointRegistered{
			Service: service, Name: name, Method: strings.ToUpper(in.Method), Path: in.Path, Resource: p.Resource, Action: uint8(p.Action),
		}}, nil
	})
}

// DeleteEndpoint removes an endpoint from the catalog.
func (s *Service) DeleteEndpoint(ctx context.Context, m Meta, service, name string) (uint64, error) {
	if err := s.authorize(ctx, &m, auth.PermEndpoints, perm.Delete, ""); err != nil {
		return 0, err
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("DeleteEndpoint", service, name), func(v index.View) (decision, error) {
		if v.Endpoint(service, name) == nil {
			return decision{}, errorf(ErrNotFound, "endpointNotFound", "endpoint %s/%s is not in the catalog", service, name)
		}
		return decision{kind: events.KindEndpoint, aggregateID: service + "." + name, payload: events.EndpointDeleted{Service: service, Name: name}}, nil
	})
}

// MaxEndpointBatch bounds the endpoints of one RegisterEndpoints: some
// 110 KB of event, well under NATS's default 1 MB max_payload of an
// external cluster.
const MaxEndpointBatch = 500

// CatalogEndpoint is one endpoint of RegisterEndpoints.
type CatalogEndpoint struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	RegisterEndpoint
}

// RegisterEndpoints registers 1 to MaxEndpointBatch endpoints as one event
// (events.EndpointsRegisteredBatch): all or nothing, at one revision, each
// validated as RegisterEndpoint validates it, with the same authorization.
// A service and name given twice is refused. It returns the revision.
func (s *Service) RegisterEndpoints(ctx context.Context, m Meta, in []CatalogEndpoint) (uint64, error) {
	if len(in) == 0 || len(in) > MaxEndpointBatch {
		return 0, errorf(ErrInvalid, "invalidBatch", "give 1 to %d endpoints (got %d); split larger catalogs", MaxEndpointBatch, len(in))
	}
	if err := s.authorize(ctx, &m, auth.PermEndpoints, perm.Create|perm.Update, ""); err != nil {
		return 0, err
	}
	if err := validateMeta(&m); err != nil {
		return 0, err
	}
	out := make([]events.EndpointRegistered, len(in))
	seen := make(map[[2]string]int, len(in))
	for i, e := range in {
		if !validIdent(e.Service) || !validIdent(e.Name) {
			return 0, errorf(ErrInvalid, "invalidEndpoint", "endpoints[%d]: service and endpoint names: use 1-64 letters, digits, '_' or '-'", i)
		}
		k := [2]string{e.Service, e.Name}
		if j, dup := seen[k]; dup {
			return 0, errorf(ErrInvalid, "invalidEndpoint", "endpoints[%d] repeats endpoints[%d] (%s/%s)", i, j, e.Service, e.Name)
		}
		seen[k] = i
		p, err := ValidateEndpoint(e.RegisterEndpoint)
		if err != nil {
			return 0, fmt.Errorf("endpoints[%d] (%s/%s): %w", i, e.Service, e.Name, err)
		}
		out[i] = events.EndpointRegistered{Service: e.Service, Name: e.Name, Method: strings.ToUpper(e.Method), Path: e.Path,
			Resource: p.Resource, Action: uint8(p.Action)}
	}
	return s.execute(ctx, events.PlatformNamespace, &m, req("RegisterEndpoints", out), func(index.View) (decision, error) {
		return decision{kind: events.KindEndpoint, aggregateID: "_batch", payload: events.EndpointsRegisteredBatch{Endpoints: out}}, nil
	})
}
