package events

// RoleMember is a holder of a role: the user UserID, to whom the role is
// assigned in namespace Namespace (events.UserRoleAssigned). Its JSON is part of
// the public contract of the read and audit APIs.
type RoleMember struct {
	Namespace string `json:"namespace"`
	UserID    string `json:"userId"`
}
