package api

// accelbyteOps are AccelByte IAM's own admin role, user-role and IAM
// client operations, at AccelByte's paths with AccelByte's JSON.
func accelbyteOps() []*Op { return nil }
