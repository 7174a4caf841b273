package llmsvc

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// BatchJobOptions are the options of a provider batch job (Client.OpenBatchJob); zero
// fields keep the core's defaults.
type BatchJobOptions struct {
	// Deployment names the configured deployment the job sends through (default: the
	// first of the route of the first request added).
	Deployment string `json:"deployment,omitempty"`
	// MaxRequests and MaxBytes bound each provider batch (default: the provider's
	// limits, 50,000 requests and 200 MB for OpenAI, 100,000 and 256 MB for Anthropic).
	MaxRequests int   `json:"max_requests,omitempty"`
	MaxBytes    int64 `json:"max_bytes,omitempty"`
	// MaxEnqueuedTokens bounds the input tokens of a model's unfinished batches (0: none).
	MaxEnqueuedTokens int64 `json:"max_enqueued_tokens,omitempty"`
	// PollMS is the first wait before a new batch is polled (default 10000); the wait grows
	// by half each poll up to MaxPollMS (default 60000).
	PollMS    int64 `json:"poll_ms,omitempty"`
	MaxPollMS int64 `json:"max_poll_ms,omitempty"`
	// CompletionWindow is the provider's completion window (default "24h").
	CompletionWindow string `json:"completion_window,omitempty"`
}

// BatchJobStatus is a batch job's progress (BatchJob.Status).
type BatchJobStatus struct {
	Provider   string `json:"provider"`   // the provider the job sends to ("" before the first Add)
	Deployment string `json:"deployment"` // the deployment it sends through
	Requests   int64  `json:"requests"`   // requests in the job, from its state file and added
	// Batches counts the job's provider batches by state, and those created by this process.
	Batches struct {
		Planned   int64 `json:"planned"`
		Uploaded  int64 `json:"uploaded"`
		Creating  int64 `json:"creating"`
		Running   int64 `json:"running"`
		Ended     int64 `json:"ended"`
		Delivered int64 `json:"delivered"`
		Created   int64 `json:"created"`
	} `json:"batches"`
	// Results counts the results handed over by this process, and their cost.
	Results struct {
		OK          int64 `json:"ok"`
		Failed      int64 `json:"failed"`
		CostNanoUSD int64 `json:"cost_nano_usd"`
	} `json:"results"`
	// Raw is the status document as the core wrote it.
	Raw json.RawMessage `json:"-"`
}

// BatchJob is a provider batch job: requests sent through OpenAI's Batch API or
// Anthropic's Message Batches instead of one at a time, at batch prices (half the
// standard ones), resumable from its state file. Its calls block the calling goroutine
// (one provider call at a time); its methods are safe for concurrent use, one at a time.
// The client's gates, retries and metrics are not involved.
type BatchJob struct {
	c  *Client
	mu sync.Mutex // one call at a time
	// ptr is nil once closed. It is used and cleared holding mu and the client's read
	// lock, or cleared by Client.Close holding the client's write lock.
	ptr *C.llmsvc_batch_job
}

