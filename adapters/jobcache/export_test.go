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

// HeldIDs returns every id the model keeps, as map keys and in its
// entries (tests only).
func HeldIDs(m *Model) []domain.ID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var ids []domain.ID
	for k, e := range m.byID {
		ids = append(ids, k, e.id)
	}
	return ids
}
