package llmsvc_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	llmsvc "llmsvc/bindings/go"
)

// cancelled checks that err ended a request cancelled through its context.
func cancelled(t *testing.T, err error, attempts int) *llmsvc.Error {
	t.Helper()
	sameAsDocument(t, nil, err)
	var e *llmsvc.Error
	if !errors.Is(err, context.Canceled) || !errors.Is(err, llmsvc.ErrCancelled) || !errors.As(err, &e) {
		t.Fatalf("got %v, want a cancellation wrapping context.Canceled", err)
	}
	if len(e.Attempts) != attempts {
		t.Errorf("%d attempts, want %d: %+v", len(e.Attempts), attempts, e.Attempts)
	}
	return e
}

func TestCancelWhileQueued(t *testing.T) {
	emu := startEmulator(t)
	// One request per 60 s window: the first passes, the next ones wait at the gate.
	c := emu.client(t, "k-queued", llmsvc.Config{Limits: &llmsvc.Limits{RPM: 1}})
	if _, err := c.Generate(testContext(t), llmsvc.Request{Prompt: "first"}); err != nil {
		t.Fatal(err)
	}
	queued := func(m llmsvc.Metrics) int64 { return m.Requests.Queued }

	// Generate: the caller's goroutine sees ctx.Done and cancels in the core.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Generate(ctx, llmsvc.Request{Prompt: "second"})
		errc <- err
	}()
	gauge(t, c, "queued", 1, queued)
	cancel()
	cancelled(t, <-errc, 0)
	gauge(t, c, "queued", 0, queued)

	// Submit: context.AfterFunc cancels; no goroutine waits meanwhile.
	ctx, cancel = context.WithCancel(context.Background())
	f, err := c.Submit(ctx, llmsvc.Request{Prompt: "third"})
	if err != nil {
		t.Fatal(err)
	}
	gauge(t, c, "queued", 1, queued)
	cancel()
	_, err = f.Result()
	cancelled(t, err, 0)

	// Future.Cancel: cancelled, without a context error.
	f, err = c.Submit(context.Background(), llmsvc.Request{Prompt: "fourth"})
	if err != nil {
		t.Fatal(err)
	}
	gauge(t, c, "queued", 1, queued)
	f.Cancel()
	if _, err := f.Result(); !errors.Is(err, llmsvc.ErrCancelled) || errors.Is(err, context.Canceled) {
		t.Errorf("Future.Cancel: %v", err)
	}
	f.Cancel() // completed: nothing to do

	// A context already done: nothing is submitted.
	if _, err := c.Generate(ctx, llmsvc.Request{Prompt: "fifth"}); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	if s := emu.stats(t, "k-queued"); s.Received != 1 {
		t.Errorf("the emulator received %d requests, want 1", s.Received)
	}
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests.Submitted != 4 || m.FailuresByKind[llmsvc.KindCancelled] != 3 {
		t.Errorf("requests %+v, failures %v", m.Requests, m.FailuresByKind)
	}
}

func TestCancelWhileBackingOff(t *testing.T) {
	emu := startEmulator(t, "--fail-first", "1")
	c := emu.client(t, "k-backoff", llmsvc.Config{Retry: &llmsvc.Retry{
		BaseDelayMS: llmsvc.Ptr[int64](60000), MaxDelayMS: llmsvc.Ptr[int64](60000), Jitter: llmsvc.Ptr(0.0),
	}})
	ctx, cancel := context.WithCancel(context.Background())
	f, err := c.Submit(ctx, llmsvc.Request{Prompt: "back off"})
	if err != nil {
		t.Fatal(err)
	}
	gauge(t, c, "backing_off", 1, func(m llmsvc.Metrics) int64 { return m.Requests.BackingOff })
	start := time.Now()
	cancel()
	_, err = f.Result()
	e := cancelled(t, err, 1)
	if a := e.Attempts[0]; a.HTTPStatus != 500 || a.BackoffMS != 60000 || a.BackoffSource != "client" {
		t.Errorf("attempt %+v", a)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancelling took %v", d)
	}
	if s := emu.stats(t, "k-backoff"); s.Received != 1 {
		t.Errorf("the emulator received %d requests, want 1", s.Received)
	}
}

