// Package apply is declarative configuration of a Grantlog server: a set
// of YAML documents (roles, namespaces, scopes, endpoints, assignments)
// read from files, diffed against the server's current state into a plan,
// and the plan applied through the SDK (client.Do). grantlog apply and
// grantlog export are its command line.
//
// Format: one YAML document per object, each
//
//	apiVersion: grantlog/v1
//	kind: Role            # Namespace, Role, Scope, Endpoint or Assignment
//	spec: {...}
//
// Roles and assignments name roles by name, never by id. Actions are
// 1..15 or letters of CRUD (RU is 6); export writes letters.
//
// Atomicity: NewPlan validates the whole Set against the State before
// Plan.Apply sends anything, with the rules of the commands it makes
// (names, tags, actions, windows, references to roles and scopes,
// namespaces that cannot change in place), listing every problem. Apply
// then sends every command as one transaction (POST /v1/transactions):
// the server decides each against the state the ones before it leave,
// with the commands' own validation and authorization, and stores them
// all as one JetStream atomic batch at one revision, or nothing. A
// refusal only the server can make (authorization, a concurrent change)
// changes nothing; plan and apply again.
package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// APIVersion is the apiVersion of every document.
const APIVersion = "grantlog/v1"

// Kinds of documents.
const (
	KindNamespace  = "Namespace"
	KindRole       = "Role"
	KindScope      = "Scope"
	KindEndpoint   = "Endpoint"
	KindAssignment = "Assignment"
)

// Action is a CRUD bitmask; in YAML 1..15 or letters of CRUD.
type Action int

// MarshalYAML writes the action as CRUD letters.
func (a Action) MarshalYAML() (any, error) { return a.Letters(), nil }

// Letters is a as CRUD letters: 6 is RU.
func (a Action) Letters() string {
	if a < 1 || a > 15 {
		return strconv.Itoa(int(a))
	}
	var b strings.Builder
	for i, l := range "CRUD" {
		if int(a)&(1<<i) != 0 {
			b.WriteRune(l)
		}
	}
	return b.String()
}

// UnmarshalYAML reads 1..15 or letters of CRUD.
func (a *Action) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseAction(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = v
	return nil
}

// ParseAction reads 1..15 or letters of CRUD, each once (any case).
func ParseAction(s string) (Action, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 15 {
			return 0, fmt.Errorf("action %q: use 1..15 or letters of CRUD (C=1 R=2 U=4 D=8)", s)
		}
		return Action(n), nil
	}
	a := 0
	for _, r := range strings.ToUpper(s) {
		i := strings.IndexRune("CRUD", r)
		if i < 0 || a&(1<<i) != 0 {
			return 0, fmt.Errorf("action %q: use 1..15 or letters of CRUD (C=1 R=2 U=4 D=8), e.g. RU", s)
		}
		a |= 1 << i
	}
	if a == 0 {
		return 0, errors.New("action is empty: use 1..15 or letters of CRUD, e.g. RU")
	}
	return Action(a), nil
}

// Permission is a resource tag and an action.
type Permission struct {
	Resource string `yaml:"resource"`
	Action   Action `yaml:"action"`
}

// Namespace is an explicitly created namespace.
type Namespace struct {
	Name   string `yaml:"name"`
	Parent string `yaml:"parent,omitempty"`
	// DefaultRoles are role names every user of the namespace holds.
	// Omitted: the server's default (the User role, when it exists).
	DefaultRoles *[]string `yaml:"defaultRoles,omitempty"`
}

// Role is a role, by name.
type Role struct {
	Name        string       `yaml:"name"`
	AdminRole   bool         `yaml:"adminRole,omitempty"`
	IsWildcard  bool         `yaml:"isWildcard,omitempty"`
	Description string       `yaml:"description,omitempty"`
	Permissions []Permission `yaml:"permissions"`
}

// Scope is a token scope.
type Scope struct {
	Name        string       `yaml:"name"`
	Description string       `yaml:"description,omitempty"`
	Permissions []Permission `yaml:"permissions"`
	Includes    []string     `yaml:"includes,omitempty"`
}

// Endpoint is a registered endpoint's required permission.
type Endpoint struct {
	Service  string `yaml:"service"`
	Name     string `yaml:"name"`
	Method   string `yaml:"method,omitempty"`
	Path     string `yaml:"path,omitempty"`
	Resource string `yaml:"resource"`
	Action   Action `yaml:"action"`
}

