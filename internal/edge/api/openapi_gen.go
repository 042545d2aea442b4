package api

// generate builds the OpenAPI 3.1 document of ops. (Being written: see
// the OpenAPI issue item.)
func generate(ops []*Op) map[string]any {
	paths := map[string]any{}
	for _, o := range ops {
		item, _ := paths[o.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[o.Path] = item
		}
		item[lower(o.Method)] = map[string]any{"operationId": o.Name, "summary": o.Summary}
	}
	return map[string]any{"openapi": "3.1.0", "info": map[string]any{"title": "Grantlog", "version": "v1"}, "paths": paths}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
