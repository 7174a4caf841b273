package llmsvc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	llmsvc "llmsvc/bindings/go"
)

// promptTokens is the emulator's (and the core's) token formula for text messages.
func promptTokens(msgs ...string) int64 {
	n := int64(3)
	for _, m := range msgs {
		n += 4 + int64((len(m)+3)/4)
	}
	return n
}

func TestGenerateSuccess(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-success", llmsvc.Config{})
	req := llmsvc.Request{
		Messages: []llmsvc.Message{
			llmsvc.SystemMessage("You are terse."),
			llmsvc.UserMessage("Say hello to the binding."),
		},
		MaxOutputTokens: 200,
		Operation:       "greet",
		TraceID:         "t-1",
		Metadata:        map[string]any{"row": "17"},
		Temperature:     llmsvc.Ptr(0.0),
	}
	resp, err := c.Generate(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	sameAsDocument(t, resp, err)
	if !resp.OK || resp.ID == 0 || resp.Model != "gpt-4o-mini" || resp.Operation != "greet" ||
		resp.TraceID != "t-1" || resp.Metadata["row"] != "17" {
		t.Fatalf("unexpected response: %+v", resp)
	}
	if resp.FinishReason != "stop" || !strings.HasPrefix(resp.ResponseID, "chatcmpl-") {
		t.Errorf("finish_reason %q, response_id %q", resp.FinishReason, resp.ResponseID)
	}
	u := resp.Usage
	if u == nil {
		t.Fatal("no usage")
	}
	if want := promptTokens("You are terse.", "Say hello to the binding."); u.PromptTokens != want {
		t.Errorf("prompt tokens %d, want %d", u.PromptTokens, want)
	}
	if u.CompletionTokens < 16 || u.TotalTokens != u.PromptTokens+u.CompletionTokens ||
		int64(len(resp.Text)) != 4*u.CompletionTokens {
		t.Errorf("usage %+v with a text of %d bytes", *u, len(resp.Text))
	}
	// gpt-4o-mini: 0.15 and 0.60 USD per million tokens = 150 and 600 nano-USD per token.
	if resp.CostNanoUSD == nil || *resp.CostNanoUSD != u.PromptTokens*150+u.CompletionTokens*600 {
		t.Errorf("cost %v for usage %+v", resp.CostNanoUSD, *u)
	}
	if len(resp.Attempts) != 1 || resp.Attempts[0].HTTPStatus != 200 ||
		resp.Attempts[0].Kind != llmsvc.KindNone || !strings.HasPrefix(resp.Attempts[0].RequestID, "req_") {
		t.Errorf("attempts %+v", resp.Attempts)
	}
	if resp.Timing.SubmitUnixMS == 0 || resp.Timing.TotalMS <= 0 || len(resp.Raw) == 0 {
		t.Errorf("timing %+v, raw %d bytes", resp.Timing, len(resp.Raw))
	}

	// The same request through Submit and a context without a Done channel.
	f, err := c.Submit(context.Background(), llmsvc.Request{Prompt: "Say hello to the binding."})
	if err != nil {
		t.Fatal(err)
	}
	resp2, err := f.Result()
	sameAsDocument(t, resp2, err)
	if err != nil || resp2.ID != f.ID() || resp2.ID == resp.ID || resp2.Operation != "default" {
		t.Fatalf("Submit: %+v, %v", resp2, err)
	}
	<-f.Done()
	if again, err := f.Result(); again != resp2 || err != nil {
		t.Error("Result is not stable across calls")
	}
}

func TestUnpricedModelHasUnknownCost(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-unpriced", llmsvc.Config{FreeModels: []string{"llama3.2"}})
	ctx := testContext(t)
	resp, err := c.Generate(ctx, llmsvc.Request{Model: "my-local-model", Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage == nil || resp.CostNanoUSD != nil {
		t.Errorf("usage %+v, cost %v: want usage and an unknown cost", resp.Usage, resp.CostNanoUSD)
	}
	resp, err = c.Generate(ctx, llmsvc.Request{Model: "llama3.2", Prompt: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.CostNanoUSD == nil || *resp.CostNanoUSD != 0 {
		t.Errorf("free model cost %v, want a known 0", resp.CostNanoUSD)
	}
}

func TestSubmissionErrors(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-submit", llmsvc.Config{Model: ""})
	ctx := testContext(t)
	cases := []struct {
		req  llmsvc.Request
		want string
	}{
		{llmsvc.Request{Model: "gpt-4o-mini", Prompt: "x", Temperature: llmsvc.Ptr(5.0)}, "temperature"},
		{llmsvc.Request{Model: "gpt-4o-mini", Prompt: "x", Priority: "urgent"}, "priority"},
		{llmsvc.Request{Model: "gpt-4o-mini", Messages: []llmsvc.Message{{Role: "robot", Content: "x"}}}, "role"},
		{llmsvc.Request{Model: "gpt-4o-mini", Messages: []llmsvc.Message{{Role: llmsvc.RoleAssistant,
			Parts: []llmsvc.ContentPart{llmsvc.ImagePart("https://example.com/a.png", "")}}}}, "messages[0]"},
	}
	for _, tc := range cases {
		_, err := c.Generate(ctx, tc.req)
		var se *llmsvc.StatusError
		if !errors.As(err, &se) || !errors.Is(err, llmsvc.StatusSchema) || se.Op != "submit" ||
			!strings.Contains(se.Message, tc.want) {
			t.Errorf("%+v: got %v, want a schema error naming %q", tc.req, err, tc.want)
		}
		var e *llmsvc.Error
		if errors.As(err, &e) || errors.Is(err, llmsvc.ErrShutDown) {
			t.Errorf("a submission error looks like a request error: %v", err)
		}
		if _, err := c.Submit(ctx, tc.req); !errors.Is(err, llmsvc.StatusSchema) {
			t.Errorf("Submit: %v", err)
		}
	}
	if s := emu.stats(t, "k-submit"); s.Received != 0 {
		t.Errorf("the emulator received %d requests", s.Received)
	}

	_, err := llmsvc.NewClient(llmsvc.Config{Provider: "carrier-pigeon"})
	if !errors.Is(err, llmsvc.StatusSchema) || !strings.Contains(err.Error(), "provider") {
		t.Errorf("NewClient with a bad provider: %v", err)
	}
	_, err = llmsvc.NewClient(llmsvc.Config{Limits: &llmsvc.Limits{RPM: -1}})
	if !errors.Is(err, llmsvc.StatusSchema) || !strings.Contains(err.Error(), "rpm") {
		t.Errorf("NewClient with a negative rpm: %v", err)
	}
}

func TestRetries(t *testing.T) {
	emu := startEmulator(t, "--fail-first", "2")
	c := emu.client(t, "k-retry", llmsvc.Config{Retry: &llmsvc.Retry{BaseDelayMS: llmsvc.Ptr[int64](5)}})
	resp, err := c.Generate(testContext(t), llmsvc.Request{Prompt: "retry me"})
	if err != nil {
		t.Fatal(err)
	}
	sameAsDocument(t, resp, err)
	if len(resp.Attempts) != 3 {
		t.Fatalf("%d attempts, want 3: %+v", len(resp.Attempts), resp.Attempts)
	}
	for i, a := range resp.Attempts[:2] {
		if a.HTTPStatus != 500 || a.Kind != llmsvc.KindServerError || a.BackoffSource != "client" {
			t.Errorf("attempt %d: %+v", i, a)
		}
	}
	if s := emu.stats(t, "k-retry"); s.Received != 3 || s.ServerErrors != 2 || s.OK != 1 {
		t.Errorf("emulator stats %+v", s)
	}
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.Attempts.Total != 3 || m.Attempts.Retries != 2 || m.Attempts.ErrorsByKind[llmsvc.KindServerError] != 2 {
		t.Errorf("attempt metrics %+v", m.Attempts)
	}

	// With the retries spent, the error is a server error that carries every attempt.
	c2 := emu.client(t, "k-retry-spent", llmsvc.Config{Retry: &llmsvc.Retry{MaxAttempts: 2,
		BaseDelayMS: llmsvc.Ptr[int64](5)}})
	_, err = c2.Generate(testContext(t), llmsvc.Request{Prompt: "retry me"})
	sameAsDocument(t, nil, err)
	var e *llmsvc.Error
	if !errors.Is(err, llmsvc.ErrServerError) || !errors.As(err, &e) || len(e.Attempts) != 2 ||
		e.HTTPStatus != 500 {
		t.Errorf("retries spent: %v", err)
	}
}

func TestNonRetriedErrors(t *testing.T) {
	emu := startEmulator(t, "--quota-keys", "k-quota", "--invalid-keys", "k-invalid")
	cases := []struct {
		key      string
		sentinel error
		kind     llmsvc.Kind
		status   int
		code     string
	}{
		{"k-quota", llmsvc.ErrInsufficientQuota, llmsvc.KindInsufficientQuota, 429, "insufficient_quota"},
		{"k-invalid", llmsvc.ErrAuth, llmsvc.KindAuth, 401, "invalid_api_key"},
	}
	for _, tc := range cases {
		c := emu.client(t, tc.key, llmsvc.Config{Retry: &llmsvc.Retry{BaseDelayMS: llmsvc.Ptr[int64](5)}})
		resp, err := c.Generate(testContext(t), llmsvc.Request{Prompt: "hello"})
		sameAsDocument(t, resp, err)
		if resp != nil || !errors.Is(err, tc.sentinel) {
			t.Fatalf("%s: %v", tc.key, err)
		}
		if errors.Is(err, llmsvc.ErrRateLimited) || errors.Is(err, context.Canceled) {
			t.Errorf("%s: matches the wrong sentinel: %v", tc.key, err)
		}
		var e *llmsvc.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: not an *Error: %T", tc.key, err)
		}
		if e.Kind != tc.kind || e.HTTPStatus != tc.status || e.ProviderCode != tc.code ||
			len(e.Attempts) != 1 || e.Response == nil || e.Response.Usage != nil ||
			e.Response.CostNanoUSD != nil || e.Message == "" {
			t.Errorf("%s: %+v", tc.key, e)
		}
		if strings.Contains(e.Error(), tc.key) && tc.key == "k-invalid" {
			t.Errorf("the key leaked into the message: %s", e.Error())
		}
		if s := emu.stats(t, tc.key); s.Received != 1 {
			t.Errorf("%s: the emulator received %d requests, want 1", tc.key, s.Received)
		}
	}
}

func TestUnknownModel(t *testing.T) {
	emu := startEmulator(t, "--known-models", "gpt-4o-mini")
	c := emu.client(t, "k-model", llmsvc.Config{})
	_, err := c.Generate(testContext(t), llmsvc.Request{Model: "gpt-9", Prompt: "hello"})
	sameAsDocument(t, nil, err)
	var e *llmsvc.Error
	if !errors.Is(err, llmsvc.ErrNotFound) || !errors.As(err, &e) || e.HTTPStatus != 404 {
		t.Errorf("unknown model: %v", err)
	}
}

func TestRateLimitsHeld(t *testing.T) {
	// 1200 rpm in a 1 s window is 20 requests per window on both sides.
	emu := startEmulator(t, "--rpm", "1200", "--window-ms", "1000")
	c := emu.client(t, "k-rpm", llmsvc.Config{Limits: &llmsvc.Limits{RPM: 1200, WindowMS: 1000}})
	ctx := testContext(t)
	const n = 70
	futures := make([]*llmsvc.Future, n)
	for i := range futures {
		f, err := c.Submit(ctx, llmsvc.Request{Prompt: "rate " + strings.Repeat("x", i)})
		if err != nil {
			t.Fatal(err)
		}
		futures[i] = f
	}
	for _, f := range futures {
		if _, err := f.Result(); err != nil {
			t.Fatal(err)
		}
	}
	s := emu.stats(t, "k-rpm")
	if s.RateLimited != 0 || s.OK != n || s.PeakWindowRequests != 20 || s.ReqCap != 20 {
		t.Errorf("emulator stats %+v: want no 429 and a peak of 20", s)
	}
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.Gates.WindowRequestsCap != 20 || m.Gates.Waits.RPM == 0 || m.Requests.Succeeded != n {
		t.Errorf("gate metrics %+v, requests %+v", m.Gates, m.Requests)
	}
}

func TestSetLimits(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-limits", llmsvc.Config{Limits: &llmsvc.Limits{RPM: 100, TPM: 5000, WindowMS: 1000}})
	if err := c.SetLimits(llmsvc.Limits{RPM: 600, Concurrency: 4}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	want := llmsvc.Limits{RPM: 600, TPM: 0, Concurrency: 4, WindowMS: 1000}
	if m.Gates.Limits != want {
		t.Errorf("limits %+v, want %+v", m.Gates.Limits, want)
	}
	if err := c.SetLimits(llmsvc.Limits{Concurrency: -3}); !errors.Is(err, llmsvc.StatusSchema) ||
		!strings.Contains(err.Error(), "concurrency") {
		t.Errorf("a negative concurrency: %v", err)
	}
}

func TestMetricsAndCostMatchEmulator(t *testing.T) {
	emu := startEmulator(t, "--error-rate", "0.2", "--seed", "7")
	c := emu.client(t, "k-metrics", llmsvc.Config{
		Retry: &llmsvc.Retry{BaseDelayMS: llmsvc.Ptr[int64](1), MaxDelayMS: llmsvc.Ptr[int64](5)},
	})
	ctx := testContext(t)
	const n = 120
	var cost, prompt, completion int64
	models := []string{"gpt-4o-mini", "gpt-4o", "o3-mini"}
	for i := 0; i < n; i++ {
		resp, err := c.Generate(ctx, llmsvc.Request{
			Model:     models[i%len(models)],
			Prompt:    "count " + strings.Repeat("y", i),
			Operation: []string{"a", "b"}[i%2],
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.CostNanoUSD == nil {
			t.Fatalf("%s has no price", resp.Model)
		}
		cost += *resp.CostNanoUSD
		prompt += resp.Usage.PromptTokens
		completion += resp.Usage.CompletionTokens
	}
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	s := emu.stats(t, "k-metrics")
	tot := m.Usage.Total
	if tot.CostNanoUSD == nil || *tot.CostNanoUSD != cost || tot.PromptTokens != prompt ||
		tot.CompletionTokens != completion || tot.Requests != n || tot.Succeeded != n {
		t.Errorf("usage total %+v, want cost %d, tokens %d/%d", tot, cost, prompt, completion)
	}
	if s.PromptTokens != prompt || s.CompletionTokens != completion || s.OK != n ||
		s.ReasoningTokens != tot.ReasoningTokens {
		t.Errorf("emulator %+v, client prompt %d completion %d", s, prompt, completion)
	}
	if m.Attempts.Total != s.Received || m.Attempts.Retries != s.ServerErrors || s.ServerErrors == 0 {
		t.Errorf("attempts %+v against the emulator's %d received, %d errors",
			m.Attempts, s.Received, s.ServerErrors)
	}
	if m.Requests.Submitted != n || m.Requests.Completed != n || m.Requests.Queued != 0 ||
		m.Requests.InFlight != 0 || m.LatencyMS.Count != n || m.OverheadUS.Count != n {
		t.Errorf("request metrics %+v", m.Requests)
	}
	var sum int64
	for _, model := range models {
		u, ok := m.Usage.ByModel[model]
		if !ok || u.Requests != n/3 || u.CostNanoUSD == nil {
			t.Errorf("by model %s: %+v", model, u)
			continue
		}
		sum += *u.CostNanoUSD
	}
	if sum != cost || m.Usage.ByOperation["a"].Requests != n/2 {
		t.Errorf("by-model costs sum to %d, want %d; by operation %+v", sum, cost, m.Usage.ByOperation)
	}
	if m.Version != llmsvc.Version() || len(m.Raw) == 0 {
		t.Errorf("version %q against %q", m.Version, llmsvc.Version())
	}
}

func TestManyGoroutinesShareOneClient(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-many", llmsvc.Config{Limits: &llmsvc.Limits{Concurrency: 32}})
	const goroutines, each = 64, 50
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				req := llmsvc.Request{Prompt: "z" + strings.Repeat("z", g+i), Metadata: map[string]any{"g": g, "i": i}}
				var resp *llmsvc.Response
				var err error
				if i%2 == 0 {
					resp, err = c.Generate(ctx, req)
				} else {
					var f *llmsvc.Future
					if f, err = c.Submit(ctx, req); err == nil {
						resp, err = f.Result()
					}
				}
				if err == nil && (resp.Metadata["g"] != float64(g) || resp.Metadata["i"] != float64(i)) {
					err = errors.New("a result reached the wrong caller")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests.Succeeded != goroutines*each {
		t.Errorf("%d succeeded, want %d", m.Requests.Succeeded, goroutines*each)
	}
	if s := emu.stats(t, "k-many"); s.OK != goroutines*each {
		t.Errorf("the emulator answered %d", s.OK)
	}
}

func TestStructuredOutput(t *testing.T) {
	emu := startEmulator(t, "--invalid-json-first", "1")
	c := emu.client(t, "k-json", llmsvc.Config{})
	schema := llmsvc.JSONSchema{Name: "pet", Strict: true, Schema: json.RawMessage(`{"type":"object",` +
		`"properties":{"name":{"type":"string"},"legs":{"type":"integer"}},` +
		`"required":["name","legs"],"additionalProperties":false}`)}
	ctx := testContext(t)

	// The first reply violates the schema; the core asks again (schema_retries: 1).
	resp, err := c.Generate(ctx, llmsvc.Request{Prompt: "Describe a pet.", JSONSchema: &schema})
	if err != nil {
		t.Fatal(err)
	}
	sameAsDocument(t, resp, err)
	var pet struct {
		Name string `json:"name"`
		Legs *int   `json:"legs"`
	}
	if err := json.Unmarshal(resp.JSON, &pet); err != nil || pet.Legs == nil || len(resp.Attempts) != 2 {
		t.Errorf("json %s (%v), %d attempts", resp.JSON, err, len(resp.Attempts))
	}

	// Without a second chance the mismatch is the error, with where and why.
	c2 := emu.client(t, "k-json-strict", llmsvc.Config{Retry: &llmsvc.Retry{SchemaRetries: llmsvc.Ptr(0)}})
	_, err = c2.Generate(ctx, llmsvc.Request{Prompt: "Describe a pet.", JSONSchema: &schema})
	sameAsDocument(t, nil, err)
	var e *llmsvc.Error
	if !errors.Is(err, llmsvc.ErrSchemaMismatch) || !errors.As(err, &e) || e.SchemaKeyword == "" ||
		e.RejectedOutput == "" || e.Response.Usage == nil {
		t.Fatalf("schema mismatch: %v", err)
	}
	t.Logf("rejected at %q (%s)", e.SchemaPointer, e.SchemaKeyword)

	// A schema the core cannot compile is refused at submission.
	bad := llmsvc.JSONSchema{Name: "bad name!", Schema: json.RawMessage(`{"type":"object"}`)}
	if _, err := c.Generate(ctx, llmsvc.Request{Prompt: "x", JSONSchema: &bad}); !errors.Is(err, llmsvc.StatusSchema) {
		t.Errorf("bad schema name: %v", err)
	}
}

func TestKindNames(t *testing.T) {
	names := map[llmsvc.Kind]string{
		llmsvc.KindNone: "none", llmsvc.KindRateLimited: "rate_limited",
		llmsvc.KindInsufficientQuota: "insufficient_quota", llmsvc.KindShutDown: "shut_down",
		llmsvc.KindDeadlineExceeded: "deadline_exceeded", llmsvc.KindInternal: "internal",
		llmsvc.KindLoadShed: "load_shed",
	}
	for k, want := range names {
		if k.String() != want {
			t.Errorf("%d: %q, want %q", int(k), k.String(), want)
		}
		var back llmsvc.Kind
		if err := back.UnmarshalText([]byte(want)); err != nil || back != k {
			t.Errorf("%q parses as %v", want, back)
		}
	}
	if !errors.Is(&llmsvc.Error{Kind: llmsvc.KindTimeout}, llmsvc.ErrTimeout) ||
		errors.Is(&llmsvc.Error{Kind: llmsvc.KindTimeout}, llmsvc.ErrDeadlineExceeded) {
		t.Error("sentinels do not match by kind")
	}
	if llmsvc.StatusClosed.Error() == "" || !errors.Is(llmsvc.StatusClosed, llmsvc.ErrClosed) {
		t.Error("status errors")
	}
}

func TestMetricsPrometheus(t *testing.T) {
	emu := startEmulator(t)
	c := emu.client(t, "k-prometheus", llmsvc.Config{})
	ctx := testContext(t)
	for i := 0; i < 2; i++ {
		if _, err := c.Generate(ctx, llmsvc.Request{Model: "gpt-4o-mini", Prompt: "scrape me", Operation: `say "hi"`}); err != nil {
			t.Fatal(err)
		}
	}
	text, err := c.MetricsPrometheus()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE llmsvc_requests_total counter\n",
		`llmsvc_requests_total{outcome="succeeded"} 2` + "\n",
		"# TYPE llmsvc_request_duration_seconds histogram\n",
		`llmsvc_request_duration_seconds_bucket{le="+Inf"} 2` + "\n",
		"llmsvc_request_duration_seconds_count 2\n",
		`llmsvc_operation_requests_total{operation="say \"hi\"",outcome="succeeded"} 2` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the exposition lacks %q:\n%s", want, text)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MetricsPrometheus(); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// deploymentNamed returns the metrics of the named deployment.
func deploymentNamed(t *testing.T, m llmsvc.Metrics, name string) llmsvc.DeploymentMetrics {
	t.Helper()
	for _, d := range m.Deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no deployment %q in the metrics: %+v", name, m.Deployments)
	return llmsvc.DeploymentMetrics{}
}

func TestDeploymentsRevokedKeyAndSetDeployment(t *testing.T) {
	emu := startEmulator(t, "--invalid-keys", "sk-revoked")
	c, err := llmsvc.NewClient(llmsvc.Config{
		BaseURL: emu.BaseURL,
		Model:   "gpt-4o-mini",
		APIKeys: []string{"sk-good", "sk-revoked"},
		Retry:   &llmsvc.Retry{BaseDelayMS: llmsvc.Ptr[int64](1), MaxDelayMS: llmsvc.Ptr[int64](5)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// The deployments of a key list are named MODEL#INDEX.
	const good, revoked = "gpt-4o-mini#0", "gpt-4o-mini#1"

	ctx := testContext(t)
	const n = 6
	for i := 0; i < n; i++ {
		resp, err := c.Generate(ctx, llmsvc.Request{Prompt: fmt.Sprintf("deployment %d", i)})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.Deployment != good {
			t.Errorf("request %d served by %q, want %q (attempts %+v)", i, resp.Deployment, good,
				resp.Attempts)
		}
	}
	if s := emu.stats(t, "sk-revoked"); s.AuthErrors != 1 || s.OK != 0 {
		t.Errorf("the revoked key: %+v, want one 401 and nothing served", s)
	}
	if s := emu.stats(t, "sk-good"); s.OK != n {
		t.Errorf("the good key served %d, want %d", s.OK, n)
	}

	m, err := c.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Deployments) != 2 || m.Routing == nil || m.Routing.Strategy != "round_robin" {
		t.Fatalf("deployments %+v, routing %+v", m.Deployments, m.Routing)
	}
	d := deploymentNamed(t, m, revoked)
	if d.InRotation || d.OutKind != llmsvc.KindAuth || d.OutReason == "" {
		t.Errorf("the revoked deployment: %+v, want out of rotation for auth", d)
	}
	if g := deploymentNamed(t, m, good); !g.InRotation || g.Served != n {
		t.Errorf("the good deployment: %+v", g)
	}

	if err := c.SetDeployment(llmsvc.DeploymentUpdate{Name: revoked, Enabled: llmsvc.Ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if m, err = c.Metrics(); err != nil {
		t.Fatal(err)
	}
	if d := deploymentNamed(t, m, revoked); !d.InRotation || d.OutKind != llmsvc.KindNone {
		t.Errorf("after SetDeployment(enabled): %+v, want in rotation", d)
	}

	err = c.SetDeployment(llmsvc.DeploymentUpdate{Name: "no-such-deployment", Enabled: llmsvc.Ptr(true)})
	var se *llmsvc.StatusError
	if !errors.Is(err, llmsvc.StatusSchema) || !errors.As(err, &se) || se.Op != "set_deployment" ||
		!strings.Contains(se.Message, "no-such-deployment") {
		t.Errorf("an unknown deployment: %v", err)
	}
}
