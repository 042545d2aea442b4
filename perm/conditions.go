package perm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"
)

// ErrInvalidCondition is wrapped by errors about a permission's constraints,
// validity window or schedule.
var ErrInvalidCondition = errors.New("perm: invalid permission condition")

// Limits on conditions.
const (
	MaxConstraints = 16
	MaxInValues    = 100
	MaxParams      = 9
)

// Constraints narrow a permission to requests whose attributes satisfy every
// named constraint (Vast.ai): {"id": {"eq": 1227}}. A constraint on an
// attribute the check does not carry denies.
type Constraints map[string]Constraint

// Constraint is a test on one request attribute. Every operator given must
// hold: eq (equal), gte / lte (a numeric range), in (one of).
//
// Values are typed (PRODUCT.md 1.5): a value that reads as a number (a JSON
// number, or a string such as "150" or "-1.5e2") is that number. eq and in
// compare numbers as numbers ("150" equals 150) and other strings exactly;
// gte and lte compare numbers only, and deny an attribute that is not a
// number, never comparing strings in lexicographic order.
type Constraint struct {
	Eq  *Value  `json:"eq,omitempty"`
	Gte *Value  `json:"gte,omitempty"`
	Lte *Value  `json:"lte,omitempty"`
	In  []Value `json:"in,omitempty"`
}

// Value is a constraint operand or request attribute: a JSON number or
// string. In a permission template the string "$N" (1..9) is a param, filled
// by FillParams when a token is issued.
type Value struct {
	num   float64
	str   string
	isNum bool // a JSON number
	numOK bool // num is the value as a number: a JSON number, or a string that reads as one
	param int
}

// Num returns a number Value.
func Num(f float64) Value { return Value{num: f, isNum: true, numOK: true} }

// Str returns a string Value (a number, too, when it reads as one).
func Str(s string) Value {
	v := Value{str: s}
	v.num, v.numOK = readNumber(s)
	return v
}

// maxNumberLen bounds the strings read as numbers.
const maxNumberLen = 64

// readNumber reads s as a decimal number: an optional '-', digits, an
// optional fraction ('.' and digits) and an optional exponent ('e' or 'E',
// an optional sign, digits); finite. Anything else (spaces, '+', hex, "Inf",
// "NaN", '_', "1a") is not a number. It does not allocate.
func readNumber(s string) (float64, bool) {
	if len(s) == 0 || len(s) > maxNumberLen {
		return 0, false
	}
	i := 0
	if s[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() {
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of range: not a finite number
		return 0, false
	}
	return f, true
}

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) {
	switch {
	case v.param > 0:
		return []byte(`"$` + strconv.Itoa(v.param) + `"`), nil
	case v.isNum:
		return json.Marshal(v.num)
	}
	return json.Marshal(v.str)
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = Str(s)
		if len(s) == 2 && s[0] == '$' && s[1] >= '1' && s[1] <= '9' {
			v.param = int(s[1] - '0')
		}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%w: a value must be a number or a string, not %s", ErrInvalidCondition, b)
	}
	*v = Num(f)
	return nil
}

func (v Value) String() string {
	b, _ := v.MarshalJSON()
	return string(b)
}

// typed returns v as a number when it reads as one (a filled param: "a
// param that reads as a number is a number").
func (v Value) typed() Value {
	if v.numOK && !v.isNum {
		return Num(v.num)
	}
	return v
}

// equal reports whether two values are equal: as numbers when both read
// as numbers, else as strings when both are strings.
func (v Value) equal(o Value) bool {
	if v.numOK && o.numOK {
		return v.num == o.num
	}
	return !v.isNum && !o.isNum && v.str == o.str
}

func (c Constraint) values() []*Value {
	out := []*Value{c.Eq, c.Gte, c.Lte}
	for i := range c.In {
		out = append(out, &c.In[i])
	}
	return out
}

