package httpapi

import nethttp "net/http"

// limitHeaders answers 431 with the JSON envelope when the request's headers
// exceed HeaderLimit. The server's own MaxHeaderBytes sits above this limit
// so the service, not net/http, writes the answer.
func limitHeaders(d dispatcher) Middleware {
	return func(next nethttp.Handler) nethttp.Handler {
		return limitHeadersOf(d, next)
	}
}

func limitHeadersOf(d dispatcher, next nethttp.Handler) nethttp.Handler {
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		size := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
		for name, values := range r.Header {
			for _, v := range values {
				size += len(name) + len(v) + 4
			}
		}
		if size > HeaderLimit {
			d.label(r)
			writeProblem(w, r, problem{status: nethttp.StatusRequestHeaderFieldsTooLarge, kind: typeTooLarge, message: msgTooLarge})
			return
		}
		next.ServeHTTP(w, r)
	})
}
