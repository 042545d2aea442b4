package query

import (
	"time"

	"github.com/grantlog/grantlog/perm"
)

// Subject types.
const (
	SubjectUser   = "user"
	SubjectClient = "client"
	SubjectToken  = "token"
)

// Subject is who a check is about: a user or client by id, or a token by
// its secret.
type Subject struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	Token string `json:"token,omitempty"`
}

// EndpointRef names a catalog endpoint instead of a resource and action:
// either by Service and Name, with Params giving the values of its path
// parameters; or by the raw request, Method and Path
// ("GET", "/iam/v3/admin/namespaces/foo/clients/abc"), optionally of
// Service, whose matching route gives them (at each segment a literal
// beats a parameter; see index.View.MatchRoute).
//
// The endpoint's required template is bound as AccelByte's services bind
// it, from the request: each path-parameter placeholder ({clientId}) to
// that parameter's value; {namespace} to the path's namespace parameter,
// else the check's namespace; {userId} to the path's userId parameter
// (the user the request is about), else the subject's user. Grants bind
// their own placeholders as always (PRODUCT 1.3).
type EndpointRef struct {
	Service string            `json:"service,omitempty"`
	Name    string            `json:"name,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
}

// Limits of a raw request in an EndpointRef.
const (
	MaxEndpointMethod = 16
	MaxEndpointPath   = 2048
)

// CheckRequest asks whether Subject may do Action on Resource (or what
// Endpoint requires), signed into Namespace.
type CheckRequest struct {
	Subject   Subject     `json:"subject"`
	Namespace string      `json:"namespace"`
	Resource  string      `json:"resource,omitempty"`
	Action    perm.Action `json:"action,omitempty"`
	// Endpoint replaces Resource and Action with a catalog entry's.
	Endpoint *EndpointRef `json:"endpoint,omitempty"`
	// Attributes are the request's attributes, for constraints.
	Attributes map[string]perm.Value `json:"attributes,omitempty"`
	// AtLeastRevision, when set, makes the check wait (bounded) until the
	// index has applied this revision.
	AtLeastRevision uint64 `json:"atLeastRevision,omitempty"`
	// AtRevision asks for the answer as of this past revision: time-bound
	// grants are evaluated at the instant of its event; inside a
	// transaction, as of the revision before it (see HistoryConfig). The
	// caller needs the audit-read right of the namespace too.
	AtRevision uint64 `json:"atRevision,omitempty"`
	// AsOf asks for the answer as of this past instant: at the last
	// revision whose event occurred at or before it, time-bound grants
	// evaluated at AsOf. At most one of AtLeastRevision, AtRevision, AsOf.
	AsOf *time.Time `json:"asOf,omitempty"`
	// Explain asks for the explanation of the answer.
	Explain bool `json:"explain,omitempty"`
}

// CheckResult is a check's answer.
type CheckResult struct {
	Allowed     bool         `json:"allowed"`
	Revision    uint64       `json:"revision"`
	Explanation *Explanation `json:"explanation,omitempty"`
}

// Explanation says why a check was answered as it was.
type Explanation struct {
	// Required is the required permission after binding placeholders.
	Required perm.Permission `json:"required"`
	// Grants lists what allowed it: for a token, the token's permission and
	// then its owner's. Empty when denied.
	Grants []GrantReason `json:"grants,omitempty"`
	// Considered is how many assignments (and default roles, client roles)
	// were looked at: through the API, only those the caller may read.
	Considered int `json:"considered"`
	// EvaluatedAt is the instant the check was evaluated at.
	EvaluatedAt time.Time `json:"evaluatedAt"`
	// ChangesAt, when set, is the next instant at which the answer may
	// change by itself (a validity window, schedule or expiry boundary).
	ChangesAt *time.Time `json:"changesAt,omitempty"`
	// Summary says it in words.
	Summary string `json:"summary"`
	// Withheld is set when some grant that allows the check is left out:
	// an explanation through the API shows only what the caller may read
	// (an assignment needs the caller to hold
	// ADMIN:NAMESPACE:{namespace}:ROLE:USER:* Read in the assignment's
	// namespace, as listing the user's roles there does).
	Withheld bool `json:"withheld,omitempty"`
}

// Grant sources.
const (
	SourceAssignment  = "assignment"
	SourceDefaultRole = "namespaceDefaultRole"
	SourceClient      = "clientPermission"
	SourceClientRole  = "clientRole"
	SourceToken       = "tokenPermission"
)

// GrantReason names what granted (part of) a check.
type GrantReason struct {
	Source              string          `json:"source"`
	RoleID              string          `json:"roleId,omitempty"`
	RoleName            string          `json:"roleName,omitempty"`
	IsWildcard          bool            `json:"isWildcard,omitempty"`
	AssignmentNamespace string          `json:"assignmentNamespace,omitempty"`
	AssignedNamespaces  []string        `json:"assignedNamespaces,omitempty"`
	ClientID            string          `json:"clientId,omitempty"`
	TokenID             string          `json:"tokenId,omitempty"`
	Permission          perm.Permission `json:"permission"`
	AssignedAtRevision  uint64          `json:"assignedAtRevision,omitempty"`
}

// MaxTokenLen bounds a token secret in a check.
const MaxTokenLen = 256
