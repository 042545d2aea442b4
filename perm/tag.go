package perm

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on a resource tag.
const (
	// MaxTagBytes is the longest resource tag accepted, in bytes.
	MaxTagBytes = 512
	// MaxSegments is the largest number of colon-separated segments accepted.
	MaxSegments = 32
)

// The canonical spellings of the placeholders.
const (
	PlaceholderNamespace = "{namespace}"
	PlaceholderUserID    = "{userId}"
)

// Permission is a resource tag and an action, in the JSON shape used
// everywhere: {"resource": "NAMESPACE:{namespace}:CLIENT", "action": 15}.
// The optional fields narrow it (see conditions.go): Constraints on request
// attributes (Vast.ai), a validity window (NotBefore/NotAfter) and an
// AccelByte-style schedule (SchedCron / SchedRange windows during which
// SchedAction applies instead of Action).
type Permission struct {
	Resource    string      `json:"resource"`
	Action      Action      `json:"action"`
	Constraints Constraints `json:"constraints,omitempty"`
	NotBefore   *time.Time  `json:"notBefore,omitempty"`
	NotAfter    *time.Time  `json:"notAfter,omitempty"`
	SchedAction Action      `json:"schedAction,omitempty"`
	SchedCron   string      `json:"schedCron,omitempty"`
	SchedRange  []time.Time `json:"schedRange,omitempty"`
}

// ErrInvalidTag is wrapped by every *TagError.
var ErrInvalidTag = errors.New("perm: invalid resource tag")

// TagError describes why a resource tag was rejected. It wraps ErrInvalidTag.
type TagError struct {
	Tag    string // the tag as given
	Pos    int    // byte offset in Tag of the problem, or -1 if it concerns the whole tag
	Reason string // what is wrong and how to fix it, including the position
}

// maxTagInMessage bounds how much of a rejected tag Error quotes.
const maxTagInMessage = 80

// Error returns, for example,
// perm: invalid resource tag "A::B": empty segment at byte 2 (segments are separated by single colons).
// Tags longer than 80 bytes are quoted truncated with "...".
func (e *TagError) Error() string {
	tag := e.Tag
	suffix := ""
	if len(tag) > maxTagInMessage {
		cut := maxTagInMessage
		for cut > 0 && !utf8.RuneStart(tag[cut]) {
			cut--
		}
		tag, suffix = tag[:cut], "..."
	}
	return "perm: invalid resource tag " + strconv.Quote(tag) + suffix + ": " + e.Reason
}

// Unwrap returns ErrInvalidTag.
func (e *TagError) Unwrap() error { return ErrInvalidTag }

// segKind is what a validated segment is.
type segKind uint8

const (
	kindLiteral segKind = iota
	kindStar
	kindNamespace
	kindUserID
	// kindParam is any other {name} placeholder: allowed only in the
	// required template of an endpoint (see ValidateEndpointTemplate).
	kindParam
)

func isLiteralByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == '.'
}

func tagErr(tag string, pos int, reason string) *TagError {
	return &TagError{Tag: tag, Pos: pos, Reason: reason}
}

func at(pos int) string { return " at byte " + strconv.Itoa(pos) }

// classify validates the segment tag[start:end] and says what it is. With
// params, a placeholder {name} other than {namespace} and {userId} is a
// kindParam (name: 1-64 ASCII letters and digits); without, it is an error.
func classify(tag string, start, end int, params bool) (segKind, *TagError) {
	seg := tag[start:end]
	switch {
	case seg == "":
		return 0, tagErr(tag, start, "empty segment"+at(start)+" (segments are separated by single colons, with none at the start or end)")
	case seg == "*":
		return kindStar, nil
	case seg[0] == '{' && seg[len(seg)-1] == '}':
		switch {
		case strings.EqualFold(seg, PlaceholderNamespace):
			return kindNamespace, nil
		case strings.EqualFold(seg, PlaceholderUserID):
			return kindUserID, nil
		}
		if params {
			if !validParamName(seg[1 : len(seg)-1]) {
				return 0, tagErr(tag, start, "placeholder "+strconv.Quote(seg)+at(start)+
					" is not a path parameter name (write {name} with 1-64 letters and digits, e.g. {clientId})")
			}
			return kindParam, nil
		}
		return 0, tagErr(tag, start, "unknown placeholder "+strconv.Quote(seg)+at(start)+" (only {namespace} and {userId} are allowed)")
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if isLiteralByte(c) {
			continue
		}
		pos := start + i
		switch c {
		case '*':
			return 0, tagErr(tag, pos, `"*"`+at(pos)+` must be a whole segment (write "A:*", not "A*")`)
		case '{', '}':
			return 0, tagErr(tag, pos, strconv.QuoteRune(rune(c))+at(pos)+" is only allowed in a whole-segment placeholder {namespace} or {userId}")
		}
		r, size := utf8.DecodeRuneInString(seg[i:])
		if r == utf8.RuneError && size <= 1 {
			return 0, tagErr(tag, pos, "invalid byte 0x"+strconv.FormatUint(uint64(c), 16)+at(pos)+" (tags are UTF-8 text; literal segments may contain only letters, digits, '_', '-' and '.')")
		}
		return 0, tagErr(tag, pos, "invalid character "+strconv.QuoteRune(r)+at(pos)+" (literal segments may contain only letters, digits, '_', '-' and '.')")
	}
	return kindLiteral, nil
}

