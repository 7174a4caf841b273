package otelllmsvc_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	llmsvc "llmsvc/bindings/go"
	"llmsvc/bindings/go/otelllmsvc"
)

// BenchmarkObserve times the adapter alone, without the network or the core: Observe at
// submission and End at completion, for a request retried once (a request span, two
// attempt spans, the seven instruments), through SDK providers (every span sampled, a
// batch span processor whose exporter drops the spans, a meter provider never read); and
// with a sampler that records no span (the metrics only).
func BenchmarkObserve(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer tp.Shutdown(context.Background())
	defer mp.Shutdown(context.Background())
	cost, in, out := int64(13950), int64(13), int64(20)
	resp := &llmsvc.Response{OK: true, Model: "gpt-4o-mini", Provider: "openai", ServerAddress: "127.0.0.1",
		ServerPort: 8080, ResponseModel: "gpt-4o-mini", ResponseID: "chatcmpl-1", FinishReason: "stop",
		Usage: &llmsvc.Usage{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out}, CostNanoUSD: &cost,
		Attempts: []llmsvc.Attempt{
			{StartMS: 0.1, DurationMS: 0.5, HTTPStatus: 429, Kind: llmsvc.KindRateLimited, BackoffMS: 20,
				BackoffSource: "server", GateWaitMS: 0.1},
			{StartMS: 20.7, DurationMS: 0.6, HTTPStatus: 200, GateWaitMS: 0.1, RequestID: "req_1",
				PromptTokens: &in, CompletionTokens: &out, CostNanoUSD: &cost},
		},
		Timing: llmsvc.Timing{TotalMS: 21.4, GateWaitMS: 0.2}}
	req := llmsvc.Request{Model: "gpt-4o-mini", Prompt: "hi", MaxOutputTokens: 64, Operation: "classify"}
	unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	defer unsampled.Shutdown(context.Background())
	for _, bc := range []struct {
		name    string
		tp      *sdktrace.TracerProvider
		capture bool
	}{{"sampled", tp, false}, {"sampled_with_content", tp, true}, {"not_sampled", unsampled, false}} {
		b.Run(bc.name, func(b *testing.B) {
			o, err := otelllmsvc.NewObserver(otelllmsvc.WithTracerProvider(bc.tp), otelllmsvc.WithMeterProvider(mp),
				otelllmsvc.WithCaptureContent(bc.capture))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := req
				o.Observe(ctx, &r, false).End(resp, nil)
			}
		})
	}
}
