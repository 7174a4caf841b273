package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// The Anthropic Message Batches API: POST /v1/messages/batches creates a
// job from a list of Messages requests, GET /v1/messages/batches lists the
// key's jobs (newest first), GET /v1/messages/batches/{id} returns one,
// POST .../{id}/cancel cancels it and GET .../{id}/results returns the
// results of an ended job as JSON Lines.

const (
	// maxMessageBatchRequests is the most requests one job may hold.
	maxMessageBatchRequests = 100000
	// maxMessageBatchBytes bounds the body of POST /v1/messages/batches.
	maxMessageBatchBytes = 256 << 20
)

var customIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// batchRequest is one request of a message batch.
type batchRequest struct {
	customID string
	params   []byte
}

// messageBatch is one job of the Message Batches API.
type messageBatch struct {
	batchJob
	requests []batchRequest
	version  string // the anthropic-version its lines are sent with

	// Guarded by the store's mutex; status is in_progress or ended.
	cancelInitiated time.Time
	ended           time.Time
	results         []byte
}

// appendJSON appends the MessageBatch object. base is the scheme and host
// results_url starts with; canceling renders the job as the cancel answer
// shows it. Called with the store's mutex held.
func (b *messageBatch) appendJSON(buf []byte, base string, canceling bool) []byte {
	stamp := func(buf []byte, t time.Time) []byte {
		if t.IsZero() {
			return append(buf, "null"...)
		}
		return appendJSONString(buf, t.UTC().Format(time.RFC3339))
	}
	status, t := b.status, b.totals
	ended := b.ended
	if canceling {
		status, t, ended = "canceling", batchTotals{}, time.Time{}
	}
	processing := int64(0)
	if status != "ended" {
		processing = int64(len(b.requests))
	}
	buf = append(buf, `{"id":`...)
	buf = appendJSONString(buf, b.id)
	buf = append(buf, `,"type":"message_batch","processing_status":`...)
	buf = appendJSONString(buf, status)
	buf = fmt.Appendf(buf, `,"request_counts":{"processing":%d,"succeeded":%d,"errored":%d,"canceled":%d,"expired":%d}`,
		processing, t.succeeded, t.failed, t.canceled, t.expired)
	buf = append(buf, `,"ended_at":`...)
	buf = stamp(buf, ended)
	buf = append(buf, `,"created_at":`...)
	buf = stamp(buf, b.created)
	buf = append(buf, `,"expires_at":`...)
	buf = stamp(buf, b.expires)
	buf = append(buf, `,"cancel_initiated_at":`...)
	buf = stamp(buf, b.cancelInitiated)
	buf = append(buf, `,"archived_at":null,"results_url":`...)
	if status == "ended" {
		buf = appendJSONString(buf, base+"/v1/messages/batches/"+b.id+"/results")
	} else {
		buf = append(buf, "null"...)
	}
	return append(buf, '}')
}

// anthropicAdmin checks the method, the key and the anthropic-version
// header of a Message Batches call the way /v1/messages does; false when it
// already answered.
func (e *emulator) anthropicAdmin(w http.ResponseWriter, r *http.Request, methods ...string) (*adminCall, bool) {
	c := e.newAdminCall(w, r, r.Header.Get("X-Api-Key"), true)
	cfg := e.cfg
	switch {
	case !contains(methods, r.Method):
		c.fail(&apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error", outcome: outBadRequest,
			message: fmt.Sprintf("Method Not Allowed (%s %s)", r.Method, r.URL.Path)})
	case c.key == "":
		c.fail(&apiError{status: http.StatusUnauthorized, typ: "authentication_error", outcome: outAuth,
			message: "x-api-key header is required"})
	case cfg.invalidKeys[c.key]:
		c.fail(&apiError{status: http.StatusUnauthorized, typ: "authentication_error", outcome: outAuth,
			message: "invalid x-api-key"})
	case cfg.quotaKeys[c.key]:
		c.fail(&apiError{status: http.StatusBadRequest, typ: "invalid_request_error", outcome: outQuota, noRetry: true,
			message: "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."})
	case r.Header.Get("Anthropic-Version") == "":
		c.fail(invalidMessages("", "anthropic-version: header is required"))
	default:
		return c, true
	}
	return nil, false
}

