# where.awk — part of `make bench` (scripts/bench.sh): reads the samples of
# a CPU profile as `go tool pprof -traces` prints them and says where the
# service's CPU goes, by kind of work. Each sample goes to the kind of the
# innermost frame that has one (an allocation made while parsing a request
# is "allocation", its socket read "read the request"), else "other".
# Prints one line per kind, largest first: "share-% seconds kind"; with
# -v tsv=1, "kind<TAB>milliseconds" lines in no order (for scripts).
#
#   go tool pprof -traces BINARY PROFILE | awk -f scripts/bench/where.awk

function kind(f) {
	if (f ~ /^runtime\.(gcBgMarkWorker|gcAssistAlloc|gcDrain|bgsweep|bgscavenge|gcStart|gcMarkDone|gcMarkTermination|sweepone|markroot)/) return "garbage collector (marking, assists, sweeping)"
	if (f ~ /^runtime\.(mallocgc|newobject|makeslice|growslice|makemap|rawstring|concatstring|mapassign)/) return "allocation"
	if (f ~ /^internal\/poll\.\(\*FD\)\.Write/) return "write the answer (socket)"
	if (f ~ /^internal\/poll\.\(\*FD\)\.Read/) return "read the request (socket)"
	if (f ~ /^internal\/poll\.setDeadlineImpl/) return "socket deadlines (the server's timeouts)"
	if (f ~ /^go\.uber\.org\/zap/) return "access log (zap)"
	if (f ~ /adapters\/metrics|prometheus/) return "metrics"
	if (f ~ /adapters\/(jwtauth|apikey)|app\.AuthenticateHandler|adapters\/httpapi\.\(\*Handler\)\.principal/) return "authentication (token cache, api-key)"
	if (f ~ /adapters\/jobcache|app\.GetJobStatusHandler/) return "read model lookup"
	if (f ~ /adapters\/httpapi\.(writeJob|writeRaw|\(\*answers\))|net\/http\.\(\*chunkWriter\)|net\/http\.Header\.(write|Write)|net\/http\.\(\*response\)\.(Write|write)/) return "the answer: body and headers"
	if (f ~ /adapters\/httpapi\.(\(\*framingScanner\)|\(\*framingConn\))/) return "request-smuggling scan"
	if (f ~ /^net\/http\.(readRequest|\(\*conn\)\.readRequest)|^net\/textproto|^net\/url/) return "parse the request (net/http)"
	if (f ~ /^runtime\.(schedule|findRunnable|park_m|mcall|netpoll|stopm|startm|wakep|notesleep|futex|gopark|goready|ready|runqsteal|checkTimers|usleep|osyield)/) return "scheduler, timers and netpoll"
	if (f ~ /adapters\/httpapi/) return "middleware and routing"
	return ""
}

function ms(v,  n) {
	n = v + 0
	if (v ~ /us$/) return n / 1000
	if (v ~ /ms$/) return n
	if (v ~ /s$/) return n * 1000
	return n
}

function flush(  i, k, k1) {
	if (value == 0) return
	k = "other"
	for (i = 1; i <= nframes; i++) {
		if ((k1 = kind(frames[i])) != "") { k = k1; break }
	}
	by[k] += value
	total += value
	value = 0
	nframes = 0
}

/^-----------\+/ { flush(); insample = 1; next }
insample && /^ *[0-9.]+(us|ms|s) +/ {
	flush()
	value = ms($1)
	sub(/^ *[0-9.]+(us|ms|s) +/, "")
	frames[++nframes] = $0
	next
}
insample && /^ +[^ ]/ {
	sub(/^ +/, "")
	frames[++nframes] = $0
	next
}
END {
	flush()
	if (total == 0) { print "no samples" > "/dev/stderr"; exit 1 }
	if (tsv) { for (k in by) printf "%s\t%.1f\n", k, by[k]; exit }
	n = 0
	for (k in by) order[++n] = k
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (by[order[j]] > by[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
	for (i = 1; i <= n; i++) printf "%5.1f %%  %6.2f s  %s\n", by[order[i]] * 100 / total, by[order[i]] / 1000, order[i]
}
