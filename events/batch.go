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

// TypeEndpointsRegisteredBatch registers many catalog endpoints at one
// revision, all or nothing (loading a whole catalog).
const TypeEndpointsRegisteredBatch = "endpoint.registered_batch.v1"

// EndpointsRegisteredBatch records many endpoint registrations at once, in
// the platform namespace. Each applies exactly as an EndpointRegistered
// would, in order.
type EndpointsRegisteredBatch struct {
	Endpoints []EndpointRegistered `json:"endpoints"`
}

// EventType implements Payload.
func (EndpointsRegisteredBatch) EventType() string { return TypeEndpointsRegisteredBatch }
