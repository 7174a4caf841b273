package otelllmsvc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	metricnoop "go.opentelemetry.io/otel/metric/noop"

	llmsvc "llmsvc/bindings/go"
	"llmsvc/bindings/go/otelllmsvc"
)

var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12,
		10.24, 20.48, 40.96, 81.92}
	tokenBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
		4194304, 16777216, 67108864}
	waitBuckets = []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
		10, 30, 60}
)

// canaryRequest is the request of the main test: every parameter the span reports.
func canaryRequest() llmsvc.Request {
	return llmsvc.Request{Model: "gpt-4o-mini", Prompt: canaryPrompt, MaxOutputTokens: 20,
		Temperature: llmsvc.Ptr(0.5), TopP: llmsvc.Ptr(0.9), Seed: llmsvc.Ptr(int64(7)),
		Stop: []string{"END"}, Operation: "greet"}
}

// TestRequestRetried is the reference case of docs/telemetry.md: one request inside a
// span of the test, answered 429 (retry-after 20 ms) then 200. It checks the span tree,
// every attribute, every metric, the traceparent the provider received, and that
// neither the key nor the prompt was exported.
func TestRequestRetried(t *testing.T) {
	t.Setenv(otelllmsvc.CaptureContentEnv, "")
	emu := startEmulator(t, "--rate-limit-first", "1", "--rate-limit-wait-ms", "20")
	h := newHarness(t)
	c := emu.client(t, canaryKey, llmsvc.Config{})
	if err := otelllmsvc.Instrument(c, h.options()...); err != nil {
		t.Fatal(err)
	}
	ctx, parent := h.tp.Tracer("test").Start(testContext(t), "test")
	resp, err := c.Generate(ctx, canaryRequest())
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Attempts) != 2 || resp.Usage == nil || resp.CostNanoUSD == nil {
		t.Fatalf("expected a retried, priced request: %+v", resp)
	}
	spans := h.spans.GetSpans()
	waits := 0 // the attempts that waited 1 ms or more at the gates have a span of it
	for _, a := range resp.Attempts {
		if a.GateWaitMS >= 1 {
			waits++
		}
	}
	if len(spans) != 4+waits || len(byName(spans, "llmsvc.gate.wait")) != waits {
		t.Errorf("%d spans, expected %d (test, request, 2 attempts, %d gate waits): %s", len(spans), 4+waits, waits,
			dump(t, spans, metricdata.ResourceMetrics{}))
	}
	test := one(t, spans, "test")
	req := one(t, spans, "chat gpt-4o-mini")
	if req.SpanKind != trace.SpanKindClient || req.Parent.SpanID() != test.SpanContext.SpanID() ||
		req.SpanContext.TraceID() != test.SpanContext.TraceID() {
		t.Errorf("request span: kind %v, parent %v, trace %v; expected CLIENT below %v in %v", req.SpanKind,
			req.Parent.SpanID(), req.SpanContext.TraceID(), test.SpanContext.SpanID(), test.SpanContext.TraceID())
	}
	if req.Status.Code != codes.Unset {
		t.Errorf("request span status %v %q, expected unset", req.Status.Code, req.Status.Description)
	}
	if d := req.EndTime.Sub(req.StartTime); math.Abs(d.Seconds()*1e3-resp.Timing.TotalMS) > 0.001 {
		t.Errorf("request span lasts %v, the request %v ms", d, resp.Timing.TotalMS)
	}
	cost := strconv.FormatInt(*resp.CostNanoUSD, 10)
	ra := attrsOf(req.Attributes)
	ra.want(t, "request span", attrs{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
		"gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": resp.ResponseModel,
		"gen_ai.response.id": resp.ResponseID, "gen_ai.response.finish_reasons": `["` + resp.FinishReason + `"]`,
		"gen_ai.usage.input_tokens":                strconv.FormatInt(resp.Usage.PromptTokens, 10),
		"gen_ai.usage.output_tokens":               strconv.FormatInt(resp.Usage.CompletionTokens, 10),
		"gen_ai.usage.cache_read.input_tokens":     strconv.FormatInt(resp.Usage.CachedTokens, 10),
		"gen_ai.usage.cache_creation.input_tokens": "0", "gen_ai.usage.reasoning.output_tokens": "*",
		"gen_ai.request.max_tokens": "20", "gen_ai.request.temperature": "0.5", "gen_ai.request.top_p": "0.9",
		"gen_ai.request.seed": "7", "gen_ai.request.stop_sequences": `["END"]`, "gen_ai.request.stream": "false",
		"gen_ai.request.frequency_penalty": "-", "gen_ai.request.choice.count": "-", "gen_ai.output.type": "-",
		"gen_ai.response.time_to_first_chunk": "-",
		"server.address":                      "127.0.0.1", "server.port": strconv.Itoa(emu.Port),
		"llmsvc.operation": "greet", "llmsvc.attempts": "2", "llmsvc.gate.wait": "*",
		"llmsvc.cost.nano_usd": cost, "llmsvc.deployment": "-", "llmsvc.cache.hit": "-", "error.type": "-",
		"gen_ai.input.messages": "-", "gen_ai.output.messages": "-",
	})
	if g := ra.float(t, "llmsvc.gate.wait"); math.Abs(g-resp.Timing.GateWaitMS/1e3) > 1e-9 {
		t.Errorf("llmsvc.gate.wait = %v, the result says %v ms", g, resp.Timing.GateWaitMS)
	}

	posts := byName(spans, "POST")
	if len(posts) != 2 {
		t.Fatalf("%d attempt spans, expected 2", len(posts))
	}
	for i, p := range posts {
		if p.SpanKind != trace.SpanKindClient || p.Parent.SpanID() != req.SpanContext.SpanID() {
			t.Errorf("attempt %d: kind %v, parent %v; expected CLIENT below the request", i, p.SpanKind, p.Parent.SpanID())
		}
		if p.StartTime.Before(req.StartTime) || p.EndTime.After(req.EndTime) {
			t.Errorf("attempt %d [%v, %v] outside the request [%v, %v]", i, p.StartTime, p.EndTime, req.StartTime, req.EndTime)
		}
		a := resp.Attempts[i]
		if d := p.EndTime.Sub(p.StartTime); math.Abs(d.Seconds()*1e3-a.DurationMS) > 0.001 {
			t.Errorf("attempt %d lasts %v, the result says %v ms", i, d, a.DurationMS)
		}
	}
	first, second := attrsOf(posts[0].Attributes), attrsOf(posts[1].Attributes)
	first.want(t, "attempt 0", attrs{"http.request.method": "POST", "http.response.status_code": "429",
		"error.type": "rate_limited", "llmsvc.backoff.source": "retry_after", "llmsvc.backoff": "*",
		"http.request.resend_count": "-", "server.address": "127.0.0.1", "server.port": strconv.Itoa(emu.Port),
		"llmsvc.gate.wait": "*"})
	if b := first.float(t, "llmsvc.backoff"); b <= 0 || math.Abs(b-resp.Attempts[0].BackoffMS/1e3) > 1e-9 {
		t.Errorf("llmsvc.backoff = %v, the result says %v ms", b, resp.Attempts[0].BackoffMS)
	}
	if posts[0].Status.Code != codes.Error {
		t.Errorf("attempt 0 status %v, expected Error", posts[0].Status.Code)
	}
	second.want(t, "attempt 1", attrs{"http.request.method": "POST", "http.response.status_code": "200",
		"http.request.resend_count": "1", "error.type": "-", "llmsvc.backoff": "-", "llmsvc.backoff.source": "-",
		"server.address": "127.0.0.1", "server.port": strconv.Itoa(emu.Port), "llmsvc.gate.wait": "*",
		"gen_ai.usage.input_tokens":  strconv.FormatInt(resp.Usage.PromptTokens, 10),
		"gen_ai.usage.output_tokens": strconv.FormatInt(resp.Usage.CompletionTokens, 10),
		"llmsvc.cost.nano_usd":       cost, "llmsvc.provider.request_id": resp.Attempts[1].RequestID})
	if posts[1].Status.Code != codes.Unset {
		t.Errorf("attempt 1 status %v, expected unset", posts[1].Status.Code)
	}
	for _, g := range byName(spans, "llmsvc.gate.wait") { // only waits of 1 ms or more
		i, _ := strconv.Atoi(attrsOf(g.Attributes)["llmsvc.attempt"])
		if g.Parent.SpanID() != req.SpanContext.SpanID() || g.SpanKind != trace.SpanKindInternal ||
			g.EndTime.Sub(g.StartTime) < time.Millisecond || !g.EndTime.Equal(posts[i].StartTime) {
			t.Errorf("gate wait span %+v", g)
		}
	}

	// The provider received the request span's traceparent, on both attempts.
	st := emu.stats(t, canaryKey)
	want := fmt.Sprintf("00-%s-%s-01", req.SpanContext.TraceID(), req.SpanContext.SpanID())
	if st.Traced != 2 || st.LastTraceparent != want {
		t.Errorf("the emulator saw %d traceparents, the last %q; expected 2, %q", st.Traced, st.LastTraceparent, want)
	}

	rm := h.metrics(t)
	base := attrs{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
	full := attrs{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
		"gen_ai.response.model": resp.ResponseModel, "server.address": "127.0.0.1", "server.port": strconv.Itoa(emu.Port)}

	m := metric(t, rm, "gen_ai.client.operation.duration")
	dp := histogram(t, m)
	if m.Unit != "s" || len(dp) != 1 || dp[0].Count != 1 || !reflect.DeepEqual(dp[0].Bounds, durationBuckets) ||
		math.Abs(dp[0].Sum*1e3-resp.Timing.TotalMS) > 0.001 {
		t.Errorf("duration: unit %q, points %+v", m.Unit, dp)
	} else if a := setAttrs(dp[0].Attributes); a.keys() != "gen_ai.operation.name,gen_ai.provider.name,gen_ai.request.model,gen_ai.response.model,server.address,server.port" {
		t.Errorf("duration attributes %v", a)
	} else {
		a.want(t, "duration", full)
	}

	m = metric(t, rm, "gen_ai.client.token.usage")
	tp := intHistogram(t, m)
	if m.Unit != "{token}" || len(tp) != 2 {
		t.Fatalf("token usage: unit %q, points %+v", m.Unit, tp)
	}
	sums := map[string]int64{}
	for _, p := range tp {
		a := setAttrs(p.Attributes)
		if p.Count != 1 || !reflect.DeepEqual(p.Bounds, tokenBuckets) || len(a) != 7 {
			t.Errorf("token usage point %+v", p)
		}
		a.want(t, "token usage", full)
		sums[a["gen_ai.token.type"]] += p.Sum
	}
	if sums["input"] != resp.Usage.PromptTokens || sums["output"] != resp.Usage.CompletionTokens {
		t.Errorf("token usage sums %v, expected input %d output %d", sums, resp.Usage.PromptTokens, resp.Usage.CompletionTokens)
	}

	m = metric(t, rm, "llmsvc.client.attempts")
	ap := counter(t, m)
	if m.Unit != "{attempt}" || len(ap) != 2 {
		t.Fatalf("attempts: unit %q, points %+v", m.Unit, ap)
	}
	byStatus := map[string]attrs{}
	for _, p := range ap {
		a := setAttrs(p.Attributes)
		if p.Value != 1 {
			t.Errorf("attempts point %v = %d, expected 1", a, p.Value)
		}
		a.want(t, "attempts", base)
		byStatus[a["http.response.status_code"]] = a
	}
	if a := byStatus["429"]; a == nil || a.keys() != "error.type,gen_ai.operation.name,gen_ai.provider.name,gen_ai.request.model,http.response.status_code" || a["error.type"] != "rate_limited" {
		t.Errorf("attempts of the 429: %v", a)
	}
	if a := byStatus["200"]; a == nil || a.keys() != "gen_ai.operation.name,gen_ai.provider.name,gen_ai.request.model,http.response.status_code" {
		t.Errorf("attempts of the 200: %v", a)
	}

	m = metric(t, rm, "llmsvc.client.gate.wait")
	gp := histogram(t, m)
	if m.Unit != "s" || len(gp) != 1 || gp[0].Count != 2 || !reflect.DeepEqual(gp[0].Bounds, waitBuckets) ||
		setAttrs(gp[0].Attributes).keys() != "gen_ai.operation.name,gen_ai.provider.name,gen_ai.request.model" {
		t.Errorf("gate wait: unit %q, points %+v", m.Unit, gp)
	}

	m = metric(t, rm, "llmsvc.client.backoff")
	bp := histogram(t, m)
	if m.Unit != "s" || len(bp) != 1 || bp[0].Count != 1 || bp[0].Sum <= 0 || !reflect.DeepEqual(bp[0].Bounds, waitBuckets) {
		t.Errorf("backoff: unit %q, points %+v", m.Unit, bp)
	} else {
		a := setAttrs(bp[0].Attributes)
		a.want(t, "backoff", base)
		a.want(t, "backoff", attrs{"llmsvc.backoff.source": "retry_after"})
		if len(a) != 4 {
			t.Errorf("backoff attributes %v", a)
		}
	}

	m = metric(t, rm, "llmsvc.client.cost")
	cp := counter(t, m)
	if m.Unit != "{nano_usd}" || len(cp) != 1 || cp[0].Value != *resp.CostNanoUSD {
		t.Errorf("cost: unit %q, points %+v, expected %d", m.Unit, cp, *resp.CostNanoUSD)
	} else {
		a := setAttrs(cp[0].Attributes)
		a.want(t, "cost", base)
		a.want(t, "cost", attrs{"llmsvc.operation": "greet"})
		if len(a) != 4 {
			t.Errorf("cost attributes %v", a)
		}
	}
	if hasMetric(rm, "gen_ai.client.operation.time_to_first_chunk") {
		t.Error("time to first chunk recorded for a request that did not stream")
	}

	all := dump(t, spans, rm)
	for _, secret := range []string{canaryKey, "CANARY-PROMPT-42"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q was exported with content capture off:\n%s", secret, all)
		}
	}
}