// OpenBatchJob opens the batch job whose state is the file statePath, or starts one
// there. A job stopped at any moment (closed, or the process killed) resumes when opened
// again with the same file: no request is sent twice, and results handed over but not
// committed are handed over again. The job is closed by Close, or with the client.
//
// It needs libllmsvc 0.6 or later: with an older library it fails with an error that
// matches errors.ErrUnsupported.
func (c *Client) OpenBatchJob(statePath string, opts BatchJobOptions) (*BatchJob, error) {
	if libVersion < 600 {
		return nil, fmt.Errorf("llmsvc: batch_job_open: batch jobs need libllmsvc 0.6 or later (this is %s): %w",
			Version(), errors.ErrUnsupported)
	}
	if strings.IndexByte(statePath, 0) >= 0 {
		return nil, &StatusError{Op: "batch_job_open", Status: StatusInvalid, Message: "state path: contains a NUL byte"}
	}
	doc, err := encodeDocument(&opts)
	if err != nil {
		return nil, fmt.Errorf("llmsvc: encoding the batch job's options: %w", err)
	}
	defer releaseDocument(doc)
	cpath := C.CString(statePath)
	defer C.free(unsafe.Pointer(cpath))
	j := &BatchJob{c: c}
	err = c.call("batch_job_open", func(p *C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		var job *C.llmsvc_batch_job
		st := C.llmsvc_batch_job_open(p, cpath, cString(doc.Bytes()), &job, cerr)
		if st == C.LLMSVC_OK {
			j.ptr = job
			c.jobsMu.Lock() // under the read lock: Close cannot miss it
			if c.jobs == nil {
				c.jobs = make(map[*BatchJob]struct{})
			}
			c.jobs[j] = struct{}{}
			c.jobsMu.Unlock()
		}
		return st
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// closeJobs closes the client's batch jobs; the caller holds the client's write lock.
func (c *Client) closeJobs() {
	c.jobsMu.Lock()
	defer c.jobsMu.Unlock()
	for j := range c.jobs {
		C.llmsvc_batch_job_close(j.ptr)
		j.ptr = nil
	}
	c.jobs = nil
}

// call runs fn on the job's handle: a negative status gives a *StatusError for op, a
// closed job or client ErrClosed; other values are returned.
func (j *BatchJob) call(op string, fn func(*C.llmsvc_batch_job, **C.llmsvc_error) C.int) (C.int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var rc C.int
	err := j.c.call(op, func(_ *C.llmsvc_client, cerr **C.llmsvc_error) C.int {
		if j.ptr == nil {
			return C.LLMSVC_ECLOSED
		}
		if rc = fn(j.ptr, cerr); rc > 0 {
			return C.LLMSVC_OK
		}
		return rc
	})
	var se *StatusError
	if errors.As(err, &se) && se.Status == StatusClosed {
		se.Message = "the batch job is closed"
	}
	return rc, err
}

// Add adds a request under id, unique in the job, which its result carries
// (Response.CustomID). known is true when the job already holds id from its state file:
// nothing is added then, so a resumed job is given the same requests again. A request
// that cannot be sent through the provider's batch API is refused with a *StatusError
// giving the reason.
func (j *BatchJob) Add(id string, req Request) (known bool, err error) {
	doc, err := encodeRequest(&req)
	if err != nil {
		return false, fmt.Errorf("llmsvc: encoding the request: %w", err)
	}
	defer releaseDocument(doc)
	b := doc.Bytes()
	return j.AddJSON(id, b[:len(b)-1])
}

// AddJSON is Add with the request document (docs/schema.md, "Request") as JSON.
func (j *BatchJob) AddJSON(id string, request []byte) (known bool, err error) {
	if strings.IndexByte(id, 0) >= 0 {
		return false, &StatusError{Op: "batch_job_add", Status: StatusInvalid, Message: "id: contains a NUL byte"}
	}
	cid := C.CString(id)
	defer C.free(unsafe.Pointer(cid))
	if len(request) == 0 {
		request = []byte{0} // an empty document, which the core refuses as such
	}
	var k C.int
	_, err = j.call("batch_job_add", func(p *C.llmsvc_batch_job, cerr **C.llmsvc_error) C.int {
		return C.llmsvc_batch_job_add(p, cid, (*C.char)(unsafe.Pointer(unsafe.SliceData(request))),
			C.size_t(len(request)), &k, cerr)
	})
	return err == nil && k != 0, err
}

// Step does the next piece of the job's work: at most one call to the provider (an
// upload, a batch's creation, a poll, or a poll and the download of its results), or a
// wait of up to timeout until one is due. Transient failures are tried again later.
// done is true once every request's result has been handed over (Next) and committed.
// An error leaves the job resumable.
func (j *BatchJob) Step(timeout time.Duration) (done bool, err error) {
	ms := int64(0)
	if timeout > 0 {
		ms = int64((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	rc, err := j.call("batch_job_step", func(p *C.llmsvc_batch_job, cerr **C.llmsvc_error) C.int {
		return C.llmsvc_batch_job_step(p, C.int(min(ms, math.MaxInt32)), cerr)
	})
	return err == nil && rc == 0, err
}

// Next returns the next result ready, or nil when none is. Its BatchID and CustomID say
// which request it answers; a failed request has OK false and its Error set. Each result
// is handed over once, until a restart without Commit.
func (j *BatchJob) Next() *Response {
	var v C.llmsvcgo_view
	got := false
	_, _ = j.call("batch_job_next", func(p *C.llmsvc_batch_job, _ **C.llmsvc_error) C.int {
		got = C.llmsvcgo_batch_job_next(p, &v) != 0
		return C.LLMSVC_OK
	})
	if !got {
		return nil
	}
	defer C.llmsvc_result_free(v.result)
	// The request is not at hand: what it may have asked for is read from the document.
	f := Future{ctx: context.Background(), wants: wantMetadata | wantLogprobs | wantThinking | wantDocJSON}
	resp, err := f.build(&v)
	if resp != nil {
		return resp
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Kind: KindInternal, Message: fmt.Sprint(err)}
	}
	if e.Response == nil {
		e.Response = &Response{OK: false, CustomID: viewString(&v, C.LLMSVC_STR_CUSTOM_ID),
			BatchID: viewString(&v, C.LLMSVC_STR_BATCH_ID)}
	}
	e.Response.Error = e
	return e.Response
}

// Commit records that every result taken with Next so far is stored: after a restart it
// is not handed over again. Call it once they are stored.
func (j *BatchJob) Commit() error {
	_, err := j.call("batch_job_commit", func(p *C.llmsvc_batch_job, cerr **C.llmsvc_error) C.int {
		return C.llmsvc_batch_job_commit(p, cerr)
	})
	return err
}

// Status returns the job's progress: requests, provider batches by state, and the
// results handed over by this process with their cost.
func (j *BatchJob) Status() (BatchJobStatus, error) {
	var out *C.char
	_, err := j.call("batch_job_status", func(p *C.llmsvc_batch_job, _ **C.llmsvc_error) C.int {
		return C.llmsvc_batch_job_status(p, &out)
	})
	if err != nil {
		return BatchJobStatus{}, err
	}
	s := BatchJobStatus{Raw: takeString(out)}
	if err := json.Unmarshal(s.Raw, &s); err != nil {
		return BatchJobStatus{}, fmt.Errorf("llmsvc: reading the batch job's status: %w", err)
	}
	return s, nil
}

// Close closes the job; its state file stays, to resume it. Results not taken are
// dropped (a resumed job hands them over). Close is idempotent and returns nil.
func (j *BatchJob) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	c := j.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	if j.ptr != nil {
		C.llmsvc_batch_job_close(j.ptr)
		j.ptr = nil
		c.jobsMu.Lock()
		delete(c.jobs, j)
		c.jobsMu.Unlock()
	}
	return nil
}

// runStep bounds each Step of Run, so that a cancelled context is noticed soon.
const runStep = 200 * time.Millisecond

// Run steps the job until it is done, hands each result to fn in turn and commits after
// each set of results taken. It returns nil once every result was handed over, or the
// first error: a Step's, fn's (the results handed over since the last commit are handed
// over again when the job is opened anew), or ctx's when it ends (checked between steps;
// the job stays resumable).
func (j *BatchJob) Run(ctx context.Context, fn func(*Response) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		timeout := runStep
		if d, ok := ctx.Deadline(); ok {
			timeout = min(timeout, max(time.Until(d), 0))
		}
		done, err := j.Step(timeout)
		if err != nil {
			return err
		}
		for r := j.Next(); r != nil; r = j.Next() {
			if err := fn(r); err != nil {
				return err
			}
		}
		if err := j.Commit(); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}
