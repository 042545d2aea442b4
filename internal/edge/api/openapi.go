package api

import (
	"encoding/json"
	"sync"
)

// OpenAPI returns the API's OpenAPI 3.1 document, generated from Table.
func OpenAPI() (json.RawMessage, error) {
	openAPI.once.Do(func() { openAPI.doc, openAPI.err = json.Marshal(generate(Table())) })
	return openAPI.doc, openAPI.err
}

var openAPI struct {
	once sync.Once
	doc  json.RawMessage
	err  error
}
