package domain

import (
	"slices"
	"time"
)

// Precision is the resolution of every time a job records. PostgreSQL keeps
// microseconds; rounding here, once, makes a job read back from any store
// equal to the job that was written, whichever path wrote it.
const Precision = time.Microsecond

// EarliestTime and LatestTime bound every time a job carries: RFC 3339
// and HTTP dates write the years 1 to 9999 only (ValidTime).
var (
	EarliestTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	LatestTime   = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// ValidTime reports whether t lies between EarliestTime and LatestTime:
// a time the service can present. Every time the domain makes is one;
// only a store written by hand holds others.
func ValidTime(t time.Time) bool {
	return !t.Before(EarliestTime) && !t.After(LatestTime)
}

// Timestamp returns t in UTC at Precision. Every time stored in a Job goes
// through it.
func Timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(Precision)
}

// Links returns a copy of links that is never nil: a job without links has
// an empty list, not a missing one.
func Links(links []Link) []Link {
	if links == nil {
		return []Link{}
	}
	return slices.Clone(links)
}

// Normalize applies the job invariants to a job rebuilt from storage: its
// times at Precision in UTC, its links a non-nil list of its own, its
// failure and finish time copies.
func (j Job) Normalize() Job {
	j.ETA = Timestamp(j.ETA)
	j.CreatedAt = Timestamp(j.CreatedAt)
	j.UpdatedAt = Timestamp(j.UpdatedAt)
	j.Links = Links(j.Links)
	if j.Failure != nil {
		f := *j.Failure
		j.Failure = &f
	}
	if j.FinishedAt != nil {
		t := Timestamp(*j.FinishedAt)
		j.FinishedAt = &t
	}
	return j
}
