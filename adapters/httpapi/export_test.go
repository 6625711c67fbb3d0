package httpapi

// StatusJobID is the asyncJobId the status handler reads from r.
var StatusJobID = statusJobID

// PreferredWait is the wait a request's Prefer headers ask for.
var PreferredWait = preferredWait
