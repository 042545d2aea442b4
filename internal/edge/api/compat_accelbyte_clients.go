package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grantlog/grantlog/command"
	"github.com/grantlog/grantlog/query"
)

// ABClient is AccelByte's clientmodel.ClientV3Response. Grantlog stores a
// client's id, name, namespace, permissions and roles; the OAuth settings
// are "" / [] / false, oauthClientType "Confidential".
type ABClient struct {
	Audiences         []string       `json:"audiences"`
	BaseURI           string         `json:"baseUri"`
	ClientID          string         `json:"clientId"`
	ClientName        string         `json:"clientName"`
	ClientPermissions []ABPermission `json:"clientPermissions"`
	ClientPlatform    string         `json:"clientPlatform"`
	CreatedAt         string         `json:"createdAt"`
	Description       string         `json:"description"`
	ModifiedAt        string         `json:"modifiedAt"`
	Namespace         string         `json:"namespace"`
	OauthClientType   string         `json:"oauthClientType"`
	RedirectURI       string         `json:"redirectUri"`
	Roles             []string       `json:"roles"`
	Scopes            []string       `json:"scopes"`
	SkipLoginQueue    bool           `json:"skipLoginQueue"`
	TwoFactorEnabled  bool           `json:"twoFactorEnabled"`
	// ClientSecret is the secret Grantlog made, in the create answer only
	// (shown once; an addition to AccelByte's model).
	ClientSecret string `json:"clientSecret,omitempty"`
}

// ABClients is AccelByte's clientmodel.ClientsV3Response.
type ABClients struct {
	Data   []ABClient `json:"data"`
	Paging ABPaging   `json:"paging"`
}

func abClient(c query.Client) ABClient {
	return ABClient{
		Audiences: []string{}, ClientID: c.ClientID, ClientName: c.ClientName, ClientPermissions: fromPerms(c.Permissions),
		CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339), ModifiedAt: c.UpdatedAt.UTC().Format(time.RFC3339),
		Namespace: c.Namespace, OauthClientType: "Confidential", Roles: append([]string{}, c.Roles...), Scopes: []string{},
	}
}

// ABClientSettings are the fields of AccelByte's client requests Grantlog
// accepts and does not store.
type ABClientSettings struct {
	Audiences                           []string          `json:"audiences,omitempty"`
	BaseURI                             string            `json:"baseUri,omitempty"`
	ClientPlatform                      string            `json:"clientPlatform,omitempty"`
	Deletable                           *bool             `json:"deletable,omitempty"`
	Description                         string            `json:"description,omitempty"`
	ModulePermissions                   []json.RawMessage `json:"modulePermissions,omitempty"`
	OauthAccessTokenExpiration          int               `json:"oauthAccessTokenExpiration,omitempty"`
	OauthAccessTokenExpirationTimeUnit  string            `json:"oauthAccessTokenExpirationTimeUnit,omitempty"`
	OauthRefreshTokenExpiration         int               `json:"oauthRefreshTokenExpiration,omitempty"`
	OauthRefreshTokenExpirationTimeUnit string            `json:"oauthRefreshTokenExpirationTimeUnit,omitempty"`
	RedirectURI                         string            `json:"redirectUri,omitempty"`
	Scopes                              []string          `json:"scopes,omitempty"`
	SkipLoginQueue                      bool              `json:"skipLoginQueue,omitempty"`
	TwoFactorEnabled                    bool              `json:"twoFactorEnabled,omitempty"`
}

// ABClientUpdate is AccelByte's clientmodel.ClientUpdateV3Request.
type ABClientUpdate struct {
	ABClientSettings
	ClientName        *string        `json:"clientName,omitempty"`
	ClientPermissions []ABPermission `json:"clientPermissions,omitempty"`
	Namespace         string         `json:"namespace,omitempty"`
}

