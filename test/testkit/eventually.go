package testkit

import (
	"fmt"
	"testing"
	"time"
)

// PollInterval is how often Eventually asks again.
const PollInterval = 20 * time.Millisecond

// Eventually asks cond until it says yes and fails the test if it has not
// by within. Unlike require.Eventually it calls cond in the test's own
// goroutine, so cond may use require; and it waits on a ticker, not a
// sleep. msgAndArgs say what was awaited.
func Eventually(t testing.TB, within time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	if !Within(within, cond) {
		msg := "condition not met"
		if len(msgAndArgs) > 0 {
			msg, _ = msgAndArgs[0].(string)
			if len(msgAndArgs) > 1 {
				msg = fmt.Sprintf(msg, msgAndArgs[1:]...)
			}
		}
		t.Fatalf("after %s: %s", within, msg)
	}
}

// Within asks cond every PollInterval until it says yes (true) or within
// has passed (false). It is for goroutines that may not fail the test.
func Within(within time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
}
