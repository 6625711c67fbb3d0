package memory_test

import (
	"testing"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/contract"
)

func TestJobsContract(t *testing.T) {
	t.Parallel()
	contract.JobRepository(t, func(*testing.T) ports.JobRepository { return memory.NewJobs() })
}
