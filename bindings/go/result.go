package llmsvc

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// start runs the client's dispatcher: a goroutine that waits for the completion queue's
// fd in the runtime's poller (no thread waits in the core) and takes what is queued a
// batch at a time, in order, until the closed client has delivered everything.
func (s *clientState) start(ptr *C.llmsvc_client) error {
	var fd C.int
	if st := C.llmsvc_client_fd(ptr, &fd); st != C.LLMSVC_OK {
		return statusError("new", st, nil)
	}
	// A copy of the fd, which the core keeps for itself; both refer to one eventfd, which
	// the poller needs non-blocking (the core's is).
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return fmt.Errorf("llmsvc: new: copying the completion queue's fd: %w", errno)
	}
	if err := syscall.SetNonblock(int(dup), true); err != nil {
		syscall.Close(int(dup))
		return fmt.Errorf("llmsvc: new: the completion queue's fd: %w", err)
	}
	f := os.NewFile(uintptr(dup), "llmsvc completion queue")
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("llmsvc: new: the completion queue's fd: %w", err)
	}
	go func() {
		defer close(s.exited)
		defer f.Close()
		// In C memory: cgo checks a Go array passed to C by copying it whole.
		views := (*[C.LLMSVCGO_BATCH]C.llmsvcgo_view)(C.malloc(C.sizeof_llmsvcgo_view * C.LLMSVCGO_BATCH))
		defer C.free(unsafe.Pointer(views))
		var taken C.size_t
		status := C.int(C.LLMSVC_OK)
		for status != C.LLMSVC_ECLOSED {
			// The fd is readable while results wait; the poller wakes the read for each
			// batch the engine queues, and the core makes it unreadable once empty.
			err := conn.Read(func(uintptr) bool {
				for {
					p := C.llmsvcgo_poll(ptr, &views[0], taken, C.LLMSVCGO_BATCH)
					taken, status = p.n, p.status
					switch status {
					case C.LLMSVC_OK:
						s.deliver(views[:p.n])
					case C.LLMSVC_ETIMEOUT: // empty
						return false
					default: // LLMSVC_ECLOSED: everything was delivered
						return true
					}
				}
			})
			if err == nil && status != C.LLMSVC_ECLOSED {
				err = Status(status)
			}
			if err != nil {
				log.Printf("llmsvc: taking completions from the core failed, pending requests will not complete: %v", err)
				return
			}
		}
	}()
	return nil
}

// deliver hands over a batch of results from the completion queue, in order, on the
// client's dispatcher: pieces go to their stream's queue, events to the client's hook,
// and each completion becomes its Future's Response or *Error.
func (s *clientState) deliver(vs []C.llmsvcgo_view) {
	for i := range vs {
		v := &vs[i]
		switch v._type {
		case C.LLMSVC_RESULT_EVENT:
			s.hooks.deliver(v)
		case C.LLMSVC_RESULT_DELTA:
			p := Piece{Kind: PieceKind(v.piece_kind), Index: int(v.piece_index),
				Text: viewString(v, C.LLMSVC_STR_TEXT)}
			if p.Kind == PieceToolCall {
				p.CallID, p.Name = C.GoString(v.call_id), C.GoString(v.call_name)
			}
			s.pending.get(uintptr(v.payload), false).s.push(p)
		default:
			f := s.pending.get(uintptr(v.payload), true) // the last result of the request
			resp, err := f.build(v)
			if f.obs != nil { // before the waiters wake: what it records is there for them
				endObservation(f.obs, resp, err)
			}
			f.complete(resp, err)
		}
	}
}

func viewString(v *C.llmsvcgo_view, key int) string {
	return C.GoStringN(v.strs[key], C.int(v.lens[key]))
}

// unknown is LLMSVC_UNKNOWN: a number the core does not know (no usage, no price, ...).
const unknown = math.MinInt64

