package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/events"
	"github.com/grantlog/grantlog/internal/auth"
	"github.com/grantlog/grantlog/perm"
	"github.com/grantlog/grantlog/query"
)

// AccelByte IAM's own admin role, user-role and IAM client operations
// (the v3 and v4 operations of AccelByte's published IAM spec that
// manage roles, their permissions, members, managers and admin status,
// users' roles and IAM clients), at AccelByte's paths, with AccelByte's
// request and answer JSON and success statuses. They are entries of the
// one operation table: each runs the same command.Service commands and
// query.Engine reads as Grantlog's own /v1 operations.
//
// Authorization. Each operation first requires exactly the permission its
// x-security names in AccelByte's spec (ADMIN:ROLE [UPDATE],
// ADMIN:NAMESPACE:{namespace}:ROLE:USER:{userId} [UPDATE], ...), with
// {namespace} and {userId} bound from the request's path; then the
// Grantlog command or read applies its own authorization as always (so an
// operation may need more than AccelByte asks: assigning a role needs
// ADMIN:NAMESPACE:{namespace}:ROLE:USER:* [UPDATE] and every permission
// the role gives). The answer of a change (a role, a user's roles, a
// client) is read back by the service: the caller was allowed to make the
// change and AccelByte answers it with the changed object, even to a
// caller who holds only the change's permission.
//
// What Grantlog cannot honour, present and empty in every answer:
//   - users' displayName and email (Grantlog stores user ids only): "";
//   - role managers: Grantlog decides who may assign a role by permissions
//     (ADMIN:NAMESPACE:{namespace}:ROLE:USER:* [UPDATE] and holding what
//     the role gives), not by a list of managers. managers is always [];
//     adding managers is refused (501 managersNotSupported), removing or
//     creating a role with none is accepted;
//   - deletable (roles and clients are always deletable): accepted, ignored;
//   - IAM clients' OAuth settings (audiences, baseUri, clientPlatform,
//     description, oauthClientType, redirectUri, scopes, modulePermissions,
//     token lifetimes, skipLoginQueue, twoFactorEnabled): accepted and not
//     stored; answers carry "" or [] or false, oauthClientType
//     "Confidential". Grantlog makes a client's id and secret: a request's
//     clientId is ignored, a non-empty secret is refused, and the create
//     answer carries clientId and clientSecret (shown once);
//   - paging "first" and "last" links are ""; "previous" is "" (these
//     lists page forward: a "before" cursor is refused).
//
// Permission schedules (schedAction, schedCron, schedRange) are
// Grantlog's own and honoured. Errors are Grantlog's JSON errors
// ({errorCode, errorMessage}, errorCode a string).
func accelbyteOps() []*Op {
	var ops []*Op
	ops = append(ops, accelbyteRoleOps()...)
	ops = append(ops, accelbyteUserOps()...)
	ops = append(ops, accelbyteClientOps()...)
	return ops
}

// CompatAccelByte is the Compat value of AccelByte IAM's operations.
const CompatAccelByte = "accelbyte"

const noContent = http.StatusNoContent

// NoContent is the answer of an operation whose success status is 204 No
// Content: the HTTP edge writes no body.
type NoContent struct{}

// abSecurity is an AccelByte x-security requirement.
type abSecurity struct {
	resource string
	action   perm.Action
}

// parseABSecurity reads "ADMIN:ROLE [UPDATE]".
func parseABSecurity(s string) abSecurity {
	res, act, ok := strings.Cut(s, " [")
	act, ok2 := strings.CutSuffix(act, "]")
	if !ok || !ok2 {
		panic("api: bad AccelByte x-security " + s)
	}
	a := map[string]perm.Action{"CREATE": perm.Create, "READ": perm.Read, "UPDATE": perm.Update, "DELETE": perm.Delete}[act]
	if a == 0 {
		panic("api: bad AccelByte x-security action " + s)
	}
	return abSecurity{resource: res, action: a}
}

// abBound is a request whose path binds {namespace} and {userId}.
type abBound interface{ abBinding() (ns, user string) }

func (u UserRef) abBinding() (ns, user string)      { return u.Namespace, u.UserID }
func (n NamespaceRef) abBinding() (ns, user string) { return n.Namespace, "" }
func (c ClientRef) abBinding() (ns, user string)    { return c.Namespace, "" }

