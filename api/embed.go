// Package api holds the OpenAPI document of the public endpoint.
package api

import _ "embed"

// OpenAPI is api/openapi.yaml, embedded so the binary can serve it and the
// tests can validate real responses against it.
//
//go:embed openapi.yaml
var OpenAPI []byte
