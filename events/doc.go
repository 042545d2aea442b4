// Package events defines Grantlog's event log contract: the versioned envelope
// every change is written in, the event types and their payloads, the subjects
// events are appended to, and the codec that reads every version ever written.
//
// Event type names ("role.created.v1") are a public contract. They are never
// derived from Go type names; a type whose payload changes gets a new version
// and the old version stays decodable (golden files under testdata/ prove it).
//
// events is the bottom tier of Grantlog, beside perm (the tiers: perm and
// events → storage → domain → edges → server, client, cmd). It depends on
// nothing else in Grantlog (the standard library and goccy/go-json only),
// and every other package may import it.
package events
