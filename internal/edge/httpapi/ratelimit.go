package httpapi

import (
	"net/http"

	"github.com/grantlog/grantlog/internal/edge/ratelimit"
)

// limit takes a token of key's bucket (Config.Limiter). When there is
// none it answers 429 (errorCode rateLimited) with Retry-After and returns
// false. Callers check a.Limiter != nil first, so that without a limiter
// the key is never built: a nil check is all a request pays.
func (a *server) limit(w http.ResponseWriter, r *http.Request, key string) bool {
	err := a.Limiter.Check(key)
	if err == nil {
		return true
	}
	if secs, ok := ratelimit.RetryAfter(err); ok {
		w.Header().Set(ratelimit.RetryAfterHeader, secs)
	}
	a.fail(w, r, err)
	return false
}
