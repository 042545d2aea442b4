// Package catalogs ships example data from the seeds: Hathora's and
// Vast.ai's scope catalogs, AccelByte's and Hathora's endpoint catalogs,
// and role presets (AccelByte's default roles, Hathora's Admin / Member /
// Viewer). The JSON files beside this file, and endpoints-accelbyte.tsv
// (AccelByte's whole published endpoint catalog, 1,840 rows, MIT-licensed:
// endpoints-accelbyte.LICENSE), are the documentation; the
// package embeds them (go:embed) so the service can load a catalog or a
// preset with one command (POST /v1/catalogs/...) and needs no file at
// run time.
//
// Tier 1 (data). catalogs imports perm; it may import tier 0 and the
// storage packages, never a domain package, an edge, internal/server,
// client, cmd, examples or a test-support package. internal/arch enforces
// this.
package catalogs