// build turns a completion into the request's outcome, from the core's typed view:
// the Response, or the *Error of a failed request. Only what the result document alone
// carries is read from it, and only when the request or the numbers say it is there.
func (f *Future) build(v *C.llmsvcgo_view) (resp *Response, err error) {
	defer func() {
		if p := recover(); p != nil { // a bug here must not end the dispatcher, nor the process
			resp, err = nil, &Error{Kind: KindInternal, Message: fmt.Sprint("reading the result: ", p)}
		}
	}()
	n := &v.nums
	str := func(key int) string { return viewString(v, key) }
	kind := Kind(n[C.LLMSVC_NUM_KIND])
	r := &Response{ID: uint64(v.id), OK: kind == KindNone, Model: str(C.LLMSVC_STR_MODEL),
		Operation: str(C.LLMSVC_STR_OPERATION), Deployment: str(C.LLMSVC_STR_DEPLOYMENT),
		TraceID: str(C.LLMSVC_STR_TRACE_ID), Text: str(C.LLMSVC_STR_TEXT),
		FinishReason: str(C.LLMSVC_STR_FINISH_REASON), ResponseID: str(C.LLMSVC_STR_RESPONSE_ID),
		ResponseModel: str(C.LLMSVC_STR_RESPONSE_MODEL), ServiceTier: str(C.LLMSVC_STR_SERVICE_TIER),
		Thinking: str(C.LLMSVC_STR_THINKING), UsageUnreadable: n[C.LLMSVC_NUM_USAGE] == 3,
		Attempts: make([]Attempt, n[C.LLMSVC_NUM_ATTEMPTS]),
		Timing: Timing{SubmitUnixMS: int64(n[C.LLMSVC_NUM_SUBMIT_UNIX_MS]),
			TotalMS: ms(n[C.LLMSVC_NUM_TOTAL_NS]), OverheadUS: float64(n[C.LLMSVC_NUM_OVERHEAD_NS]) / 1e3,
			GateWaitMS: msKnown(n[C.LLMSVC_NUM_GATE_WAIT_NS])},
		Provider:      internString(v, C.LLMSVC_STR_PROVIDER, &lastProvider),
		ServerAddress: internString(v, C.LLMSVC_STR_SERVER_ADDRESS, &lastServerAddress),
		CacheHit:      cacheHit(n[C.LLMSVC_NUM_CACHE_HIT]),
		BatchID:       str(C.LLMSVC_STR_BATCH_ID),
		CustomID:      str(C.LLMSVC_STR_CUSTOM_ID),
		Raw:           C.GoBytes(unsafe.Pointer(v.json), C.int(v.json_len)),
	}
	if k := n[C.LLMSVC_NUM_EMBEDDINGS]; k > 0 && k != unknown && libVersion >= 500 {
		r.Embeddings = readEmbeddings(v.result, int(k))
	}
	if port := n[C.LLMSVC_NUM_SERVER_PORT]; port > 0 {
		r.ServerPort = int(port)
	}
	if t := n[C.LLMSVC_NUM_FIRST_TOKEN_NS]; t != unknown {
		r.Timing.FirstTokenMS = ms(t)
	}
	if c := int64(n[C.LLMSVC_NUM_COST_NANO_USD]); c != unknown {
		r.CostNanoUSD = &c
	}
	if p, c := int64(n[C.LLMSVC_NUM_PROMPT_TOKENS]), int64(n[C.LLMSVC_NUM_COMPLETION_TOKENS]); p != unknown {
		r.Usage = &Usage{PromptTokens: p, CompletionTokens: c, TotalTokens: p + c,
			CachedTokens:     int64(n[C.LLMSVC_NUM_CACHED_TOKENS]),
			CacheWriteTokens: int64(n[C.LLMSVC_NUM_CACHE_WRITE_TOKENS]),
			ReasoningTokens:  int64(n[C.LLMSVC_NUM_REASONING_TOKENS]), Estimated: n[C.LLMSVC_NUM_USAGE] == 2}
	}
	for i := range r.Attempts {
		a := C.llmsvcgo_read_attempt(v.result, C.size_t(i))
		an := &a.nums
		r.Attempts[i] = Attempt{StartUnixMS: int64(an[C.LLMSVC_ATTEMPT_START_UNIX_MS]),
			StartMS: ms(an[C.LLMSVC_ATTEMPT_START_NS]), DurationMS: ms(an[C.LLMSVC_ATTEMPT_DURATION_NS]),
			HTTPStatus: int(an[C.LLMSVC_ATTEMPT_HTTP_STATUS]), Kind: Kind(an[C.LLMSVC_ATTEMPT_KIND]),
			BackoffMS:     ms(an[C.LLMSVC_ATTEMPT_BACKOFF_NS]),
			BackoffSource: backoffSources[an[C.LLMSVC_ATTEMPT_BACKOFF_SOURCE]%3],
			RequestID:     C.GoString(a.request_id), Deployment: C.GoString(a.deployment),
			GateWaitMS: msKnown(an[C.LLMSVC_ATTEMPT_GATE_WAIT_NS])}
		if p := an[C.LLMSVC_ATTEMPT_PROMPT_TOKENS]; p != unknown {
			u := &attemptUsage{int64(p), int64(an[C.LLMSVC_ATTEMPT_COMPLETION_TOKENS]),
				int64(an[C.LLMSVC_ATTEMPT_COST_NANO_USD])} // one allocation for the three
			r.Attempts[i].PromptTokens, r.Attempts[i].CompletionTokens = &u.prompt, &u.completion
			if u.cost != unknown {
				r.Attempts[i].CostNanoUSD = &u.cost
			}
		}
	}
	if f.wants&wantJSON != 0 && r.OK && r.Text != "" {
		r.JSON = json.RawMessage(r.Text) // the core validated the text as the document
	}

	// What only the document has: the members the request asked for, and the details
	// of rarer results (tool calls, choices, hour-long cache writes, schema mismatches).
	var e *Error
	var ed *errorDoc
	var members [9]member
	read := members[:0]
	add := func(when bool, key string, into any) {
		if when {
			read = append(read, member{key, into})
		}
	}
	add(f.wants&wantMetadata != 0, "metadata", &r.Metadata)
	add(f.wants&wantLogprobs != 0, "logprobs", &r.Logprobs)
	add(f.wants&wantThinking != 0 || r.Thinking != "", "thinking_signature", &r.ThinkingSignature)
	add(f.wants&wantDocJSON != 0 && r.OK, "json", &r.JSON)
	add(n[C.LLMSVC_NUM_TOOL_CALLS] > 0, "tool_calls", &r.ToolCalls)
	add(n[C.LLMSVC_NUM_CHOICES] > 1, "choices", &r.Choices)
	add(r.Usage != nil && (r.Usage.CacheWriteTokens > 0 || r.UsageUnreadable), "usage", r.Usage)
	if !r.OK {
		e = &Error{Kind: kind, Message: str(C.LLMSVC_STR_ERROR_MESSAGE),
			HTTPStatus:      int(n[C.LLMSVC_NUM_HTTP_STATUS]),
			ProviderMessage: str(C.LLMSVC_STR_PROVIDER_MESSAGE), ProviderType: str(C.LLMSVC_STR_PROVIDER_ERROR_TYPE),
			ProviderCode: str(C.LLMSVC_STR_PROVIDER_ERROR_CODE), Attempts: r.Attempts, Response: r}
		r.Error = e
		if ra := n[C.LLMSVC_NUM_RETRY_AFTER_MS]; ra != unknown {
			e.RetryAfter = time.Duration(ra) * time.Millisecond
		}
		if kind == KindSchemaMismatch || e.ProviderMessage+e.ProviderType+e.ProviderCode != "" {
			ed = new(errorDoc)
			add(true, "error", ed)
		}
	}
	if err := readMembers(r.Raw, read); err != nil {
		return nil, &Error{Kind: KindInternal, Message: "unreadable result document: " + err.Error(), Response: r}
	}
	if e == nil {
		return r, nil
	}
	if ed != nil {
		e.ProviderParam, e.SchemaPointer = ed.ProviderParam, ed.Pointer
		e.SchemaKeyword, e.RejectedOutput = ed.Keyword, ed.Output
	}
	if kind == KindCancelled || kind == KindDeadlineExceeded {
		e.ctxErr = contextCause(f.ctx)
	}
	return nil, e
}

