// Package logsample holds zap cores that thin out log lines a flood repeats.
package logsample

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The log lines an unauthenticated flood writes per request: the handler's
// "authentication failed" line and the access-log line of the 401.
const (
	authFailedMessage = "authentication failed"
	accessLogMessage  = "request"
)

// Auth-failure log sampling: per reason and per second, the first
// authLogFirst lines are written, then one in authLogThereafter, which
// carries in "dropped" how many identical lines were left out before it.
const (
	authLogFirst      = 10
	authLogThereafter = 100
	authLogTick       = time.Second
)

// authSampler rate-limits the log lines of refused credentials, which an
// unauthenticated flood (unknown api-keys, bad tokens) writes one or two
// per request: 40 MB in 5 s without it. Errors are otherwise never sampled;
// only repeated identical refusals are, keyed by credential and reason (the
// access-log line of a 401 has its own key), and the metric
// jobstatus_auth_failures_total still counts every refusal. Every other
// line passes untouched.
type authSampler struct {
	zapcore.Core
	state *authSampleState
}

type authSampleState struct {
	now    func() time.Time
	mu     sync.Mutex
	counts map[string]*authCount
}

// authCount is one key's tally in the current tick.
type authCount struct {
	start   time.Time
	n       uint64 // lines seen in this tick
	dropped uint64 // lines left out since the last one written
}

// NewAuthSampler wraps core so that repeated authentication refusals are
// sampled (authSampler); now is the clock of the ticks.
func NewAuthSampler(core zapcore.Core, now func() time.Time) zapcore.Core {
	return &authSampler{Core: core, state: &authSampleState{now: now, counts: map[string]*authCount{}}}
}

// With implements zapcore.Core, keeping the tallies shared.
func (s *authSampler) With(fields []zapcore.Field) zapcore.Core {
	return &authSampler{Core: s.Core.With(fields), state: s.state}
}

// Check implements zapcore.Core: the two messages a refusal writes are
// judged in Write, where their fields are known.
func (s *authSampler) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if ent.Message != authFailedMessage && ent.Message != accessLogMessage {
		return s.Core.Check(ent, ce)
	}
	if !s.Enabled(ent.Level) {
		return ce
	}
	return ce.AddCore(ent, s)
}

// Write implements zapcore.Core.
func (s *authSampler) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	key, ok := authKey(ent.Message, fields)
	if !ok {
		return s.Core.Write(ent, fields)
	}
	write, dropped := s.state.decide(key)
	if !write {
		return nil
	}
	if dropped > 0 {
		fields = append(fields[:len(fields):len(fields)], zap.Uint64("dropped", dropped))
	}
	return s.Core.Write(ent, fields)
}

// authKey names the tally of a refusal's line; ok is false for any other
// line (an access-log line of another status).
func authKey(message string, fields []zapcore.Field) (key string, ok bool) {
	if message == accessLogMessage {
		for _, f := range fields {
			if f.Key == "status" && f.Integer == 401 {
				return "access 401", true
			}
		}
		return "", false
	}
	var credential, reason string
	for _, f := range fields {
		switch f.Key {
		case "credential":
			credential = f.String
		case "reason":
			reason = f.String
		}
	}
	return credential + " " + reason, true
}

// decide counts one line of key and says whether it is written and, if so,
// how many were dropped before it.
func (st *authSampleState) decide(key string) (write bool, dropped uint64) {
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	c := st.counts[key]
	if c == nil {
		if len(st.counts) >= maxAuthKeys {
			clear(st.counts) // reasons are few; never let made-up ones grow the map
		}
		c = &authCount{start: now}
		st.counts[key] = c
	}
	if now.Sub(c.start) >= authLogTick {
		c.start, c.n = now, 0
	}
	c.n++
	if c.n > authLogFirst && (c.n-authLogFirst)%authLogThereafter != 0 {
		c.dropped++
		return false, 0
	}
	dropped, c.dropped = c.dropped, 0
	return true, dropped
}

// maxAuthKeys bounds the tallies kept at once.
const maxAuthKeys = 1024
