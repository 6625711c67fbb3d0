// Package api holds the OpenAPI documents: the public endpoint and the
// write API for workers.
package api

import _ "embed"

// OpenAPI is api/openapi.yaml, embedded so the binary can serve it and the
// tests can validate real responses against it.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Internal is api/internal.yaml, the write API for workers, embedded for
// the tests that validate real responses against it.
//
//go:embed internal.yaml
var Internal []byte