// TestCaptureContent: with capture on (the option, or the environment variable), the
// conversation and the reply are on the request span; the key never is.
func TestCaptureContent(t *testing.T) {
	emu := startEmulator(t)
	for _, tc := range []struct {
		name string
		env  string
		opts []otelllmsvc.Option
		on   bool
	}{
		{"option", "", []otelllmsvc.Option{otelllmsvc.WithCaptureContent(true)}, true},
		{"env", "true", nil, true},
		{"env_TRUE", "TRUE", nil, true},
		{"env_false", "false", nil, false},
		{"option_overrides_env", "true", []otelllmsvc.Option{otelllmsvc.WithCaptureContent(false)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(otelllmsvc.CaptureContentEnv, tc.env)
			h := newHarness(t)
			c := emu.client(t, canaryKey, llmsvc.Config{})
			if err := otelllmsvc.Instrument(c, h.options(tc.opts...)...); err != nil {
				t.Fatal(err)
			}
			req := canaryRequest()
			req.Instructions = "Be brief."
			resp, err := c.Generate(testContext(t), req)
			if err != nil {
				t.Fatal(err)
			}
			spans := h.spans.GetSpans()
			all := dump(t, spans, h.metrics(t))
			if strings.Contains(all, canaryKey) {
				t.Errorf("the API key was exported:\n%s", all)
			}
			if strings.Contains(all, "CANARY-PROMPT-42") != tc.on {
				t.Errorf("prompt exported: %v, expected %v", !tc.on, tc.on)
			}
			a := attrsOf(one(t, spans, "chat gpt-4o-mini").Attributes)
			if !tc.on {
				a.want(t, "request span", attrs{"gen_ai.input.messages": "-", "gen_ai.output.messages": "-"})
				return
			}
			var in, out []map[string]any
			if err := json.Unmarshal([]byte(a["gen_ai.input.messages"]), &in); err != nil {
				t.Fatalf("gen_ai.input.messages %q: %v", a["gen_ai.input.messages"], err)
			}
			if err := json.Unmarshal([]byte(a["gen_ai.output.messages"]), &out); err != nil {
				t.Fatalf("gen_ai.output.messages %q: %v", a["gen_ai.output.messages"], err)
			}
			wantIn := []map[string]any{
				{"role": "system", "parts": []any{map[string]any{"type": "text", "content": "Be brief."}}},
				{"role": "user", "parts": []any{map[string]any{"type": "text", "content": canaryPrompt}}},
			}
			wantOut := []map[string]any{{"role": "assistant", "finish_reason": resp.FinishReason,
				"parts": []any{map[string]any{"type": "text", "content": resp.Text}}}}
			if !reflect.DeepEqual(in, wantIn) || !reflect.DeepEqual(out, wantOut) {
				t.Errorf("messages\n in  %v\n out %v\nexpected\n in  %v\n out %v", in, out, wantIn, wantOut)
			}
		})
	}
}