// AccelByte's client requests. The path's namespace is PathNamespace: the
// body has a namespace field of its own, which must match it.
type (
	abClientRef struct {
		PathNamespace string `json:"pathNamespace,omitempty" path:"namespace"`
		ClientID      string `json:"clientId" path:"clientId"`
	}
	abClientCreate struct {
		PathNamespace string `json:"pathNamespace,omitempty" path:"namespace"`
		ABClientSettings
		ClientID          string         `json:"clientId"`
		ClientName        string         `json:"clientName"`
		ClientPermissions []ABPermission `json:"clientPermissions,omitempty"`
		Namespace         string         `json:"namespace"`
		OauthClientType   string         `json:"oauthClientType,omitempty"`
		Secret            string         `json:"secret"`
	}
	abClientPatch struct {
		abClientRef
		ABClientUpdate
	}
	abClientsUpdate struct {
		NamespaceRef
		ClientIDs           []string        `json:"clientIds"`
		ClientUpdateRequest *ABClientUpdate `json:"clientUpdateRequest"`
	}
	abClientList struct {
		NamespaceRef
		ClientID       string `json:"clientId,omitempty" query:"clientId"`
		ClientName     string `json:"clientName,omitempty" query:"clientName"`
		ClientType     string `json:"clientType,omitempty" query:"clientType"`
		Limit          *int   `json:"limit,omitempty" query:"limit"`
		Offset         int    `json:"offset,omitempty" query:"offset"`
		SkipLoginQueue string `json:"skipLoginQueue,omitempty" query:"skipLoginQueue"`
	}
	abClientPermissions struct {
		abClientRef
		ABPermissions
	}
	abClientPermission struct {
		abClientRef
		Resource string `json:"resource" path:"resource"`
		Action   string `json:"action" path:"action"`
	}
)

func (r abClientRef) abBinding() (ns, user string) { return r.PathNamespace, "" }

func (r *abClientCreate) abBinding() (ns, user string) { return r.PathNamespace, "" }

func sameNamespace(path, body string) error {
	if body != "" && body != path {
		return Bad("namespaceMismatch", "the body's namespace %q is not the path's %q: send the same namespace, or none in the body", body, path)
	}
	return nil
}

// Validate refuses a secret (Grantlog makes it) and a namespace other
// than the path's.
func (r *abClientCreate) Validate() error {
	if r.Secret != "" {
		return Bad("secretNotAccepted", `Grantlog makes client secrets: send "secret": "" and keep the clientSecret of the answer (shown once)`)
	}
	return sameNamespace(r.PathNamespace, r.Namespace)
}

// Validate refuses a namespace other than the path's.
func (r *abClientPatch) Validate() error { return sameNamespace(r.PathNamespace, r.Namespace) }

// Validate requires both fields.
func (r *abClientsUpdate) Validate() error {
	if r.ClientIDs == nil || r.ClientUpdateRequest == nil {
		return Bad("missingField", `send {"clientIds": ["..."], "clientUpdateRequest": {...}}`)
	}
	if len(r.ClientIDs) > command.MaxAssignedNS {
		return Bad("tooManyClients", "%d clientIds in one request; the limit is %d", len(r.ClientIDs), command.MaxAssignedNS)
	}
	return sameNamespace(r.Namespace, r.ClientUpdateRequest.Namespace)
}

// Validate refuses bad filters and limits.
func (r *abClientList) Validate() error {
	if _, err := optBool("skipLoginQueue", r.SkipLoginQueue); err != nil {
		return err
	}
	if r.Offset < 0 {
		return Bad("invalidParameter", "offset must be 0 or more")
	}
	return validLimit(r.Limit)
}

func readClient(ctx context.Context, d *Deps, ns, id string, rev uint64) (ABClient, error) {
	cl, err := d.Query.GetClient(ctx, asService(rev), ns, id)
	return abClient(cl), err
}

// updateClient applies u to client id of ns: its name, then its
// permissions (replaced) when given.
func updateClient(ctx context.Context, d *Deps, c *Call, ns, id string, u *ABClientUpdate) (uint64, error) {
	steps, err := clientUpdateSteps(ns, id, u)
	if err != nil {
		return 0, err
	}
	// The Idempotency-Key is bound to the whole request: which client, too.
	return atomically(ctx, d, c, []any{ns, id, u}, steps)
}

