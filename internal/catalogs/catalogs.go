package catalogs

import (
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/grantlog/grantlog/perm"
)

//go:embed *.json *.tsv
var files embed.FS

// Role is a preset role.
type Role struct {
	RoleName    string            `json:"roleName"`
	AdminRole   bool              `json:"adminRole"`
	IsWildcard  bool              `json:"isWildcard"`
	Description string            `json:"description"`
	Permissions []perm.Permission `json:"permissions"`
}

// Preset is a named set of roles.
type Preset struct {
	Name  string `json:"name"`
	Roles []Role `json:"roles"`
}

// Presets returns the role presets of roles-presets.json.
func Presets() ([]Preset, error) {
	raw, err := files.ReadFile("roles-presets.json")
	if err != nil {
		return nil, err
	}
	var c struct {
		Presets []Preset `json:"presets"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("catalogs: roles-presets.json: %w", err)
	}
	return c.Presets, nil
}

// PresetByName returns one preset.
func PresetByName(name string) (Preset, bool, error) {
	ps, err := Presets()
	if err != nil {
		return Preset{}, false, err
	}
	for _, p := range ps {
		if p.Name == name {
			return p, true, nil
		}
	}
	return Preset{}, false, nil
}

// Scope is a catalog scope.
type Scope struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Permissions []perm.Permission `json:"permissions"`
	Includes    []string          `json:"includes"`
}

// Scopes returns the scopes of scopes-<name>.json ("hathora", "vastai").
func Scopes(name string) ([]Scope, error) {
	raw, err := files.ReadFile("scopes-" + name + ".json")
	if err != nil {
		return nil, err
	}
	var c struct {
		Scopes []Scope `json:"scopes"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("catalogs: scopes-%s.json: %w", name, err)
	}
	return c.Scopes, nil
}

// Endpoint is a catalog endpoint.
type Endpoint struct {
	Service  string
	Name     string      `json:"name"`
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	Resource string      `json:"resource"`
	Action   perm.Action `json:"action"`
}

// Endpoints returns the endpoints of endpoints-<name>.tsv or, when there
// is none, endpoints-<name>.json ("accelbyte", "hathora"), in file order.
func Endpoints(name string) ([]Endpoint, error) {
	if raw, err := files.ReadFile("endpoints-" + name + ".tsv"); err == nil {
		return parseEndpointsTSV("endpoints-"+name+".tsv", string(raw))
	}
	raw, err := files.ReadFile("endpoints-" + name + ".json")
	if err != nil {
		return nil, err
	}
	var c struct {
		Services []struct {
			Service   string     `json:"service"`
			Endpoints []Endpoint `json:"endpoints"`
		} `json:"services"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("catalogs: endpoints-%s.json: %w", name, err)
	}
	var out []Endpoint
	for _, s := range c.Services {
		for _, e := range s.Endpoints {
			e.Service = s.Service
			out = append(out, e)
		}
	}
	return out, nil
}

// tsvColumns is the header of an endpoint catalog in TSV.
const tsvColumns = "service\tmethod\tpath\tresource\taction\toperationId"

// maxName is the longest endpoint name the catalog (command.RegisterEndpoint) accepts.
const maxName = 64

// parseEndpointsTSV reads an endpoint catalog in TSV: lines starting with
// '#' are comments, then the header tsvColumns, then one endpoint a line.
// An endpoint's name is its operationId made an identifier (each byte other
// than a letter, digit, '_' or '-' becomes '_', cut to 64 bytes: "get list
// of friends" is get_list_of_friends). Rows of one service sharing a name
// (AccelByte lists some deprecated endpoints twice, once per alternative
// permission) keep it for the first row in file order and are named
// <name>_2, <name>_3, ... after it, skipping names taken by other rows.
func parseEndpointsTSV(file, data string) ([]Endpoint, error) {
	var out []Endpoint
	header := false
	lineNo := 0
	for line := range strings.SplitSeq(data, "\n") {
		lineNo++
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !header {
			if line != tsvColumns {
				return nil, fmt.Errorf("catalogs: %s:%d: the header must be %q", file, lineNo, tsvColumns)
			}
			header = true
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("catalogs: %s:%d: %d fields, want 6 (%s)", file, lineNo, len(f), tsvColumns)
		}
		act, err := strconv.ParseUint(f[4], 10, 8)
		if err != nil {
			return nil, fmt.Errorf("catalogs: %s:%d: action %q is not a number", file, lineNo, f[4])
		}
		out = append(out, Endpoint{Service: f[0], Method: f[1], Path: f[2], Resource: f[3], Action: perm.Action(act), Name: identName(f[5], maxName)})
	}
	if !header {
		return nil, fmt.Errorf("catalogs: %s: no header line %q", file, tsvColumns)
	}
	// Names of every row first, so a suffixed name never takes one a later
	// row has by itself.
	taken := make(map[[2]string]bool, len(out))
	for _, e := range out {
		taken[[2]string{e.Service, e.Name}] = true
	}
	seen := make(map[[2]string]bool, len(out))
	for i := range out {
		e := &out[i]
		k := [2]string{e.Service, e.Name}
		if !seen[k] {
			seen[k] = true
			continue
		}
		for n := 2; ; n++ {
			sfx := "_" + strconv.Itoa(n)
			name := identName(e.Name, maxName-len(sfx)) + sfx
			if alt := [2]string{e.Service, name}; !taken[alt] {
				e.Name = name
				taken[alt], seen[alt] = true, true
				break
			}
		}
	}
	return out, nil
}

// identName makes s an endpoint name of at most limit bytes.
func identName(s string, limit int) string {
	b := []byte(s)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			b[i] = '_'
		}
	}
	if len(b) > limit {
		b = b[:limit]
	}
	return string(b)
}
