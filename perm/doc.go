// Package perm is the permission language of Grantlog: resource tags, action
// bitmasks, and the AccelByte-compatible rules that decide whether a granted
// permission covers a required one.
//
// # Resource tags
//
// A resource tag is a non-empty string of at most 512 bytes and at most 32
// colon-separated segments, for example
//
//	ADMIN:NAMESPACE:{namespace}:USER:{userId}:ENTITLEMENT
//
// Each segment is one of
//
//   - a literal of letters, digits, '_', '-' and '.' (compared case-sensitively);
//   - the wildcard "*", which must be a whole segment;
//   - a placeholder {namespace} or {userId}. Placeholder names are matched
//     case-insensitively; [CanonicalTag] rewrites them to exactly "{namespace}"
//     and "{userId}".
//
// Anything else (empty segments, other {...} names, partial wildcards such as
// "a*", spaces, other characters) is rejected with a [*TagError] that wraps
// [ErrInvalidTag] and says where the problem is and how to fix it.
//
// One exception: the required permission of a registered endpoint may also
// name the endpoint's path parameters ({clientId}, {platformId}, ...), as
// AccelByte's published catalog does ([ValidateEndpointTemplate]); they are
// bound from the request at check time ([Required.ParseEndpoint]). Granted
// permissions never may.
//
// # Actions
//
// An [Action] is a bitmask: Create=1, Read=2, Update=4, Delete=8, CRUD=15. A
// granted action allows a required one when granted&required == required. Only
// 1..15 are valid; anything else is reported with [ErrInvalidAction].
//
// # Matching
//
// A granted permission is compiled once with [CompileGrant]; a required
// permission is parsed once per check with [ParseRequired]. [Grant.Covers]
// then decides, without allocating, whether the grant covers the requirement
// after its placeholders are bound by a [Binding]. With G the granted and R the
// required segments:
//
//  1. Over the shorter length, each G segment must equal the R segment or be
//     "*". A "*" in R is only a literal. Studio exception: a G segment that
//     ends in '-' and follows the literal NAMESPACE covers every R segment that
//     starts with it (NAMESPACE:studio1- covers NAMESPACE:studio1-game1).
//  2. Equal lengths: covered.
//  3. G shorter: covered only if G's last segment is "*" and the segment before
//     it is not the literal NAMESPACE or USER.
//  4. G longer: covered only if every extra G segment is "*".
//
// Placeholders take part in matching only through their bound values: a bound
// placeholder is compared like a literal (including the studio rule when it
// follows the literal NAMESPACE), is never a wildcard, and is never equal to the
// literals NAMESPACE or USER for rules 1 and 3. {userId} binds to
// [Binding.UserID]; {namespace} binds to each of [Binding.Namespaces] in turn,
// and the grant covers R if it does so for any one of them (all occurrences of
// {namespace} in one grant bind to the same namespace). A placeholder with no
// value to bind to matches nothing.
//
// # Concurrency and ownership
//
// [Grant] and [Required] are immutable once built and safe for concurrent use;
// copying them is cheap and shares no mutable state. A [Required] holds
// substrings of the resource and binding passed to [ParseRequired] and does not
// allocate for tags of up to 32 segments.
//
// Tier 0. perm depends on nothing else in Grantlog: the standard library
// and github.com/robfig/cron/v3 only; internal/arch enforces this.
package perm
