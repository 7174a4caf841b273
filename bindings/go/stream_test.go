package llmsvc_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	llmsvc "llmsvc/bindings/go"
)

// collect iterates a stream to its end and returns its pieces and final error.
func collect(s *llmsvc.Stream) ([]string, error) {
	var pieces []string
	for piece, err := range s.Deltas() {
		if err != nil {
			return pieces, err
		}
		pieces = append(pieces, piece)
	}
	return pieces, nil
}

func inFlight(m llmsvc.Metrics) int64 { return m.Requests.InFlight }

func TestStreamReassemblesGenerate(t *testing.T) {
	emu := startEmulator(t)
	ctx := testContext(t)
	providers := []struct{ provider, baseURL, model string }{
		{"openai_chat", emu.BaseURL, "gpt-4o-mini"},
		{"openai_responses", emu.BaseURL, "gpt-4o-mini"},
		{"anthropic", emu.BaseURL, "claude-3-5-haiku-latest"},
		{"ollama", emu.root, "llama3.2"},
	}
	for _, p := range providers {
		t.Run(p.provider, func(t *testing.T) {
			c, err := llmsvc.NewClient(llmsvc.Config{Provider: p.provider, BaseURL: p.baseURL,
				APIKey: "k-stream-" + p.provider, Model: p.model})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req := llmsvc.Request{Prompt: "Tell me about streams.", MaxOutputTokens: 64}
			want, err := c.Generate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.Stream(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			pieces, err := collect(s)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := s.Response()
			sameAsDocument(t, resp, err)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(pieces, "")
			if want.Text == "" || got != want.Text || resp.Text != want.Text {
				t.Errorf("streamed %q (%d pieces), completion %q, generated %q",
					got, len(pieces), resp.Text, want.Text)
			}
			if len(pieces) < 2 {
				t.Errorf("%d pieces: the reply was not streamed", len(pieces))
			}
			if resp.Timing.FirstTokenMS <= 0 || resp.Usage == nil || resp.Usage.TotalTokens == 0 {
				t.Errorf("timing %+v, usage %+v", resp.Timing, resp.Usage)
			}
			if resp.ID != s.ID() {
				t.Errorf("id %d, stream id %d", resp.ID, s.ID())
			}
			// The sequence is single-use.
			for _, err := range s.Deltas() {
				if err == nil {
					t.Error("a second iteration yielded a piece")
				}
			}
		})
	}
}

// A reader that starts late still gets every piece: they wait on the Go side.
func TestStreamSlowReader(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-slow", llmsvc.Config{})
	s, err := c.Stream(testContext(t), llmsvc.Request{Prompt: "A long answer, please."})
	if err != nil {
		t.Fatal(err)
	}
	<-s.Done() // the whole reply was delivered before anything was read
	resp, err := s.Response()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var b strings.Builder
	for piece, err := range s.Deltas() {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(piece)
		n++
		time.Sleep(time.Millisecond) // a slow consumer
	}
	if b.String() != resp.Text || n < 2 {
		t.Errorf("read %q in %d pieces, completion %q", b.String(), n, resp.Text)
	}
}

func TestStreamCancelContext(t *testing.T) {
	emu := startEmulator(t, "--stream-delay-ms", "200")
	c := emu.client(t, "k-stream-cancel", llmsvc.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.Stream(ctx, llmsvc.Request{Prompt: "Take your time."})
	if err != nil {
		t.Fatal(err)
	}
	var pieces []string
	var final error
	start := time.Time{}
	for piece, err := range s.Deltas() {
		if err != nil {
			final = err
			break
		}
		pieces = append(pieces, piece)
		if len(pieces) == 1 {
			start = time.Now()
			cancel()
		}
	}
	if len(pieces) == 0 || !errors.Is(final, context.Canceled) || !errors.Is(final, llmsvc.ErrCancelled) {
		t.Fatalf("%d pieces, then %v", len(pieces), final)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelling took %v", d)
	}
	_, err = s.Response()
	var e *llmsvc.Error
	if !errors.As(err, &e) || e.Response == nil || e.Response.Usage == nil {
		t.Fatalf("response: %v", err)
	}
	t.Logf("cut short after %d pieces: usage %+v", len(pieces), e.Response.Usage)
	gauge(t, c, "in_flight", 0, inFlight)
}

func TestStreamBreakCancels(t *testing.T) {
	emu := startEmulator(t, "--stream-delay-ms", "200")
	c := emu.client(t, "k-stream-break", llmsvc.Config{})
	s, err := c.Stream(testContext(t), llmsvc.Request{Prompt: "Take your time."})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range s.Deltas() {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	start := time.Now()
	_, err = s.Response()
	if !errors.Is(err, llmsvc.ErrCancelled) || errors.Is(err, context.Canceled) {
		t.Fatalf("after break: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelling took %v", d)
	}
	gauge(t, c, "in_flight", 0, inFlight)
}

func TestStreamMidstreamError(t *testing.T) {
	emu := startEmulator(t, "--midstream-error-rate", "1")
	c := emu.client(t, "k-midstream", llmsvc.Config{})
	s, err := c.Stream(testContext(t), llmsvc.Request{Prompt: "This will break."})
	if err != nil {
		t.Fatal(err)
	}
	pieces, err := collect(s)
	sameAsDocument(t, nil, err)
	var e *llmsvc.Error
	if len(pieces) == 0 || !errors.Is(err, llmsvc.ErrServerError) || !errors.As(err, &e) {
		t.Fatalf("%d pieces, then %v", len(pieces), err)
	}
	// Text was delivered, so the core did not retry.
	if len(e.Attempts) != 1 || e.ProviderMessage == "" || e.Response == nil || e.Response.Usage == nil {
		t.Errorf("%d attempts, provider message %q, response %+v", len(e.Attempts), e.ProviderMessage, e.Response)
	}
	t.Logf("%d pieces, then %v (provider message %q)", len(pieces), err, e.ProviderMessage)
}

func TestStreamSubmissionErrors(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-stream-submit", llmsvc.Config{})
	if _, err := c.Stream(testContext(t), llmsvc.Request{Prompt: "x", Temperature: llmsvc.Ptr(7.0)}); !errors.Is(err, llmsvc.StatusSchema) {
		t.Errorf("bad temperature: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Stream(ctx, llmsvc.Request{Prompt: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	_ = c.Close()
	if _, err := c.Stream(context.Background(), llmsvc.Request{Prompt: "x"}); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("closed client: %v", err)
	}
	if h := llmsvc.LiveHandles(); h != 0 {
		t.Errorf("%d live handles", h)
	}
}

func TestStreamNoLeaks(t *testing.T) {
	emu := startEmulator(t)
	baseline := runtime.NumGoroutine()
	c, err := llmsvc.NewClient(llmsvc.Config{BaseURL: emu.BaseURL, APIKey: "k-stream-leak",
		Model: "gpt-4o-mini", Limits: &llmsvc.Limits{Concurrency: 8}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	var streams []*llmsvc.Stream
	for i := 0; i < n; i++ {
		req := llmsvc.Request{Prompt: "stream leak " + strconv.Itoa(i%31)}
		ctx, cancel := context.WithCancel(context.Background())
		s, err := c.Stream(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 0: // read to the end
			if _, err := collect(s); err != nil {
				t.Fatal(err)
			}
		case 1: // break after the first piece
			for range s.Deltas() {
				break
			}
		case 2: // cancel the context at once
			cancel()
		case 3: // never read the pieces, only the response
		}
		streams = append(streams, s)
		defer cancel()
	}
	for _, s := range streams {
		if _, err := s.Response(); err != nil && !errors.Is(err, llmsvc.ErrCancelled) {
			t.Fatal(err)
		}
	}
	if h := llmsvc.LiveHandles(); h != 0 {
		t.Errorf("%d cgo handles live after every completion", h)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the goroutines to return to the baseline", func() bool {
		return runtime.NumGoroutine() <= baseline
	})
}

type pet struct {
	Name string `json:"name"`
	Legs int    `json:"legs"`
}

var petSchema = llmsvc.JSONSchema{Name: "pet", Strict: true, Schema: json.RawMessage(`{"type":"object",` +
	`"properties":{"name":{"type":"string"},"legs":{"type":"integer"}},` +
	`"required":["name","legs"],"additionalProperties":false}`)}

func TestGenerateJSON(t *testing.T) {
	emu := startEmulator(t, "--invalid-json-first", "1")
	ctx := testContext(t)
	c := emu.client(t, "k-typed", llmsvc.Config{})
	schema := petSchema
	p, resp, err := llmsvc.GenerateJSON[pet](ctx, c, llmsvc.Request{Prompt: "Describe a pet.", JSONSchema: &schema})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(resp.JSON, &doc); err != nil || doc["name"] != p.Name || doc["legs"] != float64(p.Legs) {
		t.Errorf("decoded %+v from %s", p, resp.JSON)
	}
	if len(resp.Attempts) != 2 {
		t.Errorf("%d attempts, want 2 (the first reply was asked again)", len(resp.Attempts))
	}

	// No second chance: the mismatch is the error, with where, why and what.
	strict := emu.client(t, "k-typed-strict", llmsvc.Config{Retry: &llmsvc.Retry{SchemaRetries: llmsvc.Ptr(0)}})
	_, resp, err = llmsvc.GenerateJSON[pet](ctx, strict, llmsvc.Request{Prompt: "Describe a pet.", JSONSchema: &schema})
	var e *llmsvc.Error
	if !errors.Is(err, llmsvc.ErrSchemaMismatch) || !errors.As(err, &e) || resp != nil {
		t.Fatalf("mismatch: %v (response %v)", err, resp)
	}
	if !strings.HasPrefix(e.SchemaPointer, "/") || e.SchemaKeyword == "" || e.RejectedOutput == "" {
		t.Errorf("pointer %q, keyword %q, output %q", e.SchemaPointer, e.SchemaKeyword, e.RejectedOutput)
	}

	// A T the validated document does not fit.
	_, resp, err = llmsvc.GenerateJSON[[]int](ctx, c, llmsvc.Request{Prompt: "Describe a pet.", JSONSchema: &schema})
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) || resp == nil || len(resp.JSON) == 0 {
		t.Errorf("wrong T: %v", err)
	}

	if _, _, err := llmsvc.GenerateJSON[pet](ctx, c, llmsvc.Request{Prompt: "x"}); err == nil {
		t.Error("no schema: no error")
	}
}
