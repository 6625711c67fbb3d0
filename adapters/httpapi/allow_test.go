package httpapi_test

import (
	"encoding/json"
	nethttp "net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/httpapi"
)

// TestMethodNotAllowedNamesTheResourcesMethods: a 405 carries Allow with the
// methods of the resource its target is (RFC 9110 section 15.5.6), on every
// route of every listener, whatever method was refused. A path that looks
// like an action but is another resource (POST /internal/jobs/complete is
// the {id} resource) gets that resource's methods.
func TestMethodNotAllowedNamesTheResourcesMethods(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.pending.ID.String()
	getHead := []string{"GET", "HEAD"}
	post := []string{"POST"}
	routes := map[string][]struct {
		template, path string
		allow          []string
	}{
		"Public": {
			{httpapi.JobPath, jobPath(b.pending.ID), getHead},
			{httpapi.JobPath, "/patients/composition/job/events", getHead},
			{httpapi.JobsPath, httpapi.JobsPath, getHead},
			{httpapi.EventsPath, httpapi.EventsPath, getHead},
			{httpapi.OpenAPIPath, httpapi.OpenAPIPath, getHead},
		},
		"Internal": {
			{httpapi.InternalJobsPath, httpapi.InternalJobsPath, post},
			{httpapi.InternalJobPath, "/internal/jobs/" + id, getHead},
			{httpapi.InternalJobPath, "/internal/jobs/complete", getHead},
			{httpapi.InternalJobPath, "/internal/jobs/fail", getHead},
			{httpapi.InternalJobPath, "/internal/jobs/not-a-uuid", getHead},
			{httpapi.InternalCompletePath, "/internal/jobs/" + id + "/complete", post},
			{httpapi.InternalCompletePath, "/internal/jobs/complete/complete", post},
			{httpapi.InternalCompletePath, "/internal/jobs/fail/complete", post},
			{httpapi.InternalFailPath, "/internal/jobs/" + id + "/fail", post},
			{httpapi.InternalFailPath, "/internal/jobs/complete/fail", post},
		},
		"Admin": {
			{httpapi.HealthzPath, httpapi.HealthzPath, getHead},
			{httpapi.ReadyzPath, httpapi.ReadyzPath, getHead},
			{httpapi.MetricsPath, httpapi.MetricsPath, getHead},
		},
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "FROB"}
	for _, l := range startListeners(t, b) {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			for _, route := range routes[l.name] {
				for _, method := range methods {
					if slices.Contains(route.allow, method) {
						continue
					}
					t.Run(route.path+"/"+method, func(t *testing.T) {
						t.Parallel()
						req, err := nethttp.NewRequest(method, "http://"+l.addr+route.path, nil)
						require.NoError(t, err)
						res, err := nethttp.DefaultClient.Do(req)
						require.NoError(t, err)
						defer res.Body.Close()
						require.Equal(t, 405, res.StatusCode, route.template)
						require.Equal(t, strings.Join(route.allow, ", "), res.Header.Get("Allow"), route.template)
						if method != "HEAD" {
							var body struct{ Error struct{ Type string } }
							require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
							require.Equal(t, "method_not_allowed", body.Error.Type)
						}
					})
				}
			}
		})
	}
	t.Run("EveryRouteIsListed", func(t *testing.T) {
		t.Parallel()
		var listed []string
		for _, rs := range routes {
			for _, r := range rs {
				listed = append(listed, r.template)
			}
		}
		for _, tmpl := range []string{httpapi.JobPath, httpapi.JobsPath, httpapi.EventsPath, httpapi.OpenAPIPath,
			httpapi.InternalJobsPath, httpapi.InternalJobPath, httpapi.InternalCompletePath, httpapi.InternalFailPath,
			httpapi.HealthzPath, httpapi.ReadyzPath, httpapi.MetricsPath} {
			require.Contains(t, listed, tmpl)
		}
	})
}
