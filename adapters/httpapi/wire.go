package httpapi

import "github.com/jobstatus/jobstatus/domain"

// Meta is the envelope's description of the response.
type Meta struct {
	Code      int    `json:"code"`
	URL       string `json:"url"`
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
}

// JobData is a job as clients see it.
type JobData struct {
	ID     string        `json:"id"`
	Status domain.Status `json:"status"`
	ETA    string        `json:"eta"`
	Links  []LinkData    `json:"links"`
	Error  *FailureData  `json:"error,omitempty"`
}

// LinkData is a link as clients see it.
type LinkData struct {
	Entity string `json:"entity"`
	Href   string `json:"href"`
}

// FailureData is why a job failed, as clients see it.
type FailureData struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// ErrorData says what went wrong, in words safe to show to anyone.
type ErrorData struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type errorEnvelope struct {
	Error ErrorData `json:"error"`
	Meta  Meta      `json:"meta"`
}

// etaLayout is RFC 3339 in UTC with milliseconds, as the registry writes it.
const etaLayout = "2006-01-02T15:04:05.000Z07:00"

func toJobData(j domain.Job) JobData {
	links := make([]LinkData, len(j.Links))
	for i, l := range j.Links {
		links[i] = LinkData{Entity: l.Entity, Href: l.Href}
	}
	d := JobData{ID: j.ID.String(), Status: j.Status, ETA: j.ETA.UTC().Format(etaLayout), Links: links}
	if j.Status == domain.StatusFailed && j.Failure != nil {
		d.Error = &FailureData{Code: j.Failure.Code, Message: j.Failure.Message}
	}
	return d
}
