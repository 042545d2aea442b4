package auth

import "github.com/grantlog/grantlog/events"

// BootstrapAdminID is the user id the bootstrap Super Admin credential acts as.
const BootstrapAdminID = "grantlog-bootstrap-admin"

// BootstrapNamespace is the namespace the bootstrap admin's Super Admin
// assignment is made in.
const BootstrapNamespace = "grantlog"

// Bootstrap returns the service acting as the bootstrap admin with every
// permission: on a new stream (default roles) and for a bootstrap token
// made before the bootstrap credential lived in the event log.
func Bootstrap() events.Caller {
	return events.Caller{Actor: events.Actor{Type: events.ActorUser, ID: BootstrapAdminID}, Root: true}
}

// BootstrapCredential returns the caller of the bootstrap Super Admin
// credential with token id: it holds every permission, acts for the
// bootstrap admin user, and is recorded as the token (so that what it
// does, and the tokens it issues, are tied to it).
func BootstrapCredential(tokenID string) events.Caller {
	return events.Caller{
		Actor:      events.Actor{Type: events.ActorToken, ID: tokenID},
		OnBehalfOf: &events.Actor{Type: events.ActorUser, ID: BootstrapAdminID},
		Root:       true,
	}
}

// BootstrapTokenName is the name of every bootstrap credential token.
const BootstrapTokenName = "bootstrap"
