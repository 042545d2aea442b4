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

// TypeTransactionCommitted ends a transaction whose other events are in
// other namespaces but which relies on the platform namespace's state (the
// roles it assigns): appended in the platform namespace with that
// namespace's expected last revision, it makes a concurrent change of a
// role refuse the whole transaction. It changes no state.
const TypeTransactionCommitted = "transaction.committed.v1"

// TransactionCommitted is the last event of such a transaction.
type TransactionCommitted struct {
	// Events is the number of the transaction's other events.
	Events int `json:"events"`
	// Roles are the roles its assignments rely on.
	Roles []string `json:"roles"`
}

// EventType implements Payload.
func (TransactionCommitted) EventType() string { return TypeTransactionCommitted }