// clientUpdateSteps are the commands of an update of client id: its name,
// its permissions (replaced), those given.
func clientUpdateSteps(ns, id string, u *ABClientUpdate) ([]command.Step, error) {
	var steps []command.Step
	if u.ClientName != nil {
		steps = append(steps, func(ctx context.Context, s *command.Service, m command.Meta) error {
			_, err := s.UpdateClient(ctx, m, ns, id, command.UpdateClient{ClientName: u.ClientName})
			return err
		})
	}
	if u.ClientPermissions != nil {
		ps, err := toPerms(u.ClientPermissions)
		if err != nil {
			return nil, err
		}
		steps = append(steps, func(ctx context.Context, s *command.Service, m command.Meta) error {
			_, err := s.ChangeClientPermissions(ctx, m, ns, id, command.ReplacePermissions, ps)
			return err
		})
	}
	return steps, nil
}

func changeClientPerms(op command.PermissionOp) func(context.Context, *Deps, *Call, *abClientPermissions) (NoContent, error) {
	return func(ctx context.Context, d *Deps, c *Call, in *abClientPermissions) (NoContent, error) {
		ps, err := toPerms(in.Permissions)
		if err != nil {
			return NoContent{}, err
		}
		_, err = d.Commands.ChangeClientPermissions(ctx, c.Meta(""), in.PathNamespace, in.ClientID, op, ps)
		return NoContent{}, err
	}
}

const (
	secClientC = "ADMIN:NAMESPACE:{namespace}:CLIENT [CREATE]"
	secClientR = "ADMIN:NAMESPACE:{namespace}:CLIENT [READ]"
	secClientU = "ADMIN:NAMESPACE:{namespace}:CLIENT [UPDATE]"
	secClientD = "ADMIN:NAMESPACE:{namespace}:CLIENT [DELETE]"
)

