package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/edge/api"
)

// sample is a value of a parameter's type, with characters that need
// escaping in strings.
func sample(t reflect.Type) any {
	switch t.Kind() {
	case reflect.String:
		return "a b/c?d%e"
	case reflect.Slice:
		return []string{"x y", "z&w"}
	case reflect.Uint64:
		return uint64(42)
	case reflect.Int:
		return 7
	case reflect.Pointer:
		return 9
	case reflect.Bool:
		return true
	}
	return nil
}

// TestHTTPRequestRoundTrip: a request encoded for HTTP by HTTPRequest and
// bound by the HTTP edge's BindHTTP is the request the NATS edge decodes
// from the same fields, for every operation.
func TestHTTPRequestRoundTrip(t *testing.T) {
	for _, o := range api.Table() {
		if o.Fast || o.Public || o.Compat != "" { // compat ops are HTTP only, at a seed system's own paths and JSON
			continue
		}
		t.Run(o.Name, func(t *testing.T) {
			fields := map[string]any{}
			for _, p := range o.Params {
				fields[p.Name] = sample(p.Type)
			}
			if o.Body {
				fields["reason"] = "because: ünïcode & more"
			}
			raw, err := json.Marshal(fields)
			require.NoError(t, err)
			viaNATS := o.NewRequest()
			require.NoError(t, api.Decode(raw, viaNATS, o.MaxBytes))

			target, body, err := o.HTTPRequest(fields)
			require.NoError(t, err)
			viaHTTP := o.NewRequest()
			mux := http.NewServeMux()
			served := false
			var decodeErr, bindErr error
			mux.HandleFunc(o.Method+" "+o.Path, func(w http.ResponseWriter, r *http.Request) {
				served = true
				if body != nil {
					decodeErr = api.Decode(body, viaHTTP, o.MaxBytes)
				}
				bindErr = o.BindHTTP(viaHTTP, r.PathValue, r.URL.Query())
			})
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(o.Method, target, bytes.NewReader(body)))
			require.True(t, served, "%s %s matches the route %s", o.Method, target, o.Path)
			require.NoError(t, decodeErr)
			require.NoError(t, bindErr)
			assert.Equal(t, viaNATS, viaHTTP)
		})
	}
}

func TestHTTPRequestRefuses(t *testing.T) {
	o, ok := api.ByName("role.get")
	require.True(t, ok)
	_, _, err := o.HTTPRequest(map[string]any{})
	assert.ErrorContains(t, err, "roleId is required")
	_, _, err = o.HTTPRequest(map[string]any{"roleId": "r", "nope": 1})
	assert.ErrorContains(t, err, "takes no field nope")
	_, _, err = o.HTTPRequest(map[string]any{"roleId": "r", "atLeastRevision": map[string]int{"x": 1}})
	assert.ErrorContains(t, err, "cannot be a query parameter")
}
