package query

// SetMemberScanRatio sets memberScanRatio (0: always scan role members in
// the index; a large value: always scan users in memory) and returns the
// function that restores it.
func SetMemberScanRatio(n int) func() {
	old := memberScanRatio
	memberScanRatio = n
	return func() { memberScanRatio = old }
}
