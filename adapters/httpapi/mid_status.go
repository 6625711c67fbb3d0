package httpapi

import nethttp "net/http"

// statusRecorder remembers the status written, for the access log, the
// metrics and recovery (which may answer only if nothing was written yet).
type statusRecorder struct {
	nethttp.ResponseWriter
	status int
	wrote  bool
}

// recorder returns w's recorder when an outer middleware already made one,
// so every middleware sees the same status, or wraps w in a new one.
func recorder(w nethttp.ResponseWriter) *statusRecorder {
	if rec, ok := w.(*statusRecorder); ok {
		return rec
	}
	return &statusRecorder{ResponseWriter: w}
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = nethttp.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

// code is the status the client got: one the handler wrote, or 200 when it
// wrote nothing (net/http then answers 200, as for a HEAD with no body).
func (s *statusRecorder) code() int {
	if !s.wrote {
		return nethttp.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusRecorder) Unwrap() nethttp.ResponseWriter { return s.ResponseWriter }
