package events

// TypeUserRolesAssignedBatch is a bulk assignment: many assignments made in
// one namespace at one revision, all or nothing.
const TypeUserRolesAssignedBatch = "user.roles_assigned_batch.v1"

// UserRolesAssignedBatch records many assignments made within the event's
// namespace at once. Each applies exactly as a UserRoleAssigned would.
type UserRolesAssignedBatch struct {
	Assignments []UserRoleAssigned `json:"assignments"`
}

// EventType implements Payload.
func (UserRolesAssignedBatch) EventType() string { return TypeUserRolesAssignedBatch }