func TestCancelInFlight(t *testing.T) {
	emu := startEmulator(t, "--stall-rate", "1", "--stall-ms", "60000")
	c := emu.client(t, "k-inflight", llmsvc.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Generate(ctx, llmsvc.Request{Prompt: "stall"})
		errc <- err
	}()
	gauge(t, c, "in_flight", 1, func(m llmsvc.Metrics) int64 { return m.Requests.InFlight })
	start := time.Now()
	cancel()
	e := cancelled(t, <-errc, 1)
	if e.Attempts[0].Kind != llmsvc.KindCancelled || e.Attempts[0].HTTPStatus != 0 {
		t.Errorf("attempt %+v", e.Attempts[0])
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancelling took %v", d)
	}
	// The emulator held the request and saw the client leave.
	waitFor(t, "the emulator to count the stalled call", func() bool {
		return emu.stats(t, "k-inflight").Stalls == 1
	})
}

// deadlineOnly has a deadline but no Done channel, so only the core can enforce it.
type deadlineOnly struct {
	context.Context
	deadline time.Time
}

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.deadline, true }

func TestContextDeadline(t *testing.T) {
	emu := startEmulator(t, "--stall-rate", "1", "--stall-ms", "60000")
	c := emu.client(t, "k-deadline", llmsvc.Config{})

	for _, viaSubmit := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		var err error
		if viaSubmit {
			var f *llmsvc.Future
			if f, err = c.Submit(ctx, llmsvc.Request{Prompt: "late"}); err == nil {
				_, err = f.Result()
			}
		} else {
			_, err = c.Generate(ctx, llmsvc.Request{Prompt: "late"})
		}
		cancel()
		elapsed := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, llmsvc.ErrDeadlineExceeded) {
			t.Fatalf("submit %v: got %v, want a deadline wrapping context.DeadlineExceeded", viaSubmit, err)
		}
		if elapsed < 300*time.Millisecond || elapsed > 10*time.Second {
			t.Errorf("submit %v: ended after %v", viaSubmit, elapsed)
		}
	}

	// The deadline reaches the core as timeout_ms: enforced without the context's timer.
	ctx := deadlineOnly{context.Background(), time.Now().Add(200 * time.Millisecond)}
	_, err := c.Generate(ctx, llmsvc.Request{Prompt: "late"})
	var e *llmsvc.Error
	if !errors.Is(err, llmsvc.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) ||
		!errors.As(err, &e) || len(e.Attempts) != 1 {
		t.Errorf("core deadline: %v", err)
	}
	// Request.TimeoutMS alone: the core's deadline, no context error.
	_, err = c.Generate(context.Background(), llmsvc.Request{Prompt: "late", TimeoutMS: 100})
	if !errors.Is(err, llmsvc.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout_ms: %v", err)
	}
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.FailuresByKind[llmsvc.KindDeadlineExceeded] != 4 || m.FailuresByKind[llmsvc.KindCancelled] != 0 {
		t.Errorf("failures %v: want 4 deadlines", m.FailuresByKind)
	}

	// A deadline and an earlier cancellation: the cancellation wins.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	f, err := c.Submit(ctx2, llmsvc.Request{Prompt: "late"})
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	if _, err := f.Result(); !errors.Is(err, llmsvc.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before the deadline: %v", err)
	}

	// An expired deadline: nothing is submitted.
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := c.Submit(past, llmsvc.Request{Prompt: "late"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired context: %v", err)
	}
}

