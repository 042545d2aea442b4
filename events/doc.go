// Package events defines Grantlog's event log contract: the versioned envelope
// every change is written in, the event types and their payloads, the subjects
// events are appended to, and the codec that reads every version ever written.
//
// Event type names ("role.created.v1") are a public contract. They are never
// derived from Go type names; a type whose payload changes gets a new version
// and the old version stays decodable (golden files under testdata/ prove it).
//
// Caller (who issues commands and asks checks) and RoleMember (who holds
// a role) are here too: the public packages name them in their APIs.
//
// Tier 0. The package depends on nothing else in Grantlog: the standard
// library and github.com/goccy/go-json only; internal/arch enforces this.
package events
