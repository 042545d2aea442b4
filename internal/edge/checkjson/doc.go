// Package checkjson encodes and decodes the JSON of batch checks
// (query.BatchRequest and query.BatchResult) without reflection, for the
// batch endpoints (POST /v1/checks, grantlog.v1.checks), the SDK and the
// load tool: a batch of 1,000 checks otherwise spends more time in JSON
// than in checking.
//
// The wire format is exactly that of the generic encoders. Each decoder is
// a fast path for the common shape of its input: it reports false for
// anything outside that shape (escapes, non-ASCII text, null, an endpoint
// with params, attributes or an explanation, duplicate or differently cased keys,
// malformed JSON), and the caller then decodes the same bytes with the
// generic decoder, which gives the answer (and the error messages) it
// always gave. The encoders hand what they do not write themselves (an
// explanation, an endpoint, attributes, strings needing escapes) to the
// generic encoder.
//
// checkjson is in the edge tier (perm and events → storage → domain →
// edges → server, client, cmd): it imports perm and query only.
package checkjson
