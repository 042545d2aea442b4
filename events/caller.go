package events

// Caller is an authenticated caller of Grantlog: who issues commands and
// asks checks. Its Actor and OnBehalfOf are what the events it causes
// record (Envelope.Actor, Envelope.OnBehalfOf). Callers are made by
// authentication (internal/auth); a zero Caller is unauthenticated.
type Caller struct {
	Actor
	// Root marks the bootstrap Super Admin credential, which holds every
	// permission.
	Root bool
	// OnBehalfOf is the owner a token caller acts for.
	OnBehalfOf *Actor
}
