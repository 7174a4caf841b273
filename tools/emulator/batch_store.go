package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The batch APIs keep their files and jobs in memory for as long as the
// process lives (or until /_emulator/reset). A job is processing from its
// creation and ends --batch-latency-ms later; that is noticed lazily, when
// the job (or its key's list) is read, when the key creates another job, or
// through POST /_emulator/batches/complete. Ending a job runs each of its
// lines through the live endpoint's handler.

// batchWindow is the completion window of every job.
const batchWindow = 24 * time.Hour

// batchStore holds the files and jobs of both batch APIs.
type batchStore struct {
	mu        sync.Mutex
	seq       uint64
	gen       uint64 // counts the resets
	files     map[string]*batchFile
	openai    map[string]*openAIBatch
	oaList    []*openAIBatch // creation order
	anthropic map[string]*messageBatch
	anList    []*messageBatch // creation order
}

func (s *batchStore) clear() {
	s.mu.Lock()
	s.files, s.openai, s.oaList, s.anthropic, s.anList = nil, nil, nil, nil, nil
	s.gen++
	s.mu.Unlock()
}

// batchCounters are a key's batch statistics.
type batchCounters struct {
	APICalls           int64 `json:"api_calls"`
	APIErrors          int64 `json:"api_errors"`
	FilesUploaded      int64 `json:"files_uploaded"`
	OpenAICreated      int64 `json:"openai_batches_created"`
	AnthropicCreated   int64 `json:"anthropic_batches_created"`
	TokenLimitFailures int64 `json:"token_limit_failures"`
	LinesReceived      int64 `json:"lines_received"`
	LinesSucceeded     int64 `json:"lines_succeeded"`
	LinesFailed        int64 `json:"lines_failed"`
	LinesCanceled      int64 `json:"lines_canceled"`
	LinesExpired       int64 `json:"lines_expired"`
	DuplicateCustomIDs int64 `json:"duplicate_custom_ids"`
	PromptTokens       int64 `json:"prompt_tokens"`
	CompletionTokens   int64 `json:"completion_tokens"`
}

// batchReport is the "batches" object of a key's statistics.
type batchReport struct {
	batchCounters
	EnqueuedTokens     map[string]int64 `json:"enqueued_tokens"`
	PeakEnqueuedTokens map[string]int64 `json:"peak_enqueued_tokens"`
}

// batchAccount is a key's batch bookkeeping, guarded by the key's mutex.
type batchAccount struct {
	counters  batchCounters
	enqueued  map[string]int64 // model -> input tokens of running jobs
	peak      map[string]int64
	customIDs map[string]struct{} // of every line accepted so far, both APIs
}

func (a *batchAccount) report() batchReport {
	r := batchReport{batchCounters: a.counters, EnqueuedTokens: map[string]int64{}, PeakEnqueuedTokens: map[string]int64{}}
	maps.Copy(r.EnqueuedTokens, a.enqueued)
	maps.Copy(r.PeakEnqueuedTokens, a.peak)
	return r
}

// enqueue adds tokens to the model's running total unless that would take
// it over limit (0 = unlimited). It returns the total the job would make.
func (a *batchAccount) enqueue(model string, tokens, limit int64) (int64, bool) {
	total := a.enqueued[model] + tokens
	if limit > 0 && total > limit {
		return total, false
	}
	if a.enqueued == nil {
		a.enqueued, a.peak = map[string]int64{}, map[string]int64{}
	}
	a.enqueued[model] = total
	a.peak[model] = max(a.peak[model], total)
	return total, true
}

func (a *batchAccount) release(model string, tokens int64) {
	if left := a.enqueued[model] - tokens; left > 0 {
		a.enqueued[model] = left
	} else {
		delete(a.enqueued, model)
	}
}

// accept records the custom_ids of a job's lines, counting those an
// earlier job of the key already had.
func (a *batchAccount) accept(ids []string) {
	if a.customIDs == nil {
		a.customIDs = map[string]struct{}{}
	}
	for _, id := range ids {
		if _, dup := a.customIDs[id]; dup {
			a.counters.DuplicateCustomIDs++
		}
	}
	for _, id := range ids {
		a.customIDs[id] = struct{}{}
	}
}

// noteLines adds the outcome of a job's lines to the key's statistics.
func (ks *keyState) noteLines(t batchTotals) {
	ks.mu.Lock()
	c := &ks.batch.counters
	c.LinesSucceeded += t.succeeded
	c.LinesFailed += t.failed
	c.LinesCanceled += t.canceled
	c.LinesExpired += t.expired
	c.PromptTokens += t.prompt
	c.CompletionTokens += t.completion
	ks.mu.Unlock()
}

// batchTotals sums the outcome of a job's lines.
type batchTotals struct {
	succeeded, failed, canceled, expired  int64
	prompt, completion, cached, reasoning int64
}

func (t *batchTotals) add(a *lineAnswer) {
	if a.status != http.StatusOK {
		t.failed++
		return
	}
	t.succeeded++
	t.prompt += a.tally.prompt
	t.completion += a.tally.completion
	t.cached += a.tally.cached
	t.reasoning += a.tally.reasoning
}

// serveComplete answers POST /_emulator/batches/complete[?id=ID]: every
// unfinished job (or that one) ends now.
func (e *emulator) serveComplete(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		e.methodNotAllowed(w, r)
		return
	}
	id := r.URL.Query().Get("id")
	if id != "" {
		e.batches.mu.Lock()
		_, oa := e.batches.openai[id]
		_, an := e.batches.anthropic[id]
		e.batches.mu.Unlock()
		if !oa && !an {
			writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error", param: "id",
				message: "No such batch: " + id})
			return
		}
	}
	ended := e.settleKey("", id, true)
	if ended == nil {
		ended = []string{}
	}
	body, _ := json.Marshal(struct {
		Completed []string `json:"completed"`
	}{ended})
	writeJSON(w, http.StatusOK, append(body, '\n'))
}

// newBatchID returns prefix and n base62 characters, unique per process.
func (e *emulator) newBatchID(prefix string, n int) string {
	a, b := e.nextIDs()
	buf := append(make([]byte, 0, len(prefix)+n), prefix...)
	for n > 0 {
		k := min(n, 11)
		buf = appendBase62(buf, a, k)
		a, b = b, mix64(a^b)
		n -= k
	}
	return string(buf)
}

// batchPath splits "/PREFIX/ID[/TAIL]" into ID and TAIL.
func batchPath(path, prefix string) (id, tail string) {
	id, tail, _ = strings.Cut(strings.TrimPrefix(path, prefix), "/")
	return id, tail
}
