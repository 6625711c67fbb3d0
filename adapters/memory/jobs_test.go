package memory_test

import (
	"testing"

	"github.com/jobstatus/jobstatus/adapters/memory"
	"github.com/jobstatus/jobstatus/ports"
	"github.com/jobstatus/jobstatus/test/contract"
)

func TestJobsContract(t *testing.T) {
	t.Parallel()
	newRepo := func(*testing.T) ports.JobRepository { return memory.NewJobs() }
	t.Run("Repository", func(t *testing.T) { t.Parallel(); contract.JobRepository(t, newRepo) })
	t.Run("Durations", func(t *testing.T) { t.Parallel(); contract.Durations(t, newRepo) })
	t.Run("Maintenance", func(t *testing.T) { t.Parallel(); contract.Maintenance(t, newRepo) })
	t.Run("Reports", func(t *testing.T) { t.Parallel(); contract.Reports(t, newRepo) })
	t.Run("CreationFilters", func(t *testing.T) { t.Parallel(); contract.CreationFilters(t, newRepo) })
	t.Run("PagesThroughAnyCreationYear", func(t *testing.T) { t.Parallel(); contract.PagesThroughAnyCreationYear(t, newRepo) })
	t.Run("ChangeLog", func(t *testing.T) { t.Parallel(); contract.ChangeLog(t, newRepo) })
}
