package jobcache

import (
	"time"

	"github.com/jobstatus/jobstatus/domain"
)

// SetClock replaces the model's clock (tests only).
func SetClock(m *Model, now func() time.Time) { m.now = now }

// Observe offers a store answer read at position at to the model, as a
// read that ends now would.
func Observe(m *Model, id domain.ID, job *domain.Job, at int64) { m.observe(id, job, at) }
