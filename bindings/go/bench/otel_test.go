package bench

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	llmsvc "llmsvc/bindings/go"
	"llmsvc/bindings/go/otelllmsvc"
)

// BenchmarkOTel drives the emulator with one llmsvc client as BenchmarkE2E does, with the
// OpenTelemetry adapter off and on. "on" reports through SDK providers as an application
// would configure them: every span sampled, a batch span processor (its exporter drops
// the spans, so no network is timed), and a meter provider whose reader is never read
// (the aggregation happens as measurements are recorded); "on_not_sampled" the same with a
// sampler that records no span (the metrics, and the traceparent sent, only). The
// difference in cpu-µs/req is what the adapter costs per request.
//
//	LLMSVC_EMULATOR=.../llmsvc-emulator go test -run - -bench OTel -benchtime 5000x -count 3
func BenchmarkOTel(b *testing.B) {
	req := llmsvc.Request{
		Messages:        []llmsvc.Message{llmsvc.SystemMessage(system), llmsvc.UserMessage(user)},
		MaxOutputTokens: maxTokens,
	}
	for _, name := range []string{"off", "on", "on_not_sampled"} {
		on := name != "off"
		b.Run(name, func(b *testing.B) {
			base := startEmulator(b)
			c, err := llmsvc.NewClient(llmsvc.Config{BaseURL: base, APIKey: "k-otel", Model: "gpt-4o-mini"})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if on {
				sampler := sdktrace.AlwaysSample()
				if name == "on_not_sampled" {
					sampler = sdktrace.NeverSample()
				}
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler),
					sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				defer tp.Shutdown(context.Background())
				defer mp.Shutdown(context.Background())
				if err := otelllmsvc.Instrument(c, otelllmsvc.WithTracerProvider(tp),
					otelllmsvc.WithMeterProvider(mp)); err != nil {
					b.Fatal(err)
				}
			}
			run(b, func(ctx context.Context) error {
				resp, err := c.Generate(ctx, req)
				if err == nil && (resp.Text == "" || resp.Usage == nil) {
					err = errEmpty
				}
				return err
			})
		})
	}
}
