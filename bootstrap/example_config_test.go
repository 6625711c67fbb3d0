package bootstrap_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/bootstrap"
)

// TestExampleConfigLoads keeps configs/jobstatus.yaml in step with Config.
func TestExampleConfigLoads(t *testing.T) {
	t.Parallel()
	cfg, err := bootstrap.LoadConfig([]string{"JOBSTATUS_CONFIG=../configs/jobstatus.yaml"})
	require.NoError(t, err)
	require.Equal(t, bootstrap.DefaultConfig(), cfg)
}