// holds reports whether attribute value a satisfies c. A range bound that
// is not a number (only an event written before ranges were numeric can
// hold one) is satisfied by nothing.
func (c *Constraint) holds(a Value) bool {
	if c.Eq != nil && !a.equal(*c.Eq) {
		return false
	}
	if c.Gte != nil && (!a.numOK || !c.Gte.numOK || a.num < c.Gte.num) {
		return false
	}
	if c.Lte != nil && (!a.numOK || !c.Lte.numOK || a.num > c.Lte.num) {
		return false
	}
	if len(c.In) > 0 {
		for i := range c.In {
			if a.equal(c.In[i]) {
				return true
			}
		}
		return false
	}
	return true
}

func condErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidCondition}, args...)...)
}

func validAttrName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLiteralByte(s[i]) {
			return false
		}
	}
	return true
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// validateConditions checks the optional fields and normalises times to UTC.
// With legacy (a permission an event already stores), a range bound that is
// not a number is kept: it is satisfied by nothing.
func (p *Permission) validateConditions(allowParams, legacy bool) error {
	if len(p.Constraints) > MaxConstraints {
		return condErr("%d constraints; the limit is %d", len(p.Constraints), MaxConstraints)
	}
	for name, c := range p.Constraints {
		if !validAttrName(name) {
			return condErr("constraint attribute %q: use 1-64 letters, digits, '_', '-' or '.'", name)
		}
		if c.Eq == nil && c.Gte == nil && c.Lte == nil && len(c.In) == 0 {
			return condErr("constraint on %q has no operator: use eq, gte, lte or in", name)
		}
		if len(c.In) > MaxInValues {
			return condErr("constraint on %q: %d values in \"in\"; the limit is %d", name, len(c.In), MaxInValues)
		}
		for _, v := range c.values() {
			if v != nil && v.param > 0 && !allowParams {
				return condErr("constraint on %q uses param %s: params are only filled when a token is issued", name, v)
			}
		}
		if legacy {
			continue
		}
		for _, b := range []struct {
			op string
			v  *Value
		}{{"gte", c.Gte}, {"lte", c.Lte}} {
			if b.v != nil && b.v.param == 0 && !b.v.numOK {
				return condErr("constraint on %q: %s %s is not a number: gte and lte compare numbers (use eq or in for strings)", name, b.op, b.v)
			}
		}
		if c.Gte != nil && c.Lte != nil && c.Gte.param == 0 && c.Lte.param == 0 && c.Gte.num > c.Lte.num {
			return condErr("constraint on %q: gte %s must not exceed lte %s", name, c.Gte, c.Lte)
		}
	}
	if len(p.Constraints) == 0 {
		p.Constraints = nil
	}
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	p.NotBefore, p.NotAfter = utc(p.NotBefore), utc(p.NotAfter)
	if p.NotBefore != nil && p.NotAfter != nil && !p.NotBefore.Before(*p.NotAfter) {
		return condErr("notBefore %s must be before notAfter %s", p.NotBefore.Format(time.RFC3339), p.NotAfter.Format(time.RFC3339))
	}
	if p.SchedCron != "" {
		if _, err := cronParser.Parse(p.SchedCron); err != nil {
			return condErr("schedCron %q: %v (use 5 fields: minute hour day-of-month month day-of-week)", p.SchedCron, err)
		}
	}
	switch len(p.SchedRange) {
	case 0:
		p.SchedRange = nil
	case 2:
		p.SchedRange = []time.Time{p.SchedRange[0].UTC(), p.SchedRange[1].UTC()}
		if !p.SchedRange[0].Before(p.SchedRange[1]) {
			return condErr("schedRange must be [from, to] with from before to")
		}
	default:
		return condErr("schedRange must be [from, to] (RFC 3339 times), not %d values", len(p.SchedRange))
	}
	if p.SchedAction > CRUD {
		return condErr("schedAction %d is outside 0..15", p.SchedAction)
	}
	if p.SchedAction != 0 && p.SchedCron == "" && p.SchedRange == nil {
		return condErr("schedAction needs schedCron or schedRange: the window in which it applies")
	}
	return nil
}

