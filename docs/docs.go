// Package docs embeds the machine-readable API documents so the binary serves
// them: the OpenAPI description of REST v1 (as JSON), the AsyncAPI description
// of the WebSocket frames, and the API reference page.
package docs

import (
	_ "embed"
	"sync"

	"sigs.k8s.io/yaml"
)

// OpenAPIYAML is docs/openapi.yaml, the hand-written source.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// AsyncAPIYAML is docs/asyncapi.yaml: the WebSocket frames.
//
//go:embed asyncapi.yaml
var AsyncAPIYAML []byte

// ReferenceHTML is the API reference page; its scripts are the web client's
// static assets (frontend/public/api-docs), so nothing comes from a CDN.
//
//go:embed reference.html
var ReferenceHTML []byte

// OpenAPIJSON is the OpenAPI document converted to JSON once. sigs.k8s.io/yaml
// turns YAML's integer keys (the response codes) into JSON strings, which a
// plain YAML decoder followed by encoding/json would refuse.
var OpenAPIJSON = sync.OnceValues(func() ([]byte, error) { return yaml.YAMLToJSON(OpenAPIYAML) })
