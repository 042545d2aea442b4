package command

import "context"

// CheckRoleAlive exposes checkRoleAlive to the package's external tests.
func (s *Service) CheckRoleAlive(ctx context.Context, roleID string, decidedAt, rev uint64) error {
	return s.checkRoleAlive(ctx, roleID, decidedAt, rev)
}