// Params returns the highest param number the permission's constraints use.
func (p *Permission) Params() int {
	n := 0
	for _, c := range p.Constraints {
		for _, v := range c.values() {
			if v != nil && v.param > n {
				n = v.param
			}
		}
	}
	return n
}

// FillParams returns p with every param "$N" in its constraints replaced by
// params[N-1]. It fails when a param has no value.
func FillParams(p Permission, params []Value) (Permission, error) {
	if p.Params() == 0 {
		return p, nil
	}
	out := p
	out.Constraints = make(Constraints, len(p.Constraints))
	fill := func(v *Value) (*Value, error) {
		if v == nil || v.param == 0 {
			return v, nil
		}
		if v.param > len(params) {
			return nil, condErr("param $%d has no value: give params with at least %d values", v.param, v.param)
		}
		f := params[v.param-1]
		f.param = 0
		f = f.typed()
		return &f, nil
	}
	for name, c := range p.Constraints {
		var nc Constraint
		var err error
		if nc.Eq, err = fill(c.Eq); err != nil {
			return Permission{}, err
		}
		if nc.Gte, err = fill(c.Gte); err != nil {
			return Permission{}, err
		}
		if nc.Lte, err = fill(c.Lte); err != nil {
			return Permission{}, err
		}
		for i := range c.In {
			v, err := fill(&c.In[i])
			if err != nil {
				return Permission{}, err
			}
			nc.In = append(nc.In, *v)
		}
		for _, b := range []struct {
			op      string
			tmpl, v *Value
		}{{"gte", c.Gte, nc.Gte}, {"lte", c.Lte, nc.Lte}} {
			if b.v != nil && b.tmpl.param > 0 && !b.v.numOK {
				return Permission{}, condErr("constraint on %q: param $%d is %s, which is not a number: %s compares numbers",
					name, b.tmpl.param, b.v, b.op)
			}
		}
		out.Constraints[name] = nc
	}
	return ValidatePermission(out)
}

// Conditional reports whether p has constraints, a validity window or a schedule.
func (p *Permission) Conditional() bool {
	return len(p.Constraints) > 0 || p.NotBefore != nil || p.NotAfter != nil ||
		p.SchedCron != "" || p.SchedRange != nil
}

// Key identifies p for merging: permissions with the same Key differ only in
// their action. It is the resource for unconditional permissions.
func (p *Permission) Key() string {
	if !p.Conditional() && p.SchedAction == 0 {
		return p.Resource
	}
	q := *p
	q.Action, q.SchedAction = 0, 0
	raw, _ := json.Marshal(q) // map keys are sorted by encoding/json
	return p.Resource + "\x00" + string(raw)
}

// condition is the compiled form of a permission's conditions.
type condition struct {
	attrs       []string // sorted constraint attribute names
	cons        []Constraint
	notBefore   time.Time
	notAfter    time.Time
	sched       cron.Schedule
	rangeFrom   time.Time
	rangeTo     time.Time
	hasRange    bool
	schedAction Action
}

func compileCondition(p *Permission) *condition {
	if !p.Conditional() {
		return nil
	}
	c := &condition{schedAction: p.SchedAction}
	for name := range p.Constraints {
		c.attrs = append(c.attrs, name)
	}
	sort.Strings(c.attrs)
	for _, name := range c.attrs {
		c.cons = append(c.cons, p.Constraints[name])
	}
	if p.NotBefore != nil {
		c.notBefore = *p.NotBefore
	}
	if p.NotAfter != nil {
		c.notAfter = *p.NotAfter
	}
	if p.SchedCron != "" {
		c.sched, _ = cronParser.Parse(p.SchedCron) // validated
	}
	if len(p.SchedRange) == 2 {
		c.rangeFrom, c.rangeTo, c.hasRange = p.SchedRange[0], p.SchedRange[1], true
	}
	return c
}

// cronMatches reports whether minute of t is one the schedule fires in.
func cronMatches(s cron.Schedule, t time.Time) bool {
	m := t.Truncate(time.Minute)
	return s.Next(m.Add(-time.Second)).Equal(m)
}

