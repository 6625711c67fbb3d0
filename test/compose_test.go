package test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestComposePublishesOnLoopbackOnly: every port docker-compose.yml
// publishes is bound to 127.0.0.1, so the compose file never opens the
// service on the host's other interfaces (a reverse proxy does that).
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
			published++
			require.True(t, strings.HasPrefix(p, "127.0.0.1:") && strings.Count(p, ":") == 2,
				"service %s publishes %q: bind it as 127.0.0.1:HOST:CONTAINER", name, p)
		}
	}
	require.NotZero(t, published, "the compose file publishes the API")
}