// TestFailedRequest: a request refused by the provider (401): the span's status is
// ERROR with error.type, and so is the duration metric's point; the key is not exported.
func TestFailedRequest(t *testing.T) {
	t.Setenv(otelllmsvc.CaptureContentEnv, "")
	emu := startEmulator(t, "--invalid-keys", canaryKey)
	h := newHarness(t)
	c := emu.client(t, canaryKey, llmsvc.Config{})
	if err := otelllmsvc.Instrument(c, h.options()...); err != nil {
		t.Fatal(err)
	}
	ctx, parent := h.tp.Tracer("test").Start(testContext(t), "test")
	_, err := c.Generate(ctx, canaryRequest())
	parent.End()
	var e *llmsvc.Error
	if !errors.Is(err, llmsvc.ErrAuth) || !errors.As(err, &e) {
		t.Fatalf("expected an auth error, got %v", err)
	}
	spans := h.spans.GetSpans()
	req := one(t, spans, "chat gpt-4o-mini")
	if req.Status.Code != codes.Error || req.Status.Description != e.Message {
		t.Errorf("request span status %v %q, expected Error %q", req.Status.Code, req.Status.Description, e.Message)
	}
	attrsOf(req.Attributes).want(t, "request span", attrs{"error.type": "auth", "gen_ai.provider.name": "openai",
		"server.port": strconv.Itoa(emu.Port), "llmsvc.attempts": "1", "gen_ai.response.finish_reasons": "-",
		"gen_ai.usage.input_tokens": "-"})
	post := one(t, spans, "POST")
	attrsOf(post.Attributes).want(t, "attempt", attrs{"http.response.status_code": "401", "error.type": "auth"})
	if post.Status.Code != codes.Error {
		t.Errorf("attempt status %v, expected Error", post.Status.Code)
	}

	rm := h.metrics(t)
	dp := histogram(t, metric(t, rm, "gen_ai.client.operation.duration"))
	if len(dp) != 1 || dp[0].Count != 1 {
		t.Fatalf("duration points %+v", dp)
	}
	a := setAttrs(dp[0].Attributes)
	a.want(t, "duration", attrs{"error.type": "auth", "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
		"gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "-", "server.address": "127.0.0.1"})
	ap := counter(t, metric(t, rm, "llmsvc.client.attempts"))
	if len(ap) != 1 || ap[0].Value != 1 {
		t.Fatalf("attempts points %+v", ap)
	}
	setAttrs(ap[0].Attributes).want(t, "attempts", attrs{"error.type": "auth", "http.response.status_code": "401"})
	for _, name := range []string{"gen_ai.client.token.usage", "llmsvc.client.cost", "llmsvc.client.backoff"} {
		if hasMetric(rm, name) {
			t.Errorf("%s recorded for a request without usage or backoff", name)
		}
	}
	if all := dump(t, spans, rm); strings.Contains(all, canaryKey) || strings.Contains(all, "CANARY-PROMPT-42") {
		t.Errorf("the key or the prompt was exported:\n%s", all)
	}
}

// TestRefusedRequest: a request the core refuses at submission ends its span at once,
// with an error.
func TestRefusedRequest(t *testing.T) {
	emu := startEmulator(t)
	h := newHarness(t)
	c := emu.client(t, "k-refused", llmsvc.Config{})
	if err := otelllmsvc.Instrument(c, h.options()...); err != nil {
		t.Fatal(err)
	}
	_, err := c.Generate(testContext(t), llmsvc.Request{Prompt: "hi", Temperature: llmsvc.Ptr(7.0)})
	if !errors.Is(err, llmsvc.StatusSchema) {
		t.Fatalf("expected a schema error, got %v", err)
	}
	s := one(t, h.spans.GetSpans(), "chat")
	if s.Status.Code != codes.Error {
		t.Errorf("status %v, expected Error", s.Status.Code)
	}
	attrsOf(s.Attributes).want(t, "refused", attrs{"error.type": "invalid_request", "gen_ai.request.temperature": "7"})
	dp := histogram(t, metric(t, h.metrics(t), "gen_ai.client.operation.duration"))
	if len(dp) != 1 || setAttrs(dp[0].Attributes)["error.type"] != "invalid_request" {
		t.Errorf("duration points %+v", dp)
	}
}

// TestOff: a client that was not instrumented (or no longer is) produces no span and no
// metric, and sends no traceparent, even with SDK providers installed globally; an
// instrumented one without options uses those global providers.
func TestOff(t *testing.T) {
	emu := startEmulator(t)
	h := newHarness(t)
	otel.SetTracerProvider(h.tp)
	otel.SetMeterProvider(h.mp)
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
	})
	c := emu.client(t, "k-off", llmsvc.Config{})
	req := llmsvc.Request{Prompt: "hi", MaxOutputTokens: 8}
	if _, err := c.Generate(testContext(t), req); err != nil {
		t.Fatal(err)
	}
	s, err := c.Stream(testContext(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Response(); err != nil {
		t.Fatal(err)
	}
	if n := len(h.spans.GetSpans()); n != 0 {
		t.Errorf("%d spans without the adapter", n)
	}
	if rm := h.metrics(t); len(rm.ScopeMetrics) != 0 {
		t.Errorf("metrics without the adapter: %+v", rm.ScopeMetrics)
	}
	if st := emu.stats(t, "k-off"); st.Traced != 0 {
		t.Errorf("%d requests carried a traceparent without the adapter", st.Traced)
	}

	if err := otelllmsvc.Instrument(c); err != nil { // the global providers
		t.Fatal(err)
	}
	if _, err := c.Generate(testContext(t), req); err != nil {
		t.Fatal(err)
	}
	if n := len(byName(h.spans.GetSpans(), "chat gpt-4o-mini")); n != 1 {
		t.Errorf("%d request spans through the global provider, expected 1", n)
	}
	c.SetObserver(nil)
	if _, err := c.Generate(testContext(t), req); err != nil {
		t.Fatal(err)
	}
	if n := len(h.spans.GetSpans()); n != 2 { // the request and its attempt, from before
		t.Errorf("%d spans after the adapter was removed, expected the 2 from before", n)
	}
	dp := histogram(t, metric(t, h.metrics(t), "gen_ai.client.operation.duration"))
	if len(dp) != 1 || dp[0].Count != 1 {
		t.Errorf("duration points after the adapter was removed %+v, expected one request", dp)
	}
}

// TestStream: the request span covers the whole stream, with gen_ai.request.stream and
// the time to the first chunk, which is also a metric.
func TestStream(t *testing.T) {
	emu := startEmulator(t, "--stream-delay-ms", "2")
	h := newHarness(t)
	c := emu.client(t, "k-stream", llmsvc.Config{})
	if err := otelllmsvc.Instrument(c, h.options()...); err != nil {
		t.Fatal(err)
	}
	s, err := c.Stream(testContext(t), llmsvc.Request{Prompt: "Tell me a story", MaxOutputTokens: 30})
	if err != nil {
		t.Fatal(err)
	}
	pieces := 0
	for _, err := range s.Deltas() {
		if err != nil {
			t.Fatal(err)
		}
		pieces++
	}
	resp, err := s.Response()
	if err != nil || pieces < 2 || resp.Timing.FirstTokenMS <= 0 {
		t.Fatalf("%d pieces, %+v, %v", pieces, resp, err)
	}
	req := one(t, h.spans.GetSpans(), "chat gpt-4o-mini")
	a := attrsOf(req.Attributes)
	a.want(t, "stream span", attrs{"gen_ai.request.stream": "true", "gen_ai.response.time_to_first_chunk": "*"})
	if v := a.float(t, "gen_ai.response.time_to_first_chunk"); math.Abs(v-resp.Timing.FirstTokenMS/1e3) > 1e-9 {
		t.Errorf("time to first chunk %v s, the result says %v ms", v, resp.Timing.FirstTokenMS)
	}
	if d := req.EndTime.Sub(req.StartTime); math.Abs(d.Seconds()*1e3-resp.Timing.TotalMS) > 0.001 ||
		resp.Timing.TotalMS <= resp.Timing.FirstTokenMS {
		t.Errorf("the span lasts %v; the stream %v ms, its first chunk at %v ms", d, resp.Timing.TotalMS, resp.Timing.FirstTokenMS)
	}
	tp := histogram(t, metric(t, h.metrics(t), "gen_ai.client.operation.time_to_first_chunk"))
	if len(tp) != 1 || tp[0].Count != 1 || math.Abs(tp[0].Sum*1e3-resp.Timing.FirstTokenMS) > 1e-6 ||
		!reflect.DeepEqual(tp[0].Bounds, durationBuckets) {
		t.Errorf("time to first chunk points %+v", tp)
	}
}

// TestUserTraceparent: a request that carries its own traceparent, submitted with no
// span in its context, joins that trace, and the provider receives it unchanged.
func TestUserTraceparent(t *testing.T) {
	emu := startEmulator(t)
	h := newHarness(t)
	c := emu.client(t, "k-tp", llmsvc.Config{})
	if err := otelllmsvc.Instrument(c, h.options()...); err != nil {
		t.Fatal(err)
	}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if _, err := c.Generate(testContext(t), llmsvc.Request{Prompt: "hi", Traceparent: tp, Tracestate: "vendor=x"}); err != nil {
		t.Fatal(err)
	}
	req := one(t, h.spans.GetSpans(), "chat gpt-4o-mini")
	if req.SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" ||
		req.Parent.SpanID().String() != "b7ad6b7169203331" || !req.Parent.IsRemote() {
		t.Errorf("request span in trace %v below %v (remote %v)", req.SpanContext.TraceID(), req.Parent.SpanID(), req.Parent.IsRemote())
	}
	if st := emu.stats(t, "k-tp"); st.LastTraceparent != tp || st.LastTracestate != "vendor=x" {
		t.Errorf("the emulator received %q %q", st.LastTraceparent, st.LastTracestate)
	}
}

// TestGateWait: a request held by the concurrency gate gets an llmsvc.gate.wait span,
// from the moment it could have been sent to the moment it was.
func TestGateWait(t *testing.T) {
	emu := startEmulator(t, "--latency-ms", "60")
	h := newHarness(t)
	c := emu.client(t, "k-gate", llmsvc.Config{Limits: &llmsvc.Limits{Concurrency: 1}})
	if err := otelllmsvc.Instrument(c, h.options()...); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	var fs []*llmsvc.Future
	for i := 0; i < 2; i++ {
		f, err := c.Submit(ctx, llmsvc.Request{Prompt: fmt.Sprint("hi ", i)})
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	var waited *llmsvc.Response
	for _, f := range fs {
		resp, err := f.Result()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Attempts[0].GateWaitMS >= 40 {
			waited = resp
		}
	}
	if waited == nil {
		t.Fatal("no request waited at the concurrency gate")
	}
	spans := h.spans.GetSpans()
	var found bool
	for _, g := range byName(spans, "llmsvc.gate.wait") {
		a := attrsOf(g.Attributes)
		d := g.EndTime.Sub(g.StartTime).Seconds() * 1e3
		if math.Abs(d-waited.Attempts[0].GateWaitMS) > 0.001 {
			continue // the other request's first wait, if it had one of 1 ms or more
		}
		found = true
		a.want(t, "gate wait", attrs{"llmsvc.attempt": "0"})
		if g.SpanKind != trace.SpanKindInternal {
			t.Errorf("gate wait span kind %v", g.SpanKind)
		}
		var post *tracetest.SpanStub
		for _, p := range byName(spans, "POST") {
			if p.Parent.SpanID() == g.Parent.SpanID() {
				post = &p
			}
		}
		if post == nil || !post.StartTime.Equal(g.EndTime) {
			t.Errorf("the gate wait ends at %v, its attempt starts at %+v", g.EndTime, post)
		} else if w := attrsOf(post.Attributes).float(t, "llmsvc.gate.wait"); math.Abs(w*1e3-d) > 0.001 {
			t.Errorf("the attempt's llmsvc.gate.wait %v s, the span %v ms", w, d)
		}
	}
	if !found {
		t.Errorf("no gate wait span of %v ms", waited.Attempts[0].GateWaitMS)
	}
	gp := histogram(t, metric(t, h.metrics(t), "llmsvc.client.gate.wait"))
	if len(gp) != 1 || gp[0].Count != 2 || gp[0].Sum*1e3 < waited.Attempts[0].GateWaitMS {
		t.Errorf("gate wait points %+v", gp)
	}
}

// TestConcurrent: many goroutines share an instrumented client (for the race detector);
// every request gets its span tree and its metrics.
func TestConcurrent(t *testing.T) {
	emu := startEmulator(t)
	h := newHarness(t)
	c := emu.client(t, "k-many", llmsvc.Config{})
	if err := otelllmsvc.Instrument(c, h.options()...); err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 16, 4
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				ctx, span := h.tp.Tracer("test").Start(testContext(t), "parent")
				if i%2 == 0 {
					_, err := c.Generate(ctx, llmsvc.Request{Prompt: "hi"})
					if err != nil {
						t.Error(err)
					}
				} else if s, err := c.Stream(ctx, llmsvc.Request{Prompt: "hi"}); err != nil {
					t.Error(err)
				} else if _, err := s.Response(); err != nil {
					t.Error(err)
				}
				span.End()
			}
		}()
	}
	wg.Wait()
	spans := h.spans.GetSpans()
	parents := map[trace.SpanID]bool{}
	for _, p := range byName(spans, "parent") {
		parents[p.SpanContext.SpanID()] = true
	}
	reqs := byName(spans, "chat gpt-4o-mini")
	if len(reqs) != goroutines*each || len(byName(spans, "POST")) != goroutines*each {
		t.Fatalf("%d request spans, %d attempt spans; expected %d each", len(reqs), len(byName(spans, "POST")), goroutines*each)
	}
	for _, r := range reqs {
		if !parents[r.Parent.SpanID()] {
			t.Errorf("request span below %v, not a test span", r.Parent.SpanID())
		}
	}
	dp := histogram(t, metric(t, h.metrics(t), "gen_ai.client.operation.duration"))
	if len(dp) != 1 || dp[0].Count != goroutines*each {
		t.Errorf("duration points %+v", dp)
	}
}