// readEmbeddings copies the n vectors of an embeddings result (owned by it) into one
// backing array when they have the same length, as they do.
func readEmbeddings(res *C.llmsvc_result, n int) [][]float32 {
	vecs := make([][]float32, n)
	var backing []float32
	var dims C.size_t
	for i := range vecs {
		p := C.llmsvc_result_embedding(res, C.size_t(i), &dims)
		if p == nil {
			continue
		}
		src := unsafe.Slice((*float32)(unsafe.Pointer(p)), int(dims))
		if backing == nil {
			backing = make([]float32, 0, n*len(src))
		}
		if cap(backing)-len(backing) >= len(src) {
			start := len(backing)
			backing = append(backing, src...)
			vecs[i] = backing[start:len(backing):len(backing)]
		} else {
			vecs[i] = append([]float32(nil), src...)
		}
	}
	return vecs
}

// ms converts nanoseconds to milliseconds, as the result document writes them.
func ms(ns C.int64_t) float64 { return float64(ns) / 1e6 }

// msKnown is ms, with 0 for an unknown number (a library older than the header).
func msKnown(ns C.int64_t) float64 {
	if ns == unknown {
		return 0
	}
	return ms(ns)
}

// attemptUsage holds an attempt's usage and cost, which Attempt points into.
type attemptUsage struct{ prompt, completion, cost int64 }

