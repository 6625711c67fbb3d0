package test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestComposePublishesOnLoopbackOnly: docker-compose.yml publishes every
// port of every service on the host's 127.0.0.1, like every listener of
// the project; "8080:8080" would open the API on all of the host's
// interfaces.
func TestComposePublishesOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../docker-compose.yml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Ports []string `yaml:"ports"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose))
	published := 0
	for name, svc := range compose.Services {
		for _, p := range svc.Ports {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "service %s publishes %q beyond loopback", name, p)
			published++
		}
	}
	require.Positive(t, published, "the jobstatus service publishes its ports")
}
