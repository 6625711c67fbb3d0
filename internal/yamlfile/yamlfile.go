// Package yamlfile decodes the service's YAML files (the config file, the
// api-keys file) strictly: unknown keys are errors, and so is a second
// document, which a decoder reading one document would silently ignore.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Decode reads the first YAML document of data into v with unknown keys
// refused, then refuses any further document that is not empty (a "---"
// with nothing or null after it is empty). Errors are the decoder's own
// (io.EOF for no document, *yaml.TypeError for wrong keys and types), so
// callers can tell them apart, or one naming the second document's line.
func Decode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return err
	}
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !empty(&doc) {
			return fmt.Errorf("line %d: a second YAML document; the file must hold one (its keys would be ignored)", doc.Content[0].Line)
		}
	}
}

// empty reports whether a document holds nothing but null; a document
// that is not empty has content.
func empty(doc *yaml.Node) bool {
	for _, n := range doc.Content {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!null" {
			return false
		}
	}
	return true
}
