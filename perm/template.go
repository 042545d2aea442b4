package perm

import (
	"errors"
	"strconv"
	"strings"
)

// MaxParamName is the longest path-parameter placeholder name accepted
// ({clientId}: 8), in bytes.
const MaxParamName = 64

// validParamName reports whether name may be a path-parameter placeholder:
// 1-64 ASCII letters and digits.
func validParamName(name string) bool {
	if name == "" || len(name) > MaxParamName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ValidParamName reports whether name may be a path parameter named in a
// required template: 1-64 ASCII letters and digits (clientId, platformId).
func ValidParamName(name string) bool { return validParamName(name) }

// ValidateEndpointTemplate validates the permission an endpoint requires:
// its resource is a tag as [CanonicalTag] accepts, except that it may also
// hold any path-parameter placeholder {name} (1-64 letters and digits, e.g.
// {clientId}, {platformId}), to be bound from the endpoint's path
// parameters at check time, as AccelByte's published catalog requires
// ADMIN:NAMESPACE:{namespace}:CLIENT:{clientId}. Granted permissions (of
// roles, clients and tokens) never may: only {namespace} and {userId} are
// theirs.
//
// It returns p with {namespace} and {userId} spelled canonically (other
// placeholders as written) and the names of the other placeholders in order
// of first appearance, each once. Conditions (constraints, windows,
// schedules) are not part of a required permission and are refused. Errors
// wrap ErrInvalidTag (a *TagError) and/or ErrInvalidAction.
func ValidateEndpointTemplate(p Permission) (Permission, []string, error) {
	res, resErr := canonicalTag(p.Resource, true)
	var actErr error
	if !p.Action.Valid() {
		actErr = actionError(p.Action)
	}
	switch {
	case resErr != nil && actErr != nil:
		return Permission{}, nil, errors.Join(resErr, actErr)
	case resErr != nil:
		return Permission{}, nil, resErr
	case actErr != nil:
		return Permission{}, nil, actErr
	}
	if p.Constraints != nil || p.NotBefore != nil || p.NotAfter != nil || p.SchedAction != 0 || p.SchedCron != "" || p.SchedRange != nil {
		return Permission{}, nil, tagErr(p.Resource, -1, "a required permission is a resource and an action only (constraints, validity windows and schedules belong to granted permissions)")
	}
	return Permission{Resource: res, Action: p.Action}, TemplateParams(res), nil
}

// TemplateParams returns the path-parameter placeholders of a resource
// template validated by ValidateEndpointTemplate (every {name} segment but
// {namespace} and {userId}), in order of first appearance, each once
// (compared case-insensitively). It returns nil when there are none.
func TemplateParams(resource string) []string {
	var out []string
	for seg := range strings.SplitSeq(resource, ":") {
		if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' ||
			strings.EqualFold(seg, PlaceholderNamespace) || strings.EqualFold(seg, PlaceholderUserID) {
			continue
		}
		name := seg[1 : len(seg)-1]
		dup := false
		for _, o := range out {
			dup = dup || strings.EqualFold(o, name)
		}
		if !dup {
			out = append(out, name)
		}
	}
	return out
}

// RespellTemplate rewrites each path-parameter placeholder of a validated
// template to the spelling of the path parameter it names in names
// (compared case-insensitively: {clientid} becomes {clientId} when the
// path says {clientId}). A placeholder naming none of names gives a
// *TagError saying which names the path has.
func RespellTemplate(resource string, names []string) (string, error) {
	parts := strings.Split(resource, ":")
	pos := 0
	for i, seg := range parts {
		if len(seg) >= 3 && seg[0] == '{' && seg[len(seg)-1] == '}' &&
			!strings.EqualFold(seg, PlaceholderNamespace) && !strings.EqualFold(seg, PlaceholderUserID) {
			name := seg[1 : len(seg)-1]
			found := false
			for _, n := range names {
				if strings.EqualFold(n, name) {
					parts[i], found = "{"+n+"}", true
					break
				}
			}
			if !found {
				have := "it has none"
				if len(names) > 0 {
					have = "it has {" + strings.Join(names, "}, {") + "}"
				}
				return "", tagErr(resource, pos, "placeholder "+strconv.Quote(seg)+at(pos)+
					" is not a path parameter of the endpoint's path ("+have+"); name one of them, or write a literal")
			}
		}
		pos += len(seg) + 1
	}
	return strings.Join(parts, ":"), nil
}

// Param is the value of one path parameter, bound into a required
// template's {Name} placeholder (see Required.ParseEndpoint).
type Param struct {
	Name, Value string
}

// lookupParam returns the value of the placeholder {name} in ps, compared
// case-insensitively.
func lookupParam(ps []Param, name string) (string, bool) {
	for i := range ps {
		if strings.EqualFold(ps[i].Name, name) {
			return ps[i].Value, true
		}
	}
	return "", false
}
