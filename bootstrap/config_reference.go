package bootstrap

import (
	"fmt"
	"strings"
)

// Markers around the generated table in docs/configuration.md.
const (
	referenceBegin = "<!-- BEGIN configuration reference: generated from bootstrap.Config by `go generate ./bootstrap`; do not edit -->"
	referenceEnd   = "<!-- END configuration reference -->"
)

//go:generate go test -run TestConfigurationReferenceIsCurrent -update .

// configReference is the Markdown table of every setting: variable, YAML
// key, default (from DefaultConfig) and meaning (from the desc tag).
func configReference() string {
	var b strings.Builder
	b.WriteString("| variable | YAML key | default | meaning |\n|---|---|---|---|\n")
	def := DefaultConfig()
	for _, s := range settingsOf(&def) {
		variable := "—"
		if s.env != "" {
			variable = "`" + s.env + "`"
		}
		value := "empty"
		if v := formatValue(s.value); v != "" {
			value = "`" + v + "`"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", variable, s.yaml, value, s.desc)
	}
	return b.String()
}
