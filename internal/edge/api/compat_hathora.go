package api

// hathoraOps are Hathora's token API at Hathora's paths with Hathora's
// JSON; a Hathora org is a Grantlog namespace.
func hathoraOps() []*Op { return nil }
