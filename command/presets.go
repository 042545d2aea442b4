package command

import (
	"context"
	"errors"
)

// PresetRole is the result of one role of ApplyPreset.
type PresetRole struct {
	RoleID   string `json:"roleId"`
	RoleName string `json:"roleName"`
	// Created is false when a role of that name already existed (it is left as it is).
	Created  bool   `json:"created"`
	Revision uint64 `json:"revision,omitempty"`
}

// ApplyPreset creates the roles of a preset that do not exist yet (by
// name); existing roles are left untouched, so applying twice is harmless.
func (s *Service) ApplyPreset(ctx context.Context, m Meta, roles []CreateRole) ([]PresetRole, error) {
	out := make([]PresetRole, 0, len(roles))
	for _, r := range roles {
		rm := m
		rm.CommandID = "" // one command per role
		ev, rev, err := s.CreateRole(ctx, rm, r)
		var ce *Error
		switch {
		case err == nil:
			out = append(out, PresetRole{RoleID: ev.RoleID, RoleName: ev.RoleName, Created: true, Revision: rev})
		case errors.As(err, &ce) && ce.Code == "duplicateRoleName":
			v := s.state.Acquire()
			existing := v.RoleByName(r.RoleName)
			id := ""
			if existing != nil {
				id = existing.ID
			}
			v.Release()
			out = append(out, PresetRole{RoleID: id, RoleName: r.RoleName})
		default:
			return out, err
		}
	}
	return out, nil
}
