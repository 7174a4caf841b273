package llmsvc_test

import (
	"bytes"
	"context"
	"errors"
	"log"
	"slices"
	"strings"
	"sync"
	"testing"

	llmsvc "llmsvc/bindings/go"
)

// eventLog records the events a hook receives; safe for the engine thread and the test.
type eventLog struct {
	mu     sync.Mutex
	events []llmsvc.Event
}

func (l *eventLog) add(e llmsvc.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) take() []llmsvc.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

func names(events []llmsvc.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Name)
	}
	return out
}

func TestEventHookRetriedRequest(t *testing.T) {
	emu := startEmulator(t, "--fail-first", "1")
	c := emu.client(t, "k-events", llmsvc.Config{Retry: &llmsvc.Retry{
		MaxAttempts: 3, BaseDelayMS: llmsvc.Ptr[int64](1), MaxDelayMS: llmsvc.Ptr[int64](2),
	}})
	ctx := testContext(t)

	// Every event, without content: the retried request's whole life, before its result.
	var all eventLog
	if err := c.SetEventHook(llmsvc.EventAll, false, all.add); err != nil {
		t.Fatal(err)
	}
	const prompt = "a prompt that must stay out of the events"
	resp, err := c.Generate(ctx, llmsvc.Request{Prompt: prompt})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Attempts) != 2 {
		t.Fatalf("%d attempts, want 2 (--fail-first 1)", len(resp.Attempts))
	}
	events := all.take()
	want := []string{"queued", "admitted", "attempt_started", "attempt_finished",
		"retry_scheduled", "admitted", "attempt_started", "attempt_finished", "completed"}
	if got := names(events); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i, e := range events {
		var doc struct {
			Type      string `json:"type"`
			RequestID uint64 `json:"request_id"`
			Model     string `json:"model"`
		}
		if err := e.Decode(&doc); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, e.JSON)
		}
		if e.RequestID != resp.ID || doc.RequestID != resp.ID || doc.Type != e.Name ||
			e.Type.String() != e.Name || doc.Model != "gpt-4o-mini" {
			t.Errorf("event %d %v (request %d): %s; want request %d", i, e.Type, e.RequestID, e.JSON, resp.ID)
		}
		if bytes.Contains(e.JSON, []byte(prompt)) || bytes.Contains(e.JSON, []byte(resp.Text)) {
			t.Errorf("event %d carries content without WithContent: %s", i, e.JSON)
		}
	}
	var finished, retry map[string]any
	if err := events[3].Decode(&finished); err != nil {
		t.Fatal(err)
	}
	if err := events[4].Decode(&retry); err != nil {
		t.Fatal(err)
	}
	if finished["http_status"] != 500.0 || finished["kind"] != "server_error" ||
		retry["cause"] != "server_error" || retry["after_attempt"] != 1.0 {
		t.Errorf("first attempt %v, retry %v", finished, retry)
	}

	// Queued and completed only, with content: the prompt and the reply.
	var some eventLog
	if err := c.SetEventHook(llmsvc.EventQueued|llmsvc.EventCompleted, true, some.add); err != nil {
		t.Fatal(err)
	}
	resp, err = c.Generate(ctx, llmsvc.Request{Prompt: "second prompt"})
	if err != nil {
		t.Fatal(err)
	}
	events = some.take()
	if got := names(events); !slices.Equal(got, []string{"queued", "completed"}) {
		t.Fatalf("events %v, want [queued completed]", got)
	}
	var queued struct {
		Request map[string]any `json:"request"`
	}
	var completed struct {
		Text     *string `json:"text"`
		OK       bool    `json:"ok"`
		Attempts int     `json:"attempts"`
	}
	if err := events[0].Decode(&queued); err != nil {
		t.Fatal(err)
	}
	if err := events[1].Decode(&completed); err != nil {
		t.Fatal(err)
	}
	if queued.Request == nil || !strings.Contains(string(events[0].JSON), "second prompt") {
		t.Errorf("queued without the request: %s", events[0].JSON)
	}
	if completed.Text == nil || *completed.Text != resp.Text || !completed.OK || completed.Attempts != 2 {
		t.Errorf("completed %s, reply %q", events[1].JSON, resp.Text)
	}
	if ev := all.take(); len(ev) != 0 {
		t.Errorf("the replaced hook still got %v", names(ev))
	}

	// Off: nothing more, for either hook.
	if err := c.SetEventHook(0, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Generate(ctx, llmsvc.Request{Prompt: "third prompt"}); err != nil {
		t.Fatal(err)
	}
	if ev := append(all.take(), some.take()...); len(ev) != 0 {
		t.Errorf("events after turning them off: %v", names(ev))
	}
	if n := llmsvc.LiveEventHooks(); n != 0 {
		t.Errorf("%d hook handles live after turning events off", n)
	}

	// Bits the core does not define are refused.
	var se *llmsvc.StatusError
	if err := c.SetEventHook(1<<10, false, all.add); !errors.As(err, &se) || se.Status != llmsvc.StatusInvalid {
		t.Errorf("unknown bits: %v", err)
	}
	if n := llmsvc.LiveEventHooks(); n != 0 {
		t.Errorf("%d hook handles live after a refused call", n)
	}
}