// Assignment is a role (by name) assigned to a user within a namespace.
type Assignment struct {
	Namespace          string     `yaml:"namespace"`
	User               string     `yaml:"user"`
	Role               string     `yaml:"role"`
	AssignedNamespaces []string   `yaml:"assignedNamespaces,omitempty"`
	NotBefore          *time.Time `yaml:"notBefore,omitempty"`
	NotAfter           *time.Time `yaml:"notAfter,omitempty"`
}

// Set is a whole configuration: what the files declare, or what a server
// holds.
type Set struct {
	Namespaces  []Namespace
	Roles       []Role
	Scopes      []Scope
	Endpoints   []Endpoint
	Assignments []Assignment
}

// document is one YAML document.
type document struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Spec       yaml.Node `yaml:"spec"`
}

// Load reads the documents of path: a file, a directory (its .yaml and
// .yml files, in name order, not recursive) or "-" (stdin).
func Load(path string, stdin io.Reader) (Set, error) {
	var s Set
	if path == "-" {
		err := s.parse(stdin, "stdin")
		return s, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return s, err
	}
	files := []string{path}
	if st.IsDir() {
		files = nil
		ents, err := os.ReadDir(path)
		if err != nil {
			return s, err
		}
		for _, e := range ents {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return s, fmt.Errorf("%s has no .yaml or .yml file", path)
		}
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return s, err
		}
		if err := s.parse(bytes.NewReader(raw), f); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Parse reads the YAML documents of r (named name in errors).
func Parse(r io.Reader, name string) (Set, error) {
	var s Set
	err := s.parse(r, name)
	return s, err
}

func (s *Set) parse(r io.Reader, name string) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	for i := 1; ; i++ {
		var d document
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if d.APIVersion == "" && d.Kind == "" && d.Spec.Kind == 0 {
			continue // an empty document
		}
		if d.APIVersion != APIVersion {
			return fmt.Errorf("%s: document %d: apiVersion %q: want %s", name, i, d.APIVersion, APIVersion)
		}
		var err2 error
		switch d.Kind {
		case KindNamespace:
			s.Namespaces, err2 = decodeSpec(&d.Spec, s.Namespaces)
		case KindRole:
			s.Roles, err2 = decodeSpec(&d.Spec, s.Roles)
		case KindScope:
			s.Scopes, err2 = decodeSpec(&d.Spec, s.Scopes)
		case KindEndpoint:
			s.Endpoints, err2 = decodeSpec(&d.Spec, s.Endpoints)
		case KindAssignment:
			s.Assignments, err2 = decodeSpec(&d.Spec, s.Assignments)
		default:
			err2 = fmt.Errorf("kind %q: want Namespace, Role, Scope, Endpoint or Assignment", d.Kind)
		}
		if err2 != nil {
			return fmt.Errorf("%s: document %d (line %d): %w", name, i, d.Spec.Line, err2)
		}
	}
}

// decodeSpec decodes a spec strictly (unknown fields are errors) and
// appends it to list.
func decodeSpec[T any](n *yaml.Node, list []T) ([]T, error) {
	if n.Kind != yaml.MappingNode {
		return list, errors.New("spec: want a mapping")
	}
	raw, err := yaml.Marshal(n)
	if err != nil {
		return list, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var v T
	if err := dec.Decode(&v); err != nil {
		return list, fmt.Errorf("spec: %w", err)
	}
	return append(list, v), nil
}

// Encode writes s as YAML documents: roles, namespaces, scopes, endpoints,
// assignments, each in the order of s.
func Encode(w io.Writer, s Set) error {
	var docs []any
	add := func(kind string, spec any) {
		docs = append(docs, struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Spec       any    `yaml:"spec"`
		}{APIVersion, kind, spec})
	}
	for _, v := range s.Roles {
		add(KindRole, v)
	}
	for _, v := range s.Namespaces {
		add(KindNamespace, v)
	}
	for _, v := range s.Scopes {
		add(KindScope, v)
	}
	for _, v := range s.Endpoints {
		add(KindEndpoint, v)
	}
	for _, v := range s.Assignments {
		add(KindAssignment, v)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return enc.Close()
}

// sortedCopy is a sorted copy of ss.
func sortedCopy(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}