func errNoMessageBatch(id string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "not_found_error", outcome: outBadRequest,
		message: fmt.Sprintf("No message batch found with id '%s'.", id)}
}

// serveMessageBatches answers POST and GET /v1/messages/batches.
func (e *emulator) serveMessageBatches(w http.ResponseWriter, r *http.Request) {
	c, ok := e.anthropicAdmin(w, r, http.MethodPost, http.MethodGet)
	if !ok {
		return
	}
	if r.Method == http.MethodGet {
		e.listMessageBatches(c)
		return
	}
	body, ok := readBody(w, r, maxMessageBatchBytes, errRequestTooLarge, c.fail, nil)
	if !ok {
		return
	}
	b, aerr := e.newMessageBatch(c, body)
	if aerr != nil {
		c.fail(aerr)
		return
	}
	c.replyLocked(func() []byte { return b.appendJSON(nil, "http://"+r.Host, false) })
}

// parseMessageBatch checks a create body: {"requests":[{"custom_id","params"}]}.
func parseMessageBatch(body []byte) ([]batchRequest, *apiError) {
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, invalidMessages("", "The request body is not valid JSON: %v", err)
	}
	top, ok := parseObject(body)
	if !ok {
		return nil, invalidMessages("", msgDict)
	}
	if aerr := extraField("", top, "requests"); aerr != nil {
		return nil, aerr
	}
	raw := top.get("requests")
	if raw == nil {
		return nil, invalidMessages("requests", msgRequired)
	}
	if jsonKind(raw) != "an array" {
		return nil, invalidMessages("requests", msgList)
	}
	list := rawList(raw)
	switch {
	case len(list) == 0:
		return nil, invalidMessages("requests", "List should have at least 1 item after validation, not 0")
	case len(list) > maxMessageBatchRequests:
		return nil, invalidMessages("requests", "List should have at most %d items after validation, not %d", maxMessageBatchRequests, len(list))
	}
	reqs := make([]batchRequest, len(list))
	seen := make(map[string]int, len(list))
	for i, item := range list {
		p := "requests." + strconv.Itoa(i)
		o, aerr := objectAt(p, item)
		if aerr != nil {
			return nil, aerr
		}
		if aerr := extraField(p, o, "custom_id", "params"); aerr != nil {
			return nil, aerr
		}
		id, aerr := requiredString(p, o, "custom_id")
		if aerr != nil {
			return nil, aerr
		}
		if !customIDPattern.MatchString(id) {
			return nil, invalidMessages(p+".custom_id", "String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")
		}
		if first, dup := seen[id]; dup {
			return nil, invalidMessages(p+".custom_id", "Duplicate custom_id '%s': it is already used by requests.%d; custom_id values must be unique within a batch", id, first)
		}
		seen[id] = i
		params := o.get("params")
		if params == nil {
			return nil, invalidMessages(p+".params", msgRequired)
		}
		if jsonKind(params) != "an object" {
			return nil, invalidMessages(p+".params", msgDict)
		}
		reqs[i] = batchRequest{customID: id, params: params}
	}
	return reqs, nil
}

