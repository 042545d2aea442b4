// Package principal names who calls Grantlog: the identity recorded as the
// actor of events and checked by authorization.
package principal

import "github.com/grantlog/grantlog/events"

// Caller is an authenticated caller.
type Caller struct {
	events.Actor
	// Root marks the bootstrap Super Admin credential, which holds every
	// permission.
	Root bool
	// OnBehalfOf is the owner a token caller acts for.
	OnBehalfOf *events.Actor
}

// BootstrapAdminID is the user id the bootstrap Super Admin credential acts as.
const BootstrapAdminID = "grantlog-bootstrap-admin"

// BootstrapNamespace is the namespace the bootstrap admin's Super Admin
// assignment is made in.
const BootstrapNamespace = "grantlog"

// Bootstrap returns the caller of the bootstrap Super Admin credential.
func Bootstrap() Caller {
	return Caller{Actor: events.Actor{Type: events.ActorUser, ID: BootstrapAdminID}, Root: true}
}
