package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/ports"
)

// PollingConfig bounds what polling clients may ask for.
type PollingConfig struct {
	MaxWait       time.Duration // longest a request may be held (Prefer: wait)
	MaxRetryAfter time.Duration // longest Retry-After suggested for a pending job
}

// MaxRetryAfterLimit is the most MaxRetryAfter may be: a day, far above
// any useful poll interval and far below where the hints' arithmetic
// (rounding up to whole seconds) could overflow.
const MaxRetryAfterLimit = 24 * time.Hour

// Validate refuses negative bounds. MaxWait zero means no request is held;
// MaxRetryAfter must be at least one second and at most MaxRetryAfterLimit.
func (c PollingConfig) Validate() error {
	if c.MaxWait < 0 {
		return fmt.Errorf("app: polling max wait must not be negative, got %s", c.MaxWait)
	}
	if c.MaxRetryAfter < time.Second || c.MaxRetryAfter > MaxRetryAfterLimit {
		return fmt.Errorf("app: polling max retry-after must be between 1s and %s, got %s", MaxRetryAfterLimit, c.MaxRetryAfter)
	}
	return nil
}

// GetJobStatus asks for one job on behalf of an authenticated principal.
type GetJobStatus struct {
	Principal domain.Principal
	ID        string        // as the caller sent it; validated here
	Wait      time.Duration // if positive and the job is PENDING, wait up to this long for a change
}

// JobStatus is the answer: the job as the caller may see it, and polling hints.
type JobStatus struct {
	Job domain.Job
	// RetryAfter suggests when to poll a PENDING job again; zero otherwise.
	RetryAfter time.Duration
	// Waited is how long the caller was allowed to be held (capped), zero when
	// the request was answered at once.
	Waited time.Duration
}

// GetJobStatusHandler answers GetJobStatus.
type GetJobStatusHandler struct {
	jobs    ports.JobRepository
	at      ports.SnapshotReader // jobs, when it says where in the log it read; else nil
	clock   ports.Clock
	eta     *ETA
	changes *Changes
	cfg     PollingConfig
}

// NewGetJobStatusHandler returns a GetJobStatusHandler, or an error for a
// nil dependency or an invalid cfg.
func NewGetJobStatusHandler(jobs ports.JobRepository, clock ports.Clock, eta *ETA, changes *Changes, cfg PollingConfig) (GetJobStatusHandler, error) {
	if err := needETA("GetJobStatusHandler", jobs, clock, eta); err != nil {
		return GetJobStatusHandler{}, err
	}
	if changes == nil {
		return GetJobStatusHandler{}, missing("GetJobStatusHandler", "a change hub")
	}
	if err := cfg.Validate(); err != nil {
		return GetJobStatusHandler{}, err
	}
	at, _ := jobs.(ports.SnapshotReader)
	return GetJobStatusHandler{jobs: jobs, at: at, clock: clock, eta: eta, changes: changes, cfg: cfg}, nil
}

// Handle checks scope, then id format, then looks the job up. A job that
// belongs to another client is reported as domain.ErrNotFound, so a caller
// cannot learn that it exists. With Wait, a PENDING job is watched until it
// changes, the wait ends, or the service shuts down.
func (h GetJobStatusHandler) Handle(ctx context.Context, q GetJobStatus) (JobStatus, error) {
	if h.jobs == nil {
		return JobStatus{}, errUnwired
	}
	if err := q.Principal.Require(domain.ScopeCompositionRead); err != nil {
		return JobStatus{}, err
	}
	id, err := domain.ParseID(q.ID)
	if err != nil {
		return JobStatus{}, err
	}
	job, at, err := h.lookup(ctx, id, q.Principal)
	if err != nil {
		return JobStatus{}, err
	}
	var waited time.Duration
	if job.Status == domain.StatusPending && q.Wait > 0 && h.cfg.MaxWait > 0 {
		d := min(q.Wait, h.cfg.MaxWait)
		var applied bool
		if job, applied, err = h.wait(ctx, job, at, q.Principal, d); err != nil {
			return JobStatus{}, err
		}
		if applied {
			waited = d
		}
	}
	return h.present(job, waited), nil
}

// lookup reads the job as p may see it, and the log position the answer
// is as of: a change at a later position is newer than it, one at or
// below it is not (a job's version is no such position: it is taken
// before its change's position, and a job deleted and created again may
// get its new version before the delete's position). A repository that
// does not say where it read gives 0: then nothing orders the changes a
// held request is handed against its read, and each is only a cue to
// read again (see wait).
func (h GetJobStatusHandler) lookup(ctx context.Context, id domain.ID, p domain.Principal) (domain.Job, int64, error) {
	var (
		job domain.Job
		at  int64
		err error
	)
	if h.at != nil {
		job, at, err = h.at.GetAt(ctx, id)
	} else {
		job, err = h.jobs.Get(ctx, id)
	}
	var unreadable *domain.UnreadableJobError
	if errors.As(err, &unreadable) && !(domain.Job{ClientID: unreadable.ClientID}).VisibleTo(p.ClientID) {
		// Another client's job, however it is stored: it does not exist
		// for this caller.
		return domain.Job{}, at, domain.ErrNotFound
	}
	if err != nil {
		return domain.Job{}, at, err
	}
	if !job.VisibleTo(p.ClientID) {
		return domain.Job{}, at, domain.ErrNotFound
	}
	return job, at, nil
}