// actionAt is action at an instant given in Unix nanoseconds.
func (c *condition) actionAt(granted Action, nanos int64) Action {
	return c.action(granted, time.Unix(0, nanos).UTC())
}

// action returns the action in force at now (0 outside the validity window).
func (c *condition) action(granted Action, now time.Time) Action {
	if !c.notBefore.IsZero() && now.Before(c.notBefore) {
		return 0
	}
	if !c.notAfter.IsZero() && !now.Before(c.notAfter) {
		return 0
	}
	if c.hasRange && !now.Before(c.rangeFrom) && now.Before(c.rangeTo) {
		return c.schedAction
	}
	if c.sched != nil && cronMatches(c.sched, now) {
		return c.schedAction
	}
	return granted
}

// nextChange returns the first instant after now at which action may change.
func (c *condition) nextChange(now time.Time) (time.Time, bool) {
	var best time.Time
	consider := func(t time.Time) {
		if t.After(now) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	consider(c.notBefore)
	consider(c.notAfter)
	if c.hasRange {
		consider(c.rangeFrom)
		consider(c.rangeTo)
	}
	if c.sched != nil {
		if cronMatches(c.sched, now) {
			// The window lasts while consecutive minutes match; look a week ahead.
			m := now.Truncate(time.Minute)
			for i := 1; i <= 7*24*60; i++ {
				t := m.Add(time.Duration(i) * time.Minute)
				if !cronMatches(c.sched, t) {
					consider(t)
					break
				}
			}
		} else {
			consider(c.sched.Next(now))
		}
	}
	return best, !best.IsZero()
}

// Attributes are a check's request attributes, for constraints. Build them
// with NewAttributes; the zero value has none.
type Attributes struct {
	names []string
	vals  []Value
}

// NewAttributes converts a JSON object of attributes (numbers and strings).
func NewAttributes(m map[string]Value) Attributes {
	var a Attributes
	for name := range m {
		a.names = append(a.names, name)
	}
	sort.Strings(a.names)
	for _, name := range a.names {
		a.vals = append(a.vals, m[name])
	}
	return a
}

func (a *Attributes) get(name string) (Value, bool) {
	i := sort.SearchStrings(a.names, name)
	if i < len(a.names) && a.names[i] == name {
		return a.vals[i], true
	}
	return Value{}, false
}

func (c *condition) constraintsHold(a *Attributes) bool {
	for i, name := range c.attrs {
		v, ok := a.get(name)
		if !ok || !c.cons[i].holds(v) {
			return false
		}
	}
	return true
}

// Context is what a check knows beyond the tag: the instant it is evaluated
// at and the request's attributes.
type Context struct {
	Now   time.Time
	Attrs *Attributes
}

// Conditional reports whether the grant has conditions (constraints, a
// validity window or a schedule).
func (g *Grant) Conditional() bool { return g.cond != nil }

// EffectiveAction returns the action the grant gives at now.
func (g *Grant) EffectiveAction(now time.Time) Action {
	if g.cond == nil {
		return g.perm.Action
	}
	return g.cond.action(g.perm.Action, now)
}

// NextChange returns the first instant after now at which the grant's
// effective action changes, if it ever does.
func (g *Grant) NextChange(now time.Time) (time.Time, bool) {
	if g.cond == nil {
		return time.Time{}, false
	}
	return g.cond.nextChange(now)
}

// Allows is Covers with the grant's conditions evaluated in c: the action in
// force at c.Now must allow the required action, and every constraint must
// hold on c.Attrs. It does not allocate.
func (g *Grant) Allows(r *Required, b *Binding, c *Context) bool {
	if g.cond == nil {
		return g.Covers(r, b)
	}
	// Pass the instant as nanoseconds: the time.Time's location pointer
	// would otherwise make the whole Context escape through the cron call.
	if !g.cond.actionAt(g.perm.Action, c.Now.UnixNano()).Allows(r.action) {
		return false
	}
	if len(g.cond.attrs) > 0 {
		if c.Attrs == nil || !g.cond.constraintsHold(c.Attrs) {
			return false
		}
	}
	return g.CoversResource(r, b)
}