func accelbyteClientOps() []*Op {
	const clients = "/iam/v3/admin/namespaces/{namespace}/clients"
	return []*Op{
		ab(Read, "AdminGetClientsByNamespaceV3", get, clients, ok, secClientR, "List a namespace's IAM clients (offset paging; clientId, clientName filter)",
			func(ctx context.Context, d *Deps, c *Call, in *abClientList) (ABClients, error) {
				p, err := d.Query.ListClients(ctx, c.ReadAt(0), in.Namespace)
				if err != nil {
					return ABClients{}, err
				}
				keep := func(cl *query.Client) bool {
					return (in.ClientID == "" || cl.ClientID == in.ClientID) &&
						(in.ClientName == "" || strings.Contains(strings.ToLower(cl.ClientName), strings.ToLower(in.ClientName))) &&
						(in.ClientType == "" || strings.EqualFold(in.ClientType, "confidential")) &&
						in.SkipLoginQueue != "true"
				}
				n := limit(in.Limit)
				if n == 0 {
					n = query.DefaultLimit
				}
				out := ABClients{Data: []ABClient{}}
				skip, more := in.Offset, false
				for i := range p.Data {
					cl := &p.Data[i]
					switch {
					case !keep(cl):
					case skip > 0:
						skip--
					case len(out.Data) == n:
						more = true
					default:
						out.Data = append(out.Data, abClient(*cl))
					}
				}
				link := func(offset int) string {
					q := url.Values{"limit": {strconv.Itoa(n)}, "offset": {strconv.Itoa(offset)}}
					for k, v := range map[string]string{"clientId": in.ClientID, "clientName": in.ClientName, "clientType": in.ClientType, "skipLoginQueue": in.SkipLoginQueue} {
						if v != "" {
							q.Set(k, v)
						}
					}
					return pageLink("/iam/v3/admin/namespaces/"+url.PathEscape(in.Namespace)+"/clients", q)
				}
				if more {
					out.Paging.Next = link(in.Offset + n)
				}
				if in.Offset > 0 {
					out.Paging.Previous = link(max(0, in.Offset-n))
				}
				return out, nil
			}),
		ab(Command, "AdminCreateClientV3", post, clients, created, secClientC, "Create an IAM client (Grantlog makes its id and secret, shown once)",
			func(ctx context.Context, d *Deps, c *Call, in *abClientCreate) (ABClient, error) {
				ps, err := toPerms(in.ClientPermissions)
				if err != nil {
					return ABClient{}, err
				}
				cr, err := d.Commands.CreateClient(ctx, c.Meta(""), in.PathNamespace, command.CreateClient{ClientName: in.ClientName, Permissions: ps})
				if err != nil {
					return ABClient{}, err
				}
				out, err := readClient(ctx, d, in.PathNamespace, cr.ClientID, cr.Revision)
				out.ClientSecret = cr.ClientSecret
				return out, err
			}).noStore(),
		ab(Command, "AdminBulkUpdateClientsV3", put, clients, noContent, secClientU, "Update IAM clients' names and permissions",
			func(ctx context.Context, d *Deps, c *Call, in *abClientsUpdate) (NoContent, error) {
				var steps []command.Step
				for _, id := range in.ClientIDs {
					ss, err := clientUpdateSteps(in.Namespace, id, in.ClientUpdateRequest)
					if err != nil {
						return NoContent{}, err
					}
					steps = append(steps, ss...)
				}
				_, err := atomically(ctx, d, c, in, steps)
				return NoContent{}, err
			}),
		ab(Read, "AdminGetClientsbyNamespacebyIDV3", get, clients+"/{clientId}", ok, secClientR, "Get an IAM client",
			func(ctx context.Context, d *Deps, c *Call, in *abClientRef) (ABClient, error) {
				cl, err := d.Query.GetClient(ctx, c.ReadAt(0), in.PathNamespace, in.ClientID)
				return abClient(cl), err
			}),
		ab(Command, "AdminUpdateClientV3", patch, clients+"/{clientId}", ok, secClientU, "Update an IAM client's name and permissions",
			func(ctx context.Context, d *Deps, c *Call, in *abClientPatch) (ABClient, error) {
				rev, err := updateClient(ctx, d, c, in.PathNamespace, in.ClientID, &in.ABClientUpdate)
				if err != nil {
					return ABClient{}, err
				}
				return readClient(ctx, d, in.PathNamespace, in.ClientID, rev)
			}),
		ab(Command, "AdminDeleteClientV3", del, clients+"/{clientId}", noContent, secClientD, "Delete an IAM client",
			func(ctx context.Context, d *Deps, c *Call, in *abClientRef) (NoContent, error) {
				_, err := d.Commands.DeleteClient(ctx, c.Meta(""), in.PathNamespace, in.ClientID)
				return NoContent{}, err
			}),
		ab(Command, "AdminAddClientPermissionsV3", post, clients+"/{clientId}/permissions", noContent, secClientU, "Add permissions to an IAM client",
			changeClientPerms(command.AddPermissions)),
		ab(Command, "AdminUpdateClientPermissionV3", put, clients+"/{clientId}/permissions", noContent, secClientU, "Replace an IAM client's permissions",
			changeClientPerms(command.ReplacePermissions)),
		ab(Command, "AdminDeleteClientPermissionV3", del, clients+"/{clientId}/permissions/{resource}/{action}", noContent, secClientU,
			"Remove one permission from an IAM client",
			func(ctx context.Context, d *Deps, c *Call, in *abClientPermission) (NoContent, error) {
				ps, err := toPerms([]ABPermission{{Resource: in.Resource, Action: pathAction(in.Action)}})
				if err != nil {
					return NoContent{}, err
				}
				_, err = d.Commands.ChangeClientPermissions(ctx, c.Meta(""), in.PathNamespace, in.ClientID, command.RemovePermissions, ps)
				return NoContent{}, err
			}),
	}
}