// cacheHit names LLMSVC_NUM_CACHE_HIT's values.
func cacheHit(n C.int64_t) string {
	switch n {
	case 1:
		return "memory"
	case 2:
		return "sqlite"
	}
	return ""
}

// The strings last read by internString, which are nearly always the same from one
// result to the next: the provider's name and the server's address.
var lastProvider, lastServerAddress atomic.Pointer[string]

// internString reads a string of the view as viewString does, without allocating when
// it equals the one last read for the same key.
func internString(v *C.llmsvcgo_view, key int, last *atomic.Pointer[string]) string {
	n := int(v.lens[key])
	if n == 0 || v.strs[key] == nil {
		return ""
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(v.strs[key])), n)
	if p := last.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	last.Store(&s)
	return s
}

// backoffSources names LLMSVC_ATTEMPT_BACKOFF_SOURCE's values as the document does.
var backoffSources = [3]string{"", "client", "server"}

// errorDoc is what only the result document's "error" object has.
type errorDoc struct {
	ProviderParam string `json:"provider_param"`
	Pointer       string `json:"pointer"`
	Keyword       string `json:"keyword"`
	Output        string `json:"output"`
}

// wants says which members of its result document a request may get that the typed
// view lacks.
type wants uint8

const (
	wantMetadata wants = 1 << iota // Request.Metadata, echoed
	wantJSON                       // structured output or JSON mode: Response.JSON is the text
	wantLogprobs                   // Request.Logprobs
	wantThinking                   // Request.Thinking: its signature
	wantDocJSON                    // the document's "json" (the request is not at hand)
)

func wantsOf(req *Request) (w wants) {
	if len(req.Metadata) > 0 {
		w |= wantMetadata
	}
	if req.JSONSchema != nil || req.ResponseFormat != nil && req.ResponseFormat.Type != "text" {
		w |= wantJSON
	}
	if req.Logprobs {
		w |= wantLogprobs
	}
	if req.Thinking != nil {
		w |= wantThinking
	}
	return w
}

// member is one member of a result document to decode, into a pointer.
type member struct {
	key  string
	into any
}

// readMembers unmarshals the top-level members of doc that ms name, and stops once it
// has them all; the others are skipped unparsed. The core writes its documents compact
// (no spaces between tokens).
func readMembers(doc []byte, ms []member) error {
	left := len(ms)
	for i := 1; left > 0 && i < len(doc) && doc[i] == '"'; {
		colon := skipValue(doc, i)
		if colon >= len(doc) || doc[colon] != ':' {
			break
		}
		key, end := doc[i+1:colon-1], skipValue(doc, colon+1)
		for _, m := range ms {
			if m.key == string(key) {
				if err := json.Unmarshal(doc[colon+1:end], m.into); err != nil {
					return fmt.Errorf("member %q: %w", m.key, err)
				}
				left--
			}
		}
		i = end + 1 // past the comma
	}
	return nil
}

// skipValue returns the index just past the JSON value (or key) that starts at doc[i].
func skipValue(doc []byte, i int) int {
	depth := 0
	for ; i < len(doc); i++ {
		switch doc[i] {
		case '"':
			for i++; i < len(doc) && doc[i] != '"'; i++ {
				if doc[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			continue
		case '}', ']':
			if depth--; depth < 0 {
				return i // the end of the enclosing object: a scalar ended
			}
		case ',':
			if depth == 0 {
				return i
			}
			continue
		default:
			continue
		}
		if depth == 0 {
			return i + 1
		}
	}
	return len(doc)
}

// eventType reads an event document's type, the first member the core writes.
func eventType(doc []byte) EventType {
	name, _, _ := bytes.Cut(bytes.TrimPrefix(doc, []byte(`{"type":"`)), []byte(`"`))
	for i, n := range eventNames {
		if n == string(name) {
			return 1 << i
		}
	}
	return 0
}

// contextCause is ctx.Err(), or context.DeadlineExceeded when the deadline has passed but
// the context's own timer has not fired yet (the core, which got the same deadline
// rounded up, may notice it first).
func contextCause(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}
