package httpapi

import (
	"encoding/json"
	"hash/maphash"
	nethttp "net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/jobstatus/jobstatus/domain"
)

// answer is the part of a job's 200 that depends only on the job as
// presented: the body up to meta and the job-dependent headers. It is built
// once per job version and presented eta and shared by every request for
// it; per request only meta's url and request id are appended.
type answer struct {
	key answerKey // the presentation it encodes
	// head is the body up to meta's url: `{"data":…,"meta":{"code":200,"url":`.
	head        []byte
	etag        string
	modified    time.Time // Last-Modified as a time, for the conditional headers
	hasModified bool      // false for a pending job: no Last-Modified
	// The header values as net/http keeps them, shared by every answer of
	// this presentation (a header map only ever replaces its values);
	// lastModifiedValue is nil for a pending job.
	etagValue, lastModifiedValue, cacheControlValue []string
}

// answerKey names one presentation of one job version. The cache is keyed
// by job id alone and holds the latest presentation, so a job whose
// presented eta moves on replaces its answer instead of adding one.
type answerKey struct {
	id      domain.ID
	version int64
	eta     int64 // presented eta, Unix milliseconds
	status  domain.Status
}

// answers keeps pre-encoded answers, bounded; nil builds every answer anew.
// (The read model keeps jobs, not their HTTP form: the encoding is this
// adapter's, so it is kept here, keyed by the job's version.)
//
// The cache is split in shards by job id, and an answer built is kept only
// if its shard's lock is free at once (TryLock): a change that wakes ten
// thousand held requests has them all miss at the same moment (the new
// version), and one lock taken by each in turn queued them one behind the
// other for hundreds of milliseconds (the wake-up bench's trace). A build
// that finds the lock taken answers all the same; the next request keeps
// the answer.
type answers struct {
	shards []answerShard
	seed   maphash.Seed
	cfg    HandlerConfig
}

type answerShard struct {
	mu  sync.RWMutex
	lru *simplelru.LRU[domain.ID, *answer]
}

// answerShards is how many shards the cache has at most (fewer when it
// holds fewer answers than that).
const answerShards = 16

func newAnswers(cfg HandlerConfig) (*answers, error) {
	a := &answers{cfg: cfg, seed: maphash.MakeSeed()}
	if cfg.EncodedAnswers <= 0 {
		return a, nil
	}
	n := min(answerShards, cfg.EncodedAnswers)
	a.shards = make([]answerShard, n)
	for i := range a.shards {
		size := cfg.EncodedAnswers / n
		if i < cfg.EncodedAnswers%n {
			size++
		}
		c, err := simplelru.NewLRU[domain.ID, *answer](size, nil)
		if err != nil {
			return nil, err
		}
		a.shards[i].lru = c
	}
	return a, nil
}

// shard returns the shard that keeps id's answer; nil without a cache.
func (a *answers) shard(id domain.ID) *answerShard {
	if len(a.shards) == 0 {
		return nil
	}
	return &a.shards[maphash.String(a.seed, string(id))%uint64(len(a.shards))]
}

// of returns the answer for j as presented, building it on first use.
func (a *answers) of(j domain.Job) (*answer, error) {
	key := answerKey{id: j.ID, version: j.Version, eta: j.ETA.UnixMilli(), status: j.Status}
	sh := a.shard(j.ID)
	if sh != nil && j.Version > 0 {
		// Peek: a hit does not reorder the cache (no write, a read lock);
		// answers leave it oldest first, and one dropped is built again.
		sh.mu.RLock()
		ans, ok := sh.lru.Peek(j.ID)
		sh.mu.RUnlock()
		if ok && ans.key == key {
			return ans, nil
		}
	}
	data, err := json.Marshal(toJobData(j))
	if err != nil {
		return nil, err
	}
	ans := &answer{key: key, etag: jobETag(j)}
	ans.head = append(append([]byte(`{"data":`), data...), `,"meta":{"code":200,"url":`...)
	ans.modified, ans.hasModified = lastModified(j)
	if ans.hasModified {
		ans.lastModifiedValue = []string{ans.modified.Format(nethttp.TimeFormat)}
	}
	cacheControl := "no-store"
	if j.Status.Terminal() {
		// Finished jobs never change: let the client's own cache keep them.
		cacheControl = "private, max-age=" + strconv.Itoa(int(a.cfg.TerminalMaxAge.Seconds()))
	}
	ans.etagValue, ans.cacheControlValue = []string{ans.etag}, []string{cacheControl}
	if sh != nil && j.Version > 0 && sh.mu.TryLock() {
		sh.lru.Add(j.ID, ans)
		sh.mu.Unlock()
	}
	return ans, nil
}
