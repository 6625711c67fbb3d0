package domain

// Status is the state of an asynchronous composition job.
type Status string

const (
	// StatusPending means the job was accepted and is still being processed.
	StatusPending Status = "PENDING"
	// StatusDone means the job succeeded; its links point at the created resource.
	StatusDone Status = "DONE"
	// StatusFailed means the job ended in failure; its Failure says why.
	StatusFailed Status = "FAILED"
)

// Statuses lists every Status, in lifecycle order.
func Statuses() []Status {
	return []Status{StatusPending, StatusDone, StatusFailed}
}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusDone, StatusFailed:
		return true
	}
	return false
}

// Terminal reports whether a job in status s can never change again.
func (s Status) Terminal() bool {
	return s == StatusDone || s == StatusFailed
}
