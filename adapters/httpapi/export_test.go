package httpapi

// StatusJobID is the asyncJobId the status handler reads from r.
var StatusJobID = statusJobID
