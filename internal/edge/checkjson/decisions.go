package checkjson

import "github.com/grantlog/grantlog/query"

// Decisions counts a batch answer's checks by decision, for the metrics:
// allowed, denied, and refused on their own (an errorCode).
func Decisions(res *query.BatchResult) (allowed, denied, errored int) {
	for i := range res.Results {
		switch it := &res.Results[i]; {
		case it.ErrorCode != "":
			errored++
		case it.Allowed:
			allowed++
		default:
			denied++
		}
	}
	return allowed, denied, errored
}