func TestCloseWithPending(t *testing.T) {
	emu := startEmulator(t, "--stall-rate", "1", "--stall-ms", "60000")
	c := emu.client(t, "k-close", llmsvc.Config{Limits: &llmsvc.Limits{Concurrency: 3}})
	var futures []*llmsvc.Future
	for i := 0; i < 5; i++ {
		f, err := c.Submit(context.Background(), llmsvc.Request{Prompt: "pending " + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	errc := make(chan error, 1)
	ctx := testContext(t)
	go func() {
		_, err := c.Generate(ctx, llmsvc.Request{Prompt: "pending generate"})
		errc <- err
	}()
	waitFor(t, "3 in flight and 3 queued", func() bool {
		m, err := c.Metrics()
		return err == nil && m.Requests.InFlight == 3 && m.Requests.Queued == 3
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range futures {
		select {
		case <-f.Done():
		default:
			t.Fatal("Close returned before a completion was delivered")
		}
		_, err := f.Result()
		sameAsDocument(t, nil, err)
		var e *llmsvc.Error
		if !errors.Is(err, llmsvc.ErrShutDown) || !errors.As(err, &e) || e.Kind != llmsvc.KindShutDown {
			t.Errorf("pending request after Close: %v", err)
		}
	}
	if err := <-errc; !errors.Is(err, llmsvc.ErrShutDown) {
		t.Errorf("pending Generate after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := c.Generate(context.Background(), llmsvc.Request{Prompt: "after"})
	if !errors.Is(err, llmsvc.ErrClosed) || errors.Is(err, llmsvc.ErrShutDown) {
		t.Errorf("Generate after Close: %v", err)
	}
	if _, err := c.Submit(context.Background(), llmsvc.Request{Prompt: "after"}); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
	if _, err := c.Metrics(); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("Metrics after Close: %v", err)
	}
	if err := c.SetLimits(llmsvc.Limits{}); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("SetLimits after Close: %v", err)
	}
	if err := c.SetDeployment(llmsvc.DeploymentUpdate{Name: "d"}); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("SetDeployment after Close: %v", err)
	}
	futures[0].Cancel() // on a closed client: nothing to do
}

func TestNoLeaks(t *testing.T) {
	emu := startEmulator(t)
	baseline := runtime.NumGoroutine()
	c, err := llmsvc.NewClient(llmsvc.Config{BaseURL: emu.BaseURL, APIKey: "k-leak",
		Model: "gpt-4o-mini", Limits: &llmsvc.Limits{Concurrency: 16}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	futures := make([]*llmsvc.Future, 0, n)
	cancels := make([]context.CancelFunc, 0, n)
	for i := 0; i < n; i++ {
		req := llmsvc.Request{Prompt: "leak " + strconv.Itoa(i%97)}
		switch i % 3 {
		case 0: // Generate with a context that has no Done channel
			if _, err := c.Generate(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		case 1: // Submit with a context watched by AfterFunc, which the completion stops
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			f, err := c.Submit(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			futures = append(futures, f)
		case 2: // Submit and cancel at once: the AfterFunc goroutine runs and ends
			ctx, cancel := context.WithCancel(context.Background())
			f, err := c.Submit(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			futures = append(futures, f)
		}
	}
	for _, f := range futures {
		if _, err := f.Result(); err != nil && !errors.Is(err, llmsvc.ErrCancelled) {
			t.Fatal(err)
		}
	}
	if h := llmsvc.LiveHandles(); h != 0 {
		t.Errorf("%d cgo handles live after every completion", h)
	}
	// Contexts cancelled after their request completed: the stopped AfterFuncs never run.
	for _, cancel := range cancels {
		cancel()
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the goroutines to return to the baseline", func() bool {
		return runtime.NumGoroutine() <= baseline
	})
	if h := llmsvc.LiveHandles(); h != 0 {
		t.Errorf("%d cgo handles live after Close", h)
	}
	if s := emu.stats(t, "k-leak"); s.Received > n || s.OK < 2*n/3 {
		t.Errorf("emulator stats %+v", s)
	}
}

func TestFinalizerClosesForgottenClient(t *testing.T) {
	const n = 4
	before := llmsvc.LiveClients()
	func() {
		for i := 0; i < n; i++ {
			if _, err := llmsvc.NewClient(llmsvc.Config{BaseURL: "http://127.0.0.1:9/v1"}); err != nil {
				t.Fatal(err)
			}
		}
	}()
	if got := llmsvc.LiveClients(); got != before+n {
		t.Fatalf("%d live clients, want %d", got, before+n)
	}
	waitFor(t, "the finalizers to close the forgotten clients", func() bool {
		runtime.GC()
		return llmsvc.LiveClients() == before
	})
}

// Pause holds admission without failing anything; resuming sends what waited.
func TestPause(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-pause", llmsvc.Config{})
	if err := c.Pause(true); err != nil {
		t.Fatal(err)
	}
	f, err := c.Submit(testContext(t), llmsvc.Request{Prompt: "wait"})
	if err != nil {
		t.Fatal(err)
	}
	gauge(t, c, "queued", 1, func(m llmsvc.Metrics) int64 { return m.Requests.Queued })
	if s := emu.stats(t, "k-pause"); s.Received != 0 {
		t.Errorf("paused, the emulator received %d requests", s.Received)
	}
	if err := c.Pause(false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Result(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Pause(true); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("Pause after Close: %v", err)
	}
}
