package jobcache_test

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/jobstatus/jobstatus/adapters/jobcache"
	"github.com/jobstatus/jobstatus/domain"
)

// TestReadModelKeepsNoRequestText: the id a poll asks for is, after
// domain.ParseID, the request's own text (a substring of its request line,
// query string included, up to the server's header limit). The model keeps
// an entry for every polled id, a job that does not exist included,
// counted at a few hundred bytes: were its key that substring, each entry
// would keep the whole request line alive, and an absent-job entry counted
// at 160 bytes could hold some 64 KiB.
func TestReadModelKeepsNoRequestText(t *testing.T) {
	t.Parallel()

	// requestLine is a request line with a long query string, and the id as
	// the service parses it from the line's path.
	requestLine := func(t *testing.T, id domain.ID) (line string, parsed domain.ID) {
		t.Helper()
		line = "GET /v1/async-jobs/" + string(id) + "?pad=" + strings.Repeat("x", 32<<10) + " HTTP/1.1"
		start := strings.Index(line, string(id))
		parsed, err := domain.ParseID(line[start : start+len(id)])
		require.NoError(t, err)
		return line, parsed
	}
	requireNoneWithin := func(t *testing.T, m *jobcache.Model, line string) {
		t.Helper()
		lo := uintptr(unsafe.Pointer(unsafe.StringData(line)))
		hi := lo + uintptr(len(line))
		ids := jobcache.HeldIDs(m)
		require.NotEmpty(t, ids)
		for _, id := range ids {
			p := uintptr(unsafe.Pointer(unsafe.StringData(string(id))))
			require.Falsef(t, p >= lo && p < hi, "the model keeps %s as a slice of the request line", id)
		}
	}

	t.Run("AbsentJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		line, id := requestLine(t, domain.NewID())
		_, err := b.get(t, id)
		require.ErrorIs(t, err, domain.ErrNotFound)
		requireNoneWithin(t, b.model, line)
	})

	t.Run("PolledJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t, jobcache.Config{MaxEntries: 10, MaxBytes: 1 << 20})
		j := b.create(t)
		line, id := requestLine(t, j.ID)
		_, err := b.get(t, id)
		require.NoError(t, err)
		requireNoneWithin(t, b.model, line)
	})
}