// FallbackInterval is how often a held request re-reads its job while the
// change feed is behind its staleness bound, so it never sleeps through a
// change.
const FallbackInterval = time.Second

// wait holds the request until the job is no longer PENDING or d passes.
// applied is false when no waiter could be registered at all (too many
// waiters, or shutting down). The change feed hands a waiter its job's
// change, new state included, so a change answers without any read. A
// waiter that goes on waiting reads its job again once subscribed again:
// a change handed out between its wake-up and its new subscription
// reached only the old one (TestAChangeRightAfterAnOlderOneIsNotMissed);
// the feed applies each batch to the read model before the waiters, so
// that read is from memory. When the feed falls behind its staleness bound
// the hub tells its waiters at once (Subscription.Behind) and each reads
// its job again within FallbackInterval (at a random moment: not all of
// them together); while it stays behind, the job is re-read every
// FallbackInterval instead.
func (h GetJobStatusHandler) wait(ctx context.Context, job domain.Job, at int64, p domain.Principal, d time.Duration) (_ domain.Job, applied bool, _ error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		sub, ok := h.changes.Subscribe(job.ID, at)
		if !ok {
			if !applied {
				return job, false, nil
			}
			// Shutting down: answer with the current state.
			fresh, _, err := h.lookup(ctx, job.ID, p)
			return fresh, true, err
		}
		applied = true
		// Read once subscribed, every time round: the job may have changed
		// before the first subscription, or between a wake-up and this one.
		fresh, freshAt, err := h.lookup(ctx, job.ID, p)
		if err != nil || fresh.Status != domain.StatusPending {
			sub.Cancel()
			return fresh, true, err
		}
		job, at = fresh, freshAt
		// While the feed vouches, the waiter waits on its change or on the
		// hub's word that the feed fell behind its bound (it may fall
		// behind after this subscription): then no wake-up can be trusted,
		// so the job is read again. While it does not vouch, the job is
		// read again every FallbackInterval unless it is back.
		var (
			ticker *time.Ticker
			poll   <-chan time.Time // nil while the feed vouches: never ready
			reread *time.Timer
			behind = sub.Behind
		)
		if !h.changes.IsLive() {
			ticker = time.NewTicker(FallbackInterval)
			poll = ticker.C
		}
		leave := func() { // ends this round's subscription
			if ticker != nil {
				ticker.Stop()
			}
			if reread != nil {
				reread.Stop()
			}
			sub.Cancel()
		}
	hold:
		for {
			select {
			case <-sub.C:
				leave()
				c, ok := sub.Change()
				if !ok || h.at == nil || c.Position <= at {
					break hold // lost, shutting down, not newer than what we hold, or unordered: read again
				}
				switch {
				case c.Op == ports.ChangeDelete, !c.Job.VisibleTo(p.ClientID):
					return domain.Job{}, true, domain.ErrNotFound
				case c.Job.Status != domain.StatusPending:
					return c.Job.Normalize(), true, nil
				}
				job, at = c.Job.Normalize(), c.Position // still pending: wait on
				break hold
			case <-behind:
				// Every waiter is told at once: each re-reads at its own
				// moment within FallbackInterval, as its ticker had it,
				// not all together (from the store, the read model being
				// behind too).
				behind = nil
				reread = time.NewTimer(rand.N(FallbackInterval))
				poll = reread.C
			case <-poll:
				if reread == nil && h.changes.IsLive() {
					continue
				}
				leave()
				break hold
			case <-timer.C:
				leave()
				fresh, _, err := h.lookup(ctx, job.ID, p)
				return fresh, true, err
			case <-ctx.Done():
				leave()
				return domain.Job{}, true, ctx.Err()
			}
		}
	}
}

// present applies the polling rules: a PENDING job past its eta gets a
// re-estimated eta (Overdue) instead of a date in the past, and a
// Retry-After derived from its eta, at least one second.
func (h GetJobStatusHandler) present(job domain.Job, waited time.Duration) JobStatus {
	st := JobStatus{Job: job, Waited: waited}
	if job.Status != domain.StatusPending {
		return st
	}
	now := h.clock.Now()
	st.Job.ETA = Overdue(job.ETA, now, h.cfg.MaxRetryAfter)
	most := max(time.Second, h.cfg.MaxRetryAfter)
	// Capped first: an eta centuries ahead (hand-written SQL) saturates
	// Sub, which rounding up would overflow.
	retry := min(st.Job.ETA.Sub(now), most)
	retry = (retry + time.Second - 1).Truncate(time.Second) // whole seconds, rounded up
	st.RetryAfter = clamp(retry, time.Second, most)
	return st
}

// Overdue is the eta a PENDING job is presented with at now: its own eta
// while that lies ahead, otherwise eta + k·step for the smallest k that lies
// ahead. The answer stays put until it is due in turn, and every instance
// computes the same one, so the job's representation (and its ETag) only
// changes when the job changes or the presented eta passes.
func Overdue(eta, now time.Time, step time.Duration) time.Time {
	if eta.After(now) || step <= 0 {
		return eta
	}
	// An eta more than a time.Duration (about 292 years) behind, which
	// only hand-written SQL stores, saturates now.Sub and k·step would
	// overflow: move it on by whole steps, a chunk at a time, first.
	chunk := step * max(1, math.MaxInt64/2/step) // a step over half the range is its own chunk
	for now.Sub(eta) >= chunk {
		eta = eta.Add(chunk)
	}
	k := now.Sub(eta)/step + 1
	return eta.Add(k * step).UTC()
}
