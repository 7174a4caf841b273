package otelllmsvc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	llmsvc "llmsvc/bindings/go"
	"llmsvc/bindings/go/otelllmsvc"
)

// The canary: neither may appear in anything exported unless content capture is on, and
// the key never.
const (
	canaryKey    = "sk-canary-otel-0123456789"
	canaryPrompt = "Say hi. CANARY-PROMPT-42"
)

// emulator is one llmsvc-emulator process on 127.0.0.1, owned by one test.
type emulator struct {
	BaseURL string // http://127.0.0.1:PORT/v1
	root    string
	Port    int
}

// startEmulator starts $LLMSVC_EMULATOR with args and stops it when the test ends; the
// test is skipped when the variable is unset.
func startEmulator(tb testing.TB, args ...string) *emulator {
	tb.Helper()
	path := os.Getenv("LLMSVC_EMULATOR")
	if path == "" {
		tb.Skip("LLMSVC_EMULATOR is not set: it names the llmsvc-emulator binary these tests run against")
	}
	cmd := exec.Command(path, append([]string{"--port", "0"}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the emulator %s: %v", path, err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("reading the emulator's first line: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		tb.Fatalf("unexpected first line from the emulator: %q", line)
	}
	u, err := url.Parse("http://" + addr)
	if err != nil {
		tb.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return &emulator{BaseURL: "http://" + addr + "/v1", root: "http://" + addr, Port: port}
}

// keyStats is what the emulator saw of one key.
type keyStats struct {
	Received        int64  `json:"received"`
	RateLimited     int64  `json:"rate_limited"`
	Traced          int64  `json:"traced"`
	LastTraceparent string `json:"last_traceparent"`
	LastTracestate  string `json:"last_tracestate"`
}

func (e *emulator) stats(tb testing.TB, key string) keyStats {
	tb.Helper()
	resp, err := http.Get(e.root + "/_emulator/stats?key=" + url.QueryEscape(key))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var s keyStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// client creates a client of this emulator, closed when the test ends.
func (e *emulator) client(tb testing.TB, key string, cfg llmsvc.Config) *llmsvc.Client {
	tb.Helper()
	cfg.BaseURL, cfg.APIKey = e.BaseURL, key
	if cfg.Model == "" {
		cfg.Model = "gpt-4o-mini"
	}
	c, err := llmsvc.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// harness is an SDK tracer provider exporting to memory and a meter provider read by hand.
type harness struct {
	tp     *sdktrace.TracerProvider
	spans  *tracetest.InMemoryExporter
	mp     *sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

func newHarness(tb testing.TB) *harness {
	h := &harness{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(h.spans))
	h.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	tb.Cleanup(func() {
		_ = h.tp.Shutdown(context.Background())
		_ = h.mp.Shutdown(context.Background())
	})
	return h
}

// options are the adapter's options reporting to the harness.
func (h *harness) options(more ...otelllmsvc.Option) []otelllmsvc.Option {
	return append([]otelllmsvc.Option{otelllmsvc.WithTracerProvider(h.tp), otelllmsvc.WithMeterProvider(h.mp)}, more...)
}

func (h *harness) metrics(tb testing.TB) metricdata.ResourceMetrics {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		tb.Fatal(err)
	}
	return rm
}

// metric returns the instrument named name, failing the test when it is absent.
func metric(tb testing.TB, rm metricdata.ResourceMetrics, name string) metricdata.Metrics {
	tb.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	tb.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

func hasMetric(rm metricdata.ResourceMetrics, name string) bool {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return true
			}
		}
	}
	return false
}

// attrs is a span's or a point's attributes by key, their values as strings
// (attribute.Value.Emit) for easy comparison.
type attrs map[string]string

func attrsOf(kvs []attribute.KeyValue) attrs {
	a := attrs{}
	for _, kv := range kvs {
		a[string(kv.Key)] = kv.Value.Emit()
	}
	return a
}

func setAttrs(s attribute.Set) attrs { return attrsOf(s.ToSlice()) }

// keys lists an attribute set's keys, sorted.
func (a attrs) keys() string {
	ks := make([]string, 0, len(a))
	for k := range a {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// want checks that a has each key of w with its value ("*" for any value, "-" for absent).
func (a attrs) want(tb testing.TB, what string, w attrs) {
	tb.Helper()
	for k, v := range w {
		got, ok := a[k]
		switch {
		case v == "-" && ok:
			tb.Errorf("%s: %s = %q, expected absent", what, k, got)
		case v == "-":
		case !ok:
			tb.Errorf("%s: no %s (expected %q); has %s", what, k, v, a.keys())
		case v != "*" && got != v:
			tb.Errorf("%s: %s = %q, expected %q", what, k, got, v)
		}
	}
}

func (a attrs) float(tb testing.TB, k string) float64 {
	tb.Helper()
	f, err := strconv.ParseFloat(a[k], 64)
	if err != nil {
		tb.Fatalf("%s = %q: %v", k, a[k], err)
	}
	return f
}

// byName returns the spans named name, in the order they started.
func byName(spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartTime.Before(out[j].StartTime) })
	return out
}

// one returns the one span named name.
func one(tb testing.TB, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	tb.Helper()
	s := byName(spans, name)
	if len(s) != 1 {
		names := make([]string, len(spans))
		for i, sp := range spans {
			names[i] = sp.Name
		}
		tb.Fatalf("%d spans named %q, expected 1 (spans: %v)", len(s), name, names)
	}
	return s[0]
}

// dump serialises everything exported: every span with all its attributes, events,
// links and status, and every metric point with its attributes and values.
func dump(tb testing.TB, spans tracetest.SpanStubs, rm metricdata.ResourceMetrics) string {
	tb.Helper()
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "span %q %s trace=%s span=%s parent=%s status=%v %q\n", s.Name, s.SpanKind,
			s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID(), s.Status.Code, s.Status.Description)
		for _, kv := range s.Attributes {
			fmt.Fprintf(&b, "  %s=%s\n", kv.Key, kv.Value.Emit())
		}
		for _, e := range s.Events {
			fmt.Fprintf(&b, "  event %s %v\n", e.Name, attrsOf(e.Attributes))
		}
		for _, l := range s.Links {
			fmt.Fprintf(&b, "  link %v %v\n", l.SpanContext, attrsOf(l.Attributes))
		}
	}
	enc := attribute.DefaultEncoder()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			fmt.Fprintf(&b, "metric %s %s %q\n", m.Name, m.Unit, m.Description)
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					fmt.Fprintf(&b, "  {%s} count=%d sum=%v %v\n", p.Attributes.Encoded(enc), p.Count, p.Sum, p.BucketCounts)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					fmt.Fprintf(&b, "  {%s} count=%d sum=%v %v\n", p.Attributes.Encoded(enc), p.Count, p.Sum, p.BucketCounts)
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					fmt.Fprintf(&b, "  {%s} value=%d\n", p.Attributes.Encoded(enc), p.Value)
				}
			default:
				fmt.Fprintf(&b, "  %+v\n", d)
			}
		}
	}
	if js, err := json.Marshal(spans); err == nil { // the stubs whole, as a second view
		b.Write(js)
	}
	return b.String()
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// histogram returns a float64 histogram's points.
func histogram(tb testing.TB, m metricdata.Metrics) []metricdata.HistogramDataPoint[float64] {
	tb.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		tb.Fatalf("%s: %T, expected a float64 histogram", m.Name, m.Data)
	}
	return h.DataPoints
}

func intHistogram(tb testing.TB, m metricdata.Metrics) []metricdata.HistogramDataPoint[int64] {
	tb.Helper()
	h, ok := m.Data.(metricdata.Histogram[int64])
	if !ok {
		tb.Fatalf("%s: %T, expected an int64 histogram", m.Name, m.Data)
	}
	return h.DataPoints
}

func counter(tb testing.TB, m metricdata.Metrics) []metricdata.DataPoint[int64] {
	tb.Helper()
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok || !s.IsMonotonic {
		tb.Fatalf("%s: %T, expected a monotonic int64 sum", m.Name, m.Data)
	}
	return s.DataPoints
}
