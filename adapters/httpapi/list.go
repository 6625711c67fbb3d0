package httpapi

import (
	"encoding/json"
	nethttp "net/http"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/jobstatus/jobstatus/app"
	"github.com/jobstatus/jobstatus/domain"
)

// JobsPath is the route of the listing of the caller's jobs.
const JobsPath = "/patients/composition/jobs"

// listParams are the query parameters the listing reads; any other is refused.
var listParams = []string{"status", "created_from", "created_to", "page_size", "page_token"}

// ListMeta is Meta with the listing's paging.
type ListMeta struct {
	Meta
	// NextPageToken asks for the next page; absent on the last one.
	NextPageToken string `json:"next_page_token,omitempty"`
	// Unreadable are the ids of the page's jobs the service cannot read
	// (rows written by hand against its rules), in listing order; absent
	// when there are none. Polling one answers 500 until its row is fixed.
	Unreadable []string `json:"unreadable,omitempty"`
}

type listEnvelope struct {
	Data []JobData `json:"data"`
	Meta ListMeta  `json:"meta"`
}

func (h *Handler) listJobs(w nethttp.ResponseWriter, r *nethttp.Request) {
	p, _, ok := h.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	q, err := listQuery(r)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	q.Principal = p
	page, err := h.app.ListJobs.Handle(ctx, q)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	body := listEnvelope{Data: make([]JobData, len(page.Jobs)), Meta: ListMeta{Meta: meta(r, nethttp.StatusOK), NextPageToken: page.NextPageToken}}
	body.Meta.Type = "array"
	for i, j := range page.Jobs {
		body.Data[i] = toJobData(j)
	}
	if len(page.Unreadable) > 0 {
		ids := make([]string, len(page.Unreadable))
		for i, u := range page.Unreadable {
			ids[i] = u.ID.String()
		}
		body.Meta.Unreadable = ids
		// One line a listing, with the first job's fields and every id: a
		// line a job flooded the log when a page of them was listed again
		// and again.
		fields := append(requestFields(ctx), unreadableFields(page.Unreadable[0])...)
		h.logger.Error("job cannot be read", append(fields, zap.Strings("job_ids", ids))...)
	}
	buf, err := json.Marshal(body)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeRaw(w, r, nethttp.StatusOK, buf)
}

// principal authenticates a request without a body, the way every public
// endpoint does, and returns the credentials it read; when it returns false
// the refusal has been answered.
func (h *Handler) principal(w nethttp.ResponseWriter, r *nethttp.Request) (domain.Principal, app.Credentials, bool) {
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		h.fail(w, r, errMalformed, "")
		return domain.Principal{}, app.Credentials{}, false
	}
	creds, err := credentials(r)
	if err != nil {
		h.fail(w, r, err, "")
		return domain.Principal{}, app.Credentials{}, false
	}
	actx, span := useCaseSpan(r.Context(), "Authenticate")
	p, err := h.app.Authenticate.Handle(actx, creds)
	endSpan(span, err)
	if err != nil {
		h.fail(w, r, err, creds.Token)
		return domain.Principal{}, app.Credentials{}, false
	}
	setClientID(r.Context(), p.ClientID)
	return p, creds, true
}

// listQuery reads the query string: each known parameter at most once,
// no other parameter, and no pair that cannot be read (a bad escape, a
// semicolon), which URL.Query would silently drop.
func listQuery(r *nethttp.Request) (app.ListJobs, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		for _, pair := range strings.Split(r.URL.RawQuery, "&") {
			if _, perr := url.ParseQuery(pair); perr != nil {
				return app.ListJobs{}, &domain.ValidationError{Field: "query", Reason: "cannot read " + quoteParam(pair)}
			}
		}
		return app.ListJobs{}, &domain.ValidationError{Field: "query", Reason: "cannot be read"}
	}
	for name, vs := range values {
		switch {
		case !slices.Contains(listParams, name):
			return app.ListJobs{}, &domain.ValidationError{Field: "query", Reason: "unknown parameter " + quoteParam(name)}
		case len(vs) > 1:
			return app.ListJobs{}, &domain.ValidationError{Field: name, Reason: "must be given once"}
		}
	}
	return app.ListJobs{Status: values.Get("status"), CreatedFrom: values.Get("created_from"), CreatedTo: values.Get("created_to"),
		PageSize: values.Get("page_size"), PageToken: values.Get("page_token")}, nil
}

// quoteParam names a parameter the caller sent, cut short and quoted, so
// an error message never echoes much of the input.
func quoteParam(name string) string {
	if len(name) > 32 {
		name = name[:32]
	}
	b, _ := json.Marshal(name)
	return string(b)
}
