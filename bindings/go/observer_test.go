package llmsvc_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	llmsvc "llmsvc/bindings/go"
)

// recorder is an Observer that records what it is told.
type recorder struct {
	mu    sync.Mutex
	seen  []*observed
	panic string // "observe" or "end": panic there
}

type observed struct {
	r      *recorder
	req    llmsvc.Request
	stream bool
	ended  int
	resp   *llmsvc.Response
	err    error
}

func (r *recorder) Observe(_ context.Context, req *llmsvc.Request, stream bool) llmsvc.Observation {
	if r.panic == "observe" {
		panic("observe")
	}
	o := &observed{r: r, req: *req, stream: stream}
	req.Traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" // sent to the core
	r.mu.Lock()
	r.seen = append(r.seen, o)
	r.mu.Unlock()
	return o
}

func (o *observed) End(resp *llmsvc.Response, err error) {
	if o.r.panic == "end" {
		panic("end")
	}
	o.r.mu.Lock()
	o.ended++
	o.resp, o.err = resp, err
	o.r.mu.Unlock()
}

func (r *recorder) all() []observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]observed, len(r.seen))
	for i, o := range r.seen {
		out[i] = *o
	}
	return out
}

// TestObserver: an Observer sees each request at submission (and may add to it: the
// traceparent reaches the provider) and its outcome before Generate returns; a refused
// request ends at once; a panic in it is recovered; without one nothing is called.
func TestObserver(t *testing.T) {
	emu := startEmulator(t, "--rate-limit-first", "1", "--rate-limit-wait-ms", "5")
	c := emu.client(t, "k-observer", llmsvc.Config{})
	rec := &recorder{}
	c.SetObserver(rec)
	ctx := testContext(t)

	req := llmsvc.Request{Prompt: "hi", Operation: "greet", MaxOutputTokens: 8}
	resp, err := c.Generate(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	seen := rec.all()
	if len(seen) != 1 || seen[0].ended != 1 || seen[0].resp != resp || seen[0].err != nil || seen[0].stream ||
		seen[0].req.Operation != "greet" {
		t.Fatalf("observed %+v", seen)
	}
	if req.Traceparent != "" {
		t.Error("the observer changed the caller's request")
	}
	st := emu.stats(t, "k-observer")
	if st.Traced != 2 || !strings.HasPrefix(st.LastTraceparent, "00-0af7651916cd43dd8448eb211c80319c-") {
		t.Errorf("the emulator saw %d traceparents, the last %q", st.Traced, st.LastTraceparent)
	}
	// What telemetry reads of a result (ABI 0.4).
	if resp.Provider != "openai" || resp.ServerAddress != "127.0.0.1" || !strings.HasSuffix(emu.BaseURL, ":"+strconv.Itoa(resp.ServerPort)+"/v1") ||
		len(resp.Attempts) != 2 || resp.Attempts[0].HTTPStatus != 429 || resp.Attempts[0].PromptTokens != nil ||
		resp.Attempts[1].PromptTokens == nil || *resp.Attempts[1].PromptTokens != resp.Usage.PromptTokens ||
		resp.Attempts[1].CostNanoUSD == nil || *resp.Attempts[1].CostNanoUSD != *resp.CostNanoUSD {
		t.Errorf("response %+v, attempts %+v", resp, resp.Attempts)
	}

	s, err := c.Stream(ctx, llmsvc.Request{Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = s.Response()
	if seen = rec.all(); len(seen) != 2 || !seen[1].stream || seen[1].ended != 1 || seen[1].resp != resp {
		t.Errorf("stream observed %+v", seen[1:])
	}

	_, err = c.Generate(ctx, llmsvc.Request{Prompt: "hi", Temperature: llmsvc.Ptr(9.0)})
	if seen = rec.all(); !errors.Is(err, llmsvc.StatusSchema) || len(seen) != 3 || seen[2].ended != 1 ||
		seen[2].resp != nil || seen[2].err != err {
		t.Errorf("refused: %v, observed %+v", err, seen[2:])
	}

	for _, where := range []string{"observe", "end"} { // recovered and logged: the request goes on
		rec.panic = where
		if _, err := c.Generate(ctx, llmsvc.Request{Prompt: "panic " + where}); err != nil {
			t.Errorf("with a panic in %s: %v", where, err)
		}
	}
	rec.panic = ""

	c.SetObserver(nil)
	n := len(rec.all())
	if _, err := c.Generate(ctx, llmsvc.Request{Prompt: "hi"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.all()) != n {
		t.Error("a removed observer was called")
	}
}