// A hook may call the client, replace itself and panic; Close, with hooks that call the
// client while it completes what is pending, returns; and no hook handle outlives it.
func TestEventHookCallsTheClient(t *testing.T) {
	emu := startEmulator(t)
	// One request per minute: the first is sent, the others wait at the gate until Close.
	c := emu.client(t, "k-events-hook", llmsvc.Config{Limits: &llmsvc.Limits{RPM: 1}})
	ctx := testContext(t)

	var logged bytes.Buffer
	var logMu sync.Mutex
	prevLog := log.Writer()
	t.Cleanup(func() { log.SetOutput(prevLog) })
	log.SetOutput(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logged.Write(p)
	}))

	var second eventLog
	var firstCalls int
	var metricsErr, closeErr, setErr error
	panicked := false
	secondHook := func(e llmsvc.Event) {
		second.add(e)
		if _, err := c.Metrics(); err != nil && metricsErr == nil {
			metricsErr = err
		}
		if !panicked {
			panicked = true
			panic("a broken hook")
		}
	}
	err := c.SetEventHook(llmsvc.EventQueued, false, func(e llmsvc.Event) {
		firstCalls++
		closeErr = c.Close()
		setErr = c.SetEventHook(llmsvc.EventCompleted, false, secondHook)
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Generate(ctx, llmsvc.Request{Prompt: "first"})
	if err != nil {
		t.Fatal(err)
	}
	// The events ran before the completion: reading what they wrote is ordered after them.
	var se *llmsvc.StatusError
	if firstCalls != 1 || setErr != nil || !errors.As(closeErr, &se) || se.Status != llmsvc.StatusRecursive {
		t.Fatalf("first hook: %d calls, SetEventHook %v, Close %v", firstCalls, setErr, closeErr)
	}
	// Hooks run on the client's goroutine, after the engine made the event: the engine may
	// have completed the first request before the switch to the second hook reached it, so
	// its completed event comes or does not, and if it comes, it came before the completion.
	if got := second.take(); len(got) > 1 || (len(got) == 1 && (got[0].Name != "completed" || got[0].RequestID != resp.ID)) {
		t.Fatalf("second hook got %v", names(got))
	}

	// Waiting at the gate, then completed by Close with shut_down: the hook calls
	// Metrics meanwhile.
	const n = 3
	var futures []*llmsvc.Future
	for i := 0; i < n; i++ {
		f, err := c.Submit(context.Background(), llmsvc.Request{Prompt: "queued"})
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	gauge(t, c, "queued", n, func(m llmsvc.Metrics) int64 { return m.Requests.Queued })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range futures {
		if _, err := f.Result(); !errors.Is(err, llmsvc.ErrShutDown) {
			t.Errorf("after Close: %v", err)
		}
	}
	logMu.Lock()
	if !strings.Contains(logged.String(), "panic in an event hook") {
		t.Errorf("the panic was not logged: %q", logged.String())
	}
	logMu.Unlock()
	got := second.take()
	if len(got) != n || metricsErr != nil {
		t.Errorf("%d completed events during Close, want %d; Metrics from the hook: %v", len(got), n, metricsErr)
	}
	if err := c.SetEventHook(llmsvc.EventAll, false, second.add); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("SetEventHook after Close: %v", err)
	}
	if err := c.SetEventHook(0, false, nil); err != nil {
		t.Errorf("turning events off after Close: %v", err)
	}
	if h := llmsvc.LiveEventHooks(); h != 0 {
		t.Errorf("%d hook handles live after Close", h)
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestEventTypeString(t *testing.T) {
	for typ, want := range map[llmsvc.EventType]string{
		llmsvc.EventQueued:                         "queued",
		llmsvc.EventRetryScheduled:                 "retry_scheduled",
		llmsvc.EventQueued | llmsvc.EventCompleted: "queued|completed",
		0:       "none",
		1 << 10: "unknown",
		llmsvc.EventAll &^ llmsvc.EventAttemptStarted: "queued|admitted|attempt_finished|retry_scheduled|completed",
	} {
		if got := typ.String(); got != want {
			t.Errorf("%d: %q, want %q", uint(typ), got, want)
		}
	}
}