// checkWhole applies the limits that concern the whole tag.
func checkWhole(tag string) *TagError {
	switch {
	case tag == "":
		return tagErr(tag, -1, `tag is empty (write at least one segment, e.g. "NAMESPACE:{namespace}:CLIENT")`)
	case len(tag) > MaxTagBytes:
		return tagErr(tag, -1, "tag is "+strconv.Itoa(len(tag))+" bytes long (the limit is "+strconv.Itoa(MaxTagBytes)+")")
	}
	return nil
}

func tooManySegments(tag string, pos int) *TagError {
	return tagErr(tag, pos, "more than "+strconv.Itoa(MaxSegments)+" segments (segment "+strconv.Itoa(MaxSegments+1)+" starts"+at(pos)+")")
}

// CanonicalTag validates a resource tag and returns its canonical form, in
// which the placeholders are spelled exactly {namespace} and {userId}. The
// result is s itself when s is already canonical. An invalid tag gives a
// *TagError wrapping ErrInvalidTag.
func CanonicalTag(s string) (string, error) {
	return canonicalTag(s, false)
}

// canonicalTag is CanonicalTag; with params it accepts any {name}
// placeholder (see classify), kept as written.
func canonicalTag(s string, params bool) (string, error) {
	if err := checkWhole(s); err != nil {
		return "", err
	}
	canonical := true
	n := 0
	for start := 0; ; {
		end := strings.IndexByte(s[start:], ':')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		if n == MaxSegments {
			return "", tooManySegments(s, start)
		}
		n++
		kind, err := classify(s, start, end, params)
		if err != nil {
			return "", err
		}
		switch kind {
		case kindNamespace:
			canonical = canonical && s[start:end] == PlaceholderNamespace
		case kindUserID:
			canonical = canonical && s[start:end] == PlaceholderUserID
		}
		if end == len(s) {
			break
		}
		start = end + 1
	}
	if canonical {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, seg := range strings.Split(s, ":") {
		if i > 0 {
			b.WriteByte(':')
		}
		switch {
		case strings.EqualFold(seg, PlaceholderNamespace):
			b.WriteString(PlaceholderNamespace)
		case strings.EqualFold(seg, PlaceholderUserID):
			b.WriteString(PlaceholderUserID)
		default:
			b.WriteString(seg)
		}
	}
	return b.String(), nil
}

// ValidatePermission returns p with its resource in canonical form. If the
// resource is invalid the error wraps ErrInvalidTag (as a *TagError); if the
// action is outside 1..15 it wraps ErrInvalidAction; if both are wrong it
// wraps both.
func ValidatePermission(p Permission) (Permission, error) {
	return validatePermission(p, false, false)
}

// ValidateTemplate is ValidatePermission for a permission template whose
// constraints may hold params ("$1", "$2", ...) to be filled by FillParams.
func ValidateTemplate(p Permission) (Permission, error) {
	return validatePermission(p, true, false)
}

// validatePermission validates p; with legacy (CompileGrant: a permission
// an event already stores) it accepts what older versions accepted.
func validatePermission(p Permission, allowParams, legacy bool) (Permission, error) {
	res, resErr := CanonicalTag(p.Resource)
	var actErr error
	if !p.Action.Valid() {
		actErr = actionError(p.Action)
	}
	switch {
	case resErr != nil && actErr != nil:
		return Permission{}, errors.Join(resErr, actErr)
	case resErr != nil:
		return Permission{}, resErr
	case actErr != nil:
		return Permission{}, actErr
	}
	out := p
	out.Resource = res
	if err := out.validateConditions(allowParams, legacy); err != nil {
		return Permission{}, err
	}
	return out, nil
}
