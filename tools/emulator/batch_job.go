package main

import (
	"net/http"
	"sync"
	"time"
)

// A job of either API: its place in the store, how it ends (on time,
// expired or canceled) and what both APIs' handlers share.

// batchJob is what jobs of both APIs have in common.
type batchJob struct {
	id      string
	key     string
	ks      *keyState // where the job's tokens are enqueued
	seq     uint64    // creation order
	gen     uint64    // the store's generation when it was created
	created time.Time
	due     time.Time // created + --batch-latency-ms
	expires time.Time // created + 24h
	model   string
	tokens  int64 // input tokens enqueued while the job runs

	// proc lets one request at a time end the job.
	proc sync.Mutex

	// Guarded by the store's mutex.
	status string // "in_progress" while the job runs
	totals batchTotals
}

// anyJob is a job of either API.
type anyJob interface {
	job() *batchJob
	// finish answers the lines of a job that ends at at (expired, or
	// completed), records the outcome and returns the lines' totals.
	finish(e *emulator, expire bool, at time.Time) batchTotals
}

func (j *batchJob) job() *batchJob { return j }

// addJob numbers a new job b and files it under its id in *byID and at the
// end of *list, the creation order.
func addJob[J anyJob](s *batchStore, b J, byID *map[string]J, list *[]J) {
	j := b.job()
	s.mu.Lock()
	s.seq++
	j.seq, j.gen = s.seq, s.gen
	if *byID == nil {
		*byID = map[string]J{}
	}
	(*byID)[j.id] = b
	*list = append(*list, b)
	s.mu.Unlock()
}

// jobOf returns the key's job with id in byID, nil when there is none.
func jobOf[J anyJob](s *batchStore, byID *map[string]J, key, id string) J {
	s.mu.Lock()
	defer s.mu.Unlock()
	var none J
	if b, ok := (*byID)[id]; ok && b.job().key == key {
		return b
	}
	return none
}

// appendRunning appends the running jobs of list that belong to key (""
// for every key) and have id ("" for any). Called with the store's mutex
// held.
func appendRunning[J anyJob](run []anyJob, list []J, key, id string) []anyJob {
	for _, b := range list {
		if j := b.job(); (key == "" || j.key == key) && (id == "" || j.id == id) && j.status == "in_progress" {
			run = append(run, b)
		}
	}
	return run
}

// ending says whether an unfinished job ends at now, and how: completed
// (at its due time, or now when forced) or expired, when its latency
// reaches past the completion window.
func (j *batchJob) ending(now time.Time, force bool) (complete, expire bool, at time.Time) {
	switch {
	case force:
		return true, false, now
	case j.due.Before(j.expires):
		if !now.Before(j.due) {
			return true, false, j.due
		}
	case !now.Before(j.expires):
		return false, true, j.expires
	}
	return false, false, time.Time{}
}

// endJob releases a finished job's enqueued tokens and counts its lines.
func (j *batchJob) endJob(t batchTotals) {
	j.ks.mu.Lock()
	j.ks.batch.release(j.model, j.tokens)
	j.ks.mu.Unlock()
	j.ks.noteLines(t)
}

// endBatch ends a running job whose time has come (or now, when forced):
// its lines are answered by the live endpoints, one request at a time. It
// reports whether it ended the job.
func (e *emulator) endBatch(b anyJob, now time.Time, force bool) bool {
	j := b.job()
	j.proc.Lock()
	defer j.proc.Unlock()
	e.batches.mu.Lock()
	running := j.status == "in_progress"
	e.batches.mu.Unlock()
	if !running {
		return false
	}
	complete, expire, at := j.ending(now, force)
	if !complete && !expire {
		return false
	}
	j.endJob(b.finish(e, expire, at))
	return true
}

// cancelBatch ends a running job at once. mark does the API's own part
// with the store's mutex held: it marks the job canceled and returns the
// totals of its lines and the answer. When the job is not running, ok is
// false and status is the job's status.
func (e *emulator) cancelBatch(b anyJob, mark func() (batchTotals, []byte)) (out []byte, status string, ok bool) {
	j, st := b.job(), &e.batches
	j.proc.Lock()
	st.mu.Lock()
	if j.status != "in_progress" {
		status := j.status
		st.mu.Unlock()
		j.proc.Unlock()
		return nil, status, false
	}
	t, out := mark()
	st.mu.Unlock()
	j.proc.Unlock()
	j.endJob(t)
	return out, "", true
}

// settleKey ends the unfinished jobs of key ("" for every key), or only the
// one with id, whose time has come, or all of them now when force is set. It
// returns the ids it ended.
func (e *emulator) settleKey(key, id string, force bool) []string {
	now := time.Now()
	st := &e.batches
	st.mu.Lock()
	run := appendRunning(appendRunning(nil, st.oaList, key, id), st.anList, key, id)
	st.mu.Unlock()
	var ended []string
	for _, b := range run {
		if e.endBatch(b, now, force) {
			ended = append(ended, b.job().id)
		}
	}
	return ended
}

// tailMethod is the method a job's path with tail takes: POST for
// "cancel", GET for the job itself and what it holds.
func tailMethod(tail string) string {
	if tail == "cancel" {
		return http.MethodPost
	}
	return http.MethodGet
}

// appendJobs appends the jobs of page, each rendered by render, separated
// by commas. Called with the store's mutex held.
func appendJobs[J anyJob](out []byte, page []J, render func([]byte, J) []byte) []byte {
	for i, b := range page {
		if i > 0 {
			out = append(out, ',')
		}
		out = render(out, b)
	}
	return out
}

// appendFirstLast appends the id of the first job of page and the
// "last_id" member, both null for an empty page.
func appendFirstLast[J anyJob](out []byte, page []J) []byte {
	if len(page) == 0 {
		return append(out, `null,"last_id":null`...)
	}
	out = appendJSONString(out, page[0].job().id)
	out = append(out, `,"last_id":`...)
	return appendJSONString(out, page[len(page)-1].job().id)
}
