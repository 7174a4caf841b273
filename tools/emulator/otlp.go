package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// otlpReceiver is a local OpenTelemetry collector endpoint (OTLP/HTTP, JSON
// encoding) for tests: it checks every export against the official OTLP
// protobuf definitions and keeps the accepted documents as sent, so a test
// can read them back from GET /_emulator/otlp.
type otlpReceiver struct {
	mu       sync.Mutex
	traces   []json.RawMessage
	metrics  []json.RawMessage
	rejected []string
}

const otlpMaxBody = 64 << 20

// The OTLP JSON mapping writes trace and span ids as hex, where protobuf's own
// JSON mapping would read base64: they are checked apart.
var (
	traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanIDPattern  = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

func (o *otlpReceiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "OTLP exports are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		o.reject(w, fmt.Sprintf("%s: Content-Type %q, this receiver takes application/json", r.URL.Path, ct))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, otlpMaxBody))
	if err != nil {
		o.reject(w, fmt.Sprintf("%s: reading the body: %v", r.URL.Path, err))
		return
	}
	var msg proto.Message
	if r.URL.Path == "/v1/traces" {
		msg = &collectortrace.ExportTraceServiceRequest{}
	} else {
		msg = &collectormetrics.ExportMetricsServiceRequest{}
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(body, msg); err != nil {
		o.reject(w, fmt.Sprintf("%s: not an OTLP export: %v", r.URL.Path, err))
		return
	}
	if r.URL.Path == "/v1/traces" {
		if err := checkSpanIDs(body); err != nil {
			o.reject(w, fmt.Sprintf("%s: %v", r.URL.Path, err))
			return
		}
	}
	o.mu.Lock()
	if r.URL.Path == "/v1/traces" {
		o.traces = append(o.traces, json.RawMessage(body))
	} else {
		o.metrics = append(o.metrics, json.RawMessage(body))
	}
	o.mu.Unlock()
	writeJSON(w, http.StatusOK, []byte("{}"))
}

func checkSpanIDs(body []byte) error {
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID      string `json:"traceId"`
					SpanID       string `json:"spanId"`
					ParentSpanID string `json:"parentSpanId"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	for _, rs := range doc.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if !traceIDPattern.MatchString(s.TraceID) || s.TraceID == "00000000000000000000000000000000" {
					return fmt.Errorf("traceId %q is not 32 lowercase hex digits (not all zero)", s.TraceID)
				}
				if !spanIDPattern.MatchString(s.SpanID) || s.SpanID == "0000000000000000" {
					return fmt.Errorf("spanId %q is not 16 lowercase hex digits (not all zero)", s.SpanID)
				}
				if s.ParentSpanID != "" && !spanIDPattern.MatchString(s.ParentSpanID) {
					return fmt.Errorf("parentSpanId %q is not 16 lowercase hex digits", s.ParentSpanID)
				}
			}
		}
	}
	return nil
}

func (o *otlpReceiver) reject(w http.ResponseWriter, why string) {
	o.mu.Lock()
	o.rejected = append(o.rejected, why)
	o.mu.Unlock()
	http.Error(w, why, http.StatusBadRequest)
}

// serveCaptured answers GET /_emulator/otlp: every accepted export as it was
// sent, and why any was refused.
func (o *otlpReceiver) serveCaptured(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	v := struct {
		Traces   []json.RawMessage `json:"traces"`
		Metrics  []json.RawMessage `json:"metrics"`
		Rejected []string          `json:"rejected"`
	}{append([]json.RawMessage{}, o.traces...), append([]json.RawMessage{}, o.metrics...),
		append([]string{}, o.rejected...)}
	o.mu.Unlock()
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, append(body, '\n'))
}

func (o *otlpReceiver) clear() {
	o.mu.Lock()
	o.traces, o.metrics, o.rejected = nil, nil, nil
	o.mu.Unlock()
}
