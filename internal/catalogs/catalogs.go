package catalogs

import (
	"embed"
	"encoding/json"
	"fmt"

	"github.com/grantlog/grantlog/perm"
)

//go:embed *.json
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

// Endpoints returns the endpoints of endpoints-<name>.json ("accelbyte", "hathora").
func Endpoints(name string) ([]Endpoint, error) {
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
