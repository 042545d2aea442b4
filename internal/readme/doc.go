// Package readme holds the test that runs the examples of the repository's
// README.md against a fresh server and compares their output with what the
// README shows (readme_test.go). It has no production code.
package readme