// otlpCaptured counts what the emulator's OTLP receiver accepted (the core's own exporter).
func otlpCaptured(t *testing.T, e *emulator) (traces int) {
	t.Helper()
	resp, err := http.Get(e.root + "/_emulator/otlp")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Traces   []json.RawMessage `json:"traces"`
		Rejected []string          `json:"rejected"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rejected) != 0 {
		t.Errorf("the receiver refused exports: %v", got.Rejected)
	}
	return len(got.Traces)
}

// The standard variables turn the core's exporter on; NewClient turns it off for the
// clients it instruments, so nothing is reported twice.
func TestNewClientTurnsTheCoresExporterOff(t *testing.T) {
	emu := startEmulator(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", emu.root)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	h := newHarness(t)
	cfg := llmsvc.Config{BaseURL: emu.BaseURL, APIKey: "k-twice", Model: "gpt-4o-mini"}
	c, err := otelllmsvc.NewClient(cfg, h.options()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Generate(testContext(t), llmsvc.Request{Prompt: "once", MaxOutputTokens: 8}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(h.spans.GetSpans()); n != 2 {
		t.Errorf("%d spans through the SDK, want the request and its attempt", n)
	}
	if n := otlpCaptured(t, emu); n != 0 {
		t.Errorf("the core exported %d batches of its own", n)
	}
	plain, err := llmsvc.NewClient(cfg) // the variables alone turn it on
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Generate(testContext(t), llmsvc.Request{Prompt: "by the core", MaxOutputTokens: 8}); err != nil {
		t.Fatal(err)
	}
	if err := plain.Close(); err != nil {
		t.Fatal(err)
	}
	if n := otlpCaptured(t, emu); n == 0 {
		t.Error("the core's exporter did not report the plain client's request")
	}
}