// newMessageBatch checks a create body and starts the job, unless it would
// take the model of its first request over --batch-enqueued-tokens.
func (e *emulator) newMessageBatch(c *adminCall, body []byte) (*messageBatch, *apiError) {
	reqs, aerr := parseMessageBatch(body)
	if aerr != nil {
		return nil, aerr
	}
	// Each request counts the input tokens /v1/messages charges its input
	// rate limit; a request /v1/messages would refuse counts 0.
	var tokens int64
	ids := make([]string, len(reqs))
	for i, rq := range reqs {
		if req, aerr := parseMessagesRequest(rq.params); aerr == nil {
			tokens += req.promptTokens
		}
		ids[i] = rq.customID
	}
	model := bodyModel(reqs[0].params)

	e.settleKey(c.key, "", false)

	limit := e.cfg.batchEnqueuedTokens
	c.ks.mu.Lock()
	acct := &c.ks.batch
	total, fits := acct.enqueue(model, tokens, limit)
	if fits {
		acct.counters.AnthropicCreated++
		acct.counters.LinesReceived += int64(len(ids))
		acct.accept(ids)
	} else {
		acct.counters.TokenLimitFailures++
	}
	c.ks.mu.Unlock()
	if !fits {
		return nil, invalidMessages("", "Enqueued token limit reached for %s: this batch would bring the input tokens of the message batches "+
			"in processing to %d, over the limit of %d enqueued tokens. Please try again once some in-progress batches have ended.",
			model, total, limit)
	}
	now := time.Now()
	b := &messageBatch{
		batchJob: batchJob{id: e.newBatchID("msgbatch_01", 22), key: c.key, ks: c.ks, created: now,
			due: now.Add(e.cfg.batchLatency), expires: now.Add(batchWindow), model: model, tokens: tokens,
			status: "in_progress"},
		requests: reqs, version: c.r.Header.Get("Anthropic-Version"),
	}
	addJob(&e.batches, b, &e.batches.anthropic, &e.batches.anList)
	return b, nil
}

// finish answers each request of an ending job by the live /v1/messages
// handler and keeps the results.
func (b *messageBatch) finish(e *emulator, expire bool, at time.Time) batchTotals {
	var t batchTotals
	var results []byte
	header := http.Header{"X-Api-Key": {b.key}, "Anthropic-Version": {b.version}}
	for _, rq := range b.requests {
		results = append(results, `{"custom_id":`...)
		results = appendJSONString(results, rq.customID)
		results = append(results, `,"result":`...)
		switch {
		case expire:
			t.expired++
			results = append(results, `{"type":"expired"}`...)
		case streams(rq.params):
			t.failed++
			results = appendErroredResult(results, invalidMessages("stream", "Streaming is not supported in the Message Batches API"))
		default:
			a := e.answerLine("/v1/messages", rq.params, header)
			t.add(&a)
			if a.status == http.StatusOK {
				results = append(results, `{"type":"succeeded","message":`...)
				results = append(results, a.body...)
				results = append(results, '}')
				break
			}
			var doc struct {
				Error json.RawMessage `json:"error"`
			}
			if json.Unmarshal(a.body, &doc) != nil || jsonKind(doc.Error) != "an object" {
				doc.Error = json.RawMessage(`{"type":"api_error","message":"Internal server error"}`)
			}
			results = append(results, `{"type":"errored","error":{"type":"error","error":`...)
			results = append(results, compactJSON(doc.Error)...)
			results = append(results, "}}"...)
		}
		results = append(results, "}\n"...)
	}
	e.batches.mu.Lock()
	b.status, b.ended, b.totals, b.results = "ended", at, t, results
	e.batches.mu.Unlock()
	return t
}

// appendErroredResult appends an errored result carrying ae.
func appendErroredResult(b []byte, ae *apiError) []byte {
	b = append(b, `{"type":"errored","error":{"type":"error","error":{"type":`...)
	b = appendJSONString(b, ae.typ)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, ae.message)
	return append(b, "}}}"...)
}

// messageBatchOf returns the key's job with id, nil when there is none.
func (s *batchStore) messageBatchOf(key, id string) *messageBatch {
	return jobOf(s, &s.anthropic, key, id)
}

