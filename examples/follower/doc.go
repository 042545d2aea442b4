// Command follower is a tiny game server that answers permission checks
// in-process: it embeds a Grantlog follower (a Pebble replica of the
// permission index fed from the NATS event stream) and asks it whether
// players may join or host a match and read their orders, with no network
// hop per check.
//
// Run it against `grantlog serve` (see the README's "Go SDK"):
//
//	go run ./examples/follower --nats-url nats://127.0.0.1:4222 \
//	  --nats-creds grantlog-data/nats-follower.creds --dir follower-data \
//	  --namespace game --users p1,p2
//
// follower is in the top tier (perm and events → storage → domain → edges
// → server, client, cmd) and plays a program outside Grantlog: it imports
// only the public SDK (client) and perm, never an internal package.
package main
