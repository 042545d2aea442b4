// Package soak holds the soak test with crashes (soak_test.go): mixed load
// against real `grantlog serve` processes while they are SIGKILLed and
// restarted at random, then proofs that nothing acknowledged was lost or
// stored twice, that every index equals a replay from zero and that the
// audit hash chains verify. It has no code of its own; run it with
//
//	GRANTLOG_SOAK_DURATION=2m go test -run TestSoak -v -timeout 15m ./internal/soak/
//
// (see soak_test.go for every knob). Without GRANTLOG_SOAK_DURATION the
// test is skipped, so `go test ./...` stays quick.
package soak
