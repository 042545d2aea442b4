package query

// SetMemberScanRatio sets memberScanRatio (0: always scan role members in
// the index; a large value: always scan users in memory) and returns the
// function that restores it.
func SetMemberScanRatio(n int) func() {
	old := memberScanRatio
	memberScanRatio = n
	return func() { memberScanRatio = old }
}

// SetWhatIfStream makes WhatIf read its candidates in order from the
// index whenever a proposal reaches users through roles or namespaces
// (however few), and returns the function that restores the default.
func SetWhatIfStream() func() {
	f, n := whatIfSmallFactor, whatIfSmallFloor
	whatIfSmallFactor, whatIfSmallFloor = 0, -1
	return func() { whatIfSmallFactor, whatIfSmallFloor = f, n }
}

// SetWhatIfListed makes WhatIf list its candidates in full on every page
// (as before it could read them in order), and returns the function that
// restores the default.
func SetWhatIfListed() func() {
	f, n := whatIfSmallFactor, whatIfSmallFloor
	whatIfSmallFactor, whatIfSmallFloor = 0, 1<<40
	return func() { whatIfSmallFactor, whatIfSmallFloor = f, n }
}

// SetWhatIfChunk sets how many candidates WhatIf takes at a time, and
// returns the function that restores it.
func SetWhatIfChunk(n int) func() {
	old := whatIfChunk
	whatIfChunk = n
	return func() { whatIfChunk = old }
}