// require refuses the call unless the caller holds s, with {namespace}
// and {userId} bound from the request's path.
func (s abSecurity) require(ctx context.Context, d *Deps, c *Call, in any) error {
	var ns, user string
	if b, ok := in.(abBound); ok {
		ns, user = b.abBinding()
	}
	res := s.resource
	if strings.Contains(res, "{namespace}") && !events.ValidNamespace(ns) {
		return Bad("invalidNamespace", "namespace %q is not valid: use 1-64 letters, digits, '-' or '_', starting with a letter or digit", ns)
	}
	if strings.Contains(res, "{userId}") {
		if !events.ValidID(user) {
			return Bad("invalidUserId", "userId %q is not valid: use 1-128 letters, digits, '-' or '_'", user)
		}
		res = strings.ReplaceAll(res, "{userId}", user)
	}
	if d.Query == nil {
		return unavailable("reads", "queryUnavailable")
	}
	return auth.NewAuthorizer(d.Query).Authorize(ctx, c.Caller, perm.Permission{Resource: res, Action: s.action}, ns)
}

// ab declares AccelByte operation id at method and path, guarded by the
// x-security permission security.
func ab[Req, Rep any](kind Kind, id, method, path string, status int, security, summary string,
	run func(ctx context.Context, d *Deps, c *Call, in *Req) (Rep, error),
) *Op {
	sec := parseABSecurity(security)
	return def(kind, "accelbyte."+id, method, path, status,
		"AccelByte "+id+": "+summary+" (requires "+security+")",
		func(ctx context.Context, d *Deps, c *Call, in *Req) (Rep, error) {
			if err := sec.require(ctx, d, c, in); err != nil {
				var zero Rep
				return zero, err
			}
			return run(ctx, d, c, in)
		}).compat(CompatAccelByte)
}

// asService is the read options of reading back what a change made.
func asService(rev uint64) query.ReadOptions {
	return query.ReadOptions{Caller: events.Caller{Root: true}, AtLeastRevision: rev}
}

// ABPermission is AccelByte's permission (accountcommon.PermissionV3).
type ABPermission struct {
	Resource    string   `json:"resource"`
	Action      int      `json:"action"`
	SchedAction int      `json:"schedAction"`
	SchedCron   string   `json:"schedCron"`
	SchedRange  []string `json:"schedRange"`
}

// ABPermissions is AccelByte's accountcommon.PermissionsV3.
type ABPermissions struct {
	Permissions []ABPermission `json:"permissions"`
}

// Validate refuses a request without permissions.
func (p *ABPermissions) Validate() error {
	if p.Permissions == nil {
		return Bad("invalidPermission", `request must have "permissions": [{"resource": "...", "action": 1-15}]`)
	}
	return nil
}

func toPerms(ps []ABPermission) ([]perm.Permission, error) {
	out := make([]perm.Permission, 0, len(ps))
	for i, p := range ps {
		if p.Action < 0 || p.Action > int(perm.CRUD) {
			return nil, Bad("invalidPermission", "permissions[%d].action %d is outside 1..15 (Create=1, Read=2, Update=4, Delete=8)", i, p.Action)
		}
		if p.SchedAction < 0 || p.SchedAction > int(perm.CRUD) {
			return nil, Bad("invalidPermission", "permissions[%d].schedAction %d is outside 0..15", i, p.SchedAction)
		}
		q := perm.Permission{Resource: p.Resource, Action: perm.Action(p.Action), SchedAction: perm.Action(p.SchedAction), SchedCron: p.SchedCron}
		for j, s := range p.SchedRange {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, Bad("invalidPermission", "permissions[%d].schedRange[%d] %q is not an RFC 3339 time (2026-01-02T15:04:05Z)", i, j, s)
			}
			q.SchedRange = append(q.SchedRange, t)
		}
		out = append(out, q)
	}
	return out, nil
}

func fromPerms(ps []perm.Permission) []ABPermission {
	out := make([]ABPermission, 0, len(ps))
	for _, p := range ps {
		q := ABPermission{Resource: p.Resource, Action: int(p.Action), SchedAction: int(p.SchedAction), SchedCron: p.SchedCron, SchedRange: []string{}}
		for _, t := range p.SchedRange {
			q.SchedRange = append(q.SchedRange, t.UTC().Format(time.RFC3339))
		}
		out = append(out, q)
	}
	return out
}