// serveMessageBatch answers GET /v1/messages/batches/{id}, POST
// .../{id}/cancel and GET .../{id}/results.
func (e *emulator) serveMessageBatch(w http.ResponseWriter, r *http.Request) {
	id, tail := batchPath(r.URL.Path, "/v1/messages/batches/")
	c, ok := e.anthropicAdmin(w, r, tailMethod(tail))
	if !ok {
		return
	}
	if tail != "" && tail != "cancel" && tail != "results" {
		c.fail(&apiError{status: http.StatusNotFound, typ: "not_found_error", outcome: outBadRequest,
			message: fmt.Sprintf("Not Found (%s %s)", r.Method, r.URL.Path)})
		return
	}
	b := e.batches.messageBatchOf(c.key, id)
	if b == nil {
		c.fail(errNoMessageBatch(id))
		return
	}
	now := time.Now()
	e.endBatch(b, now, false)
	base := "http://" + r.Host
	switch tail {
	case "":
		c.replyLocked(func() []byte { return b.appendJSON(nil, base, false) })
	case "results":
		e.batches.mu.Lock()
		ended, results := b.status == "ended", b.results
		e.batches.mu.Unlock()
		if !ended {
			c.fail(invalidMessages("", "Message batch %s is still in progress: its results are available once processing_status is 'ended'.", id))
			return
		}
		c.setHeaders()
		h := w.Header()
		h.Set("Content-Type", "application/x-jsonl")
		h.Set("Content-Length", strconv.Itoa(len(results)))
		w.WriteHeader(http.StatusOK)
		w.Write(results)
	case "cancel":
		out, _, ok := e.cancelBatch(b, func() (batchTotals, []byte) {
			var t batchTotals
			var results []byte
			for _, rq := range b.requests {
				t.canceled++
				results = append(results, `{"custom_id":`...)
				results = appendJSONString(results, rq.customID)
				results = append(results, `,"result":{"type":"canceled"}}`+"\n"...)
			}
			b.cancelInitiated = now
			out := b.appendJSON(nil, base, true)
			b.status, b.ended, b.totals, b.results = "ended", now, t, results
			return t, out
		})
		if !ok {
			c.fail(invalidMessages("", "Message batch %s has already ended and can no longer be canceled.", id))
			return
		}
		c.reply(out)
	}
}

// listMessageBatches answers GET /v1/messages/batches?limit=N&after_id=ID
// (or before_id=ID): the key's jobs, newest first.
func (e *emulator) listMessageBatches(c *adminCall) {
	q := c.r.URL.Query()
	limit := 20
	if s := q.Get("limit"); s != "" {
		v, err := strconv.Atoi(s)
		switch {
		case err != nil:
			c.fail(invalidMessages("limit", msgInt))
			return
		case v < 1:
			c.fail(invalidMessages("limit", "Input should be greater than or equal to 1"))
			return
		case v > 1000:
			c.fail(invalidMessages("limit", "Input should be less than or equal to 1000"))
			return
		}
		limit = v
	}
	after, before := q.Get("after_id"), q.Get("before_id")
	e.settleKey(c.key, "", false)
	base := "http://" + c.r.Host
	st := &e.batches
	st.mu.Lock()
	var mine []*messageBatch // newest first
	for i := len(st.anList) - 1; i >= 0; i-- {
		if b := st.anList[i]; b.key == c.key {
			mine = append(mine, b)
		}
	}
	// An unknown after_id or before_id leaves nothing to list.
	from, to := 0, len(mine)
	if after != "" {
		from = len(mine)
	}
	if before != "" {
		to = 0
	}
	for i, b := range mine {
		if after != "" && b.id == after {
			from = i + 1
		}
		if before != "" && b.id == before {
			to = i
		}
	}
	var page []*messageBatch
	more := false
	if from < to {
		page = mine[from:to]
		if before != "" && len(page) > limit {
			// before_id pages towards the newer jobs: the ones just before it.
			page, more = page[len(page)-limit:], true
		} else if len(page) > limit {
			page, more = page[:limit], true
		}
	}
	out := appendJobs([]byte(`{"data":[`), page, func(out []byte, b *messageBatch) []byte {
		return b.appendJSON(out, base, false)
	})
	st.mu.Unlock()
	out = appendFirstLast(fmt.Appendf(out, `],"has_more":%t,"first_id":`, more), page)
	c.reply(append(out, '}'))
}