// ABPaging is AccelByte's accountcommon.PaginationV3: links to pages ("" for none).
type ABPaging struct {
	First    string `json:"first"`
	Last     string `json:"last"`
	Next     string `json:"next"`
	Previous string `json:"previous"`
}

// pageLink is path with query q ("" when q is nil: no such page).
func pageLink(path string, q url.Values) string {
	if q == nil {
		return ""
	}
	return path + "?" + q.Encode()
}

// ABUser is AccelByte's role member or manager (accountcommon.RoleMemberV3).
type ABUser struct {
	DisplayName string `json:"displayName"`
	Namespace   string `json:"namespace"`
	UserID      string `json:"userId"`
}

// ABUsers is a page of members or managers.
type ABUsers struct {
	Data   []ABUser `json:"data"`
	Paging ABPaging `json:"paging"`
}

// optBool reads an optional boolean query parameter.
func optBool(name, s string) (*bool, error) {
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, Bad("invalidParameter", "%s must be true or false", name)
	}
	return &b, nil
}

func noBefore(before string) error {
	if before != "" {
		return Bad("invalidParameter", "before is not supported: these lists page forward; follow paging.next")
	}
	return nil
}

// ABCursor is AccelByte's forward cursor paging (after, before, limit).
type ABCursor struct {
	After  string `json:"after,omitempty" query:"after"`
	Before string `json:"before,omitempty" query:"before"`
	Limit  *int   `json:"limit,omitempty" query:"limit"`
}

// Validate refuses before and a limit out of range.
func (p *ABCursor) Validate() error {
	if err := noBefore(p.Before); err != nil {
		return err
	}
	return validLimit(p.Limit)
}

func (p *ABCursor) next(path, cursor string) string {
	if cursor == "" {
		return ""
	}
	q := url.Values{"after": {cursor}}
	if p.Limit != nil {
		q.Set("limit", strconv.Itoa(*p.Limit))
	}
	return pageLink(path, q)
}

// ListBody reports whether requests of type t (a struct) have a body that
// is not a JSON object but the value of one field (a list: AccelByte's
// list of role ids, of resources), which *t's UnmarshalJSON decodes, and
// returns that field.
func ListBody(t reflect.Type) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct || !reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return reflect.StructField{}, false
	}
	var body []reflect.StructField
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous || !f.IsExported() || f.Tag.Get("path") != "" || f.Tag.Get("query") != "" {
			continue
		}
		body = append(body, f)
	}
	if len(body) != 1 {
		return reflect.StructField{}, false
	}
	return body[0], true
}

// decodeBody decodes one JSON value of an AccelByte request whose body is
// not an object (a list of role ids, of resources).
func decodeBody(data []byte, v any) error {
	if err := Decode(data, v, MaxRequestBytes); err != nil {
		return fmt.Errorf("%s", err.Error())
	}
	return nil
}

// pathAction reads the {action} of a path; a value that is no integer is
// -1, which toPerms refuses.
func pathAction(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// atomically stores the changes of one AccelByte request that makes
// several (a list of members, a user's roles, a bulk client update) as one
// transaction (command.Service.Transaction): all of them or none, at the
// revision it returns (0 when there is nothing to do). desc is the request,
// which an Idempotency-Key is bound to.
func atomically(ctx context.Context, d *Deps, c *Call, desc any, steps []command.Step) (uint64, error) {
	if len(steps) == 0 {
		return 0, nil
	}
	return d.Commands.Transaction(ctx, c.Meta(""), desc, steps)
}

func assignStep(ns, userID, roleID string, nss []string, opts ...command.AssignOptions) command.Step {
	return func(ctx context.Context, s *command.Service, m command.Meta) error {
		_, err := s.AssignRole(ctx, m, ns, userID, roleID, nss, opts...)
		return err
	}
}

// keepWindow is the assignment window of old (nil: unbounded): changing
// an assignment's namespaces through AccelByte's API keeps its window
// (AccelByte's calls have none to give).
func keepWindow(old *query.UserRole) command.AssignOptions {
	if old == nil {
		return command.AssignOptions{}
	}
	return command.AssignOptions{NotBefore: old.NotBefore, NotAfter: old.NotAfter}
}

func unassignStep(ns, userID, roleID string) command.Step {
	return func(ctx context.Context, s *command.Service, m command.Meta) error {
		_, err := s.UnassignRole(ctx, m, ns, userID, roleID)
		return err
	}
}
