package llmsvc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	llmsvc "llmsvc/bindings/go"
)

// emulator is one llmsvc-emulator process on 127.0.0.1, owned by one test.
type emulator struct {
	BaseURL string // http://127.0.0.1:PORT/v1
	root    string // http://127.0.0.1:PORT
}

// startEmulator starts the emulator named by $LLMSVC_EMULATOR with args and stops it when
// the test ends. The test is skipped when the variable is unset.
func startEmulator(tb testing.TB, args ...string) *emulator {
	tb.Helper()
	path := os.Getenv("LLMSVC_EMULATOR")
	if path == "" {
		tb.Skip("LLMSVC_EMULATOR is not set: it names the llmsvc-emulator binary " +
			"(build/.../llmsvc-emulator) these tests run against")
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
	root := "http://" + addr
	return &emulator{BaseURL: root + "/v1", root: root}
}

// keyStats is the emulator's per-key statistics object.
type keyStats struct {
	Received           int64 `json:"received"`
	OK                 int64 `json:"ok"`
	RateLimited        int64 `json:"rate_limited"`
	ServerErrors       int64 `json:"server_errors"`
	Stalls             int64 `json:"stalls"`
	QuotaErrors        int64 `json:"quota_errors"`
	AuthErrors         int64 `json:"auth_errors"`
	BadRequests        int64 `json:"bad_requests"`
	PromptTokens       int64 `json:"prompt_tokens"`
	CompletionTokens   int64 `json:"completion_tokens"`
	CachedTokens       int64 `json:"cached_tokens"`
	ReasoningTokens    int64 `json:"reasoning_tokens"`
	PeakWindowRequests int64 `json:"peak_window_requests"`
	ReqCap             int64 `json:"req_cap"`
	// W3C trace context: requests that carried a traceparent, and the last one.
	Traced          int64  `json:"traced"`
	LastTraceparent string `json:"last_traceparent"`
	// Provider batches (the Batch API): lines received, and custom ids received twice.
	Batches struct {
		LinesReceived      int64 `json:"lines_received"`
		DuplicateCustomIDs int64 `json:"duplicate_custom_ids"`
	} `json:"batches"`
}

func (e *emulator) stats(tb testing.TB, key string) keyStats {
	tb.Helper()
	resp, err := http.Get(e.root + "/_emulator/stats?key=" + key)
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

// client creates a client for this emulator with its own key and closes it when the
// test ends.
func (e *emulator) client(tb testing.TB, key string, cfg llmsvc.Config) *llmsvc.Client {
	tb.Helper()
	cfg.BaseURL = e.BaseURL
	cfg.APIKey = key
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

// waitFor polls cond until it holds, failing the test after a generous bound. It stands
// for observing state the core exposes, never for a fixed sleep.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// gauge polls the client's metrics until pick(metrics) == want.
func gauge(tb testing.TB, c *llmsvc.Client, what string, want int64,
	pick func(llmsvc.Metrics) int64) {
	tb.Helper()
	waitFor(tb, fmt.Sprintf("%s == %d", what, want), func() bool {
		m, err := c.Metrics()
		if err != nil {
			tb.Fatal(err)
		}
		return pick(m) == want
	})
}

// testContext is a context bounded well beyond any test's needs.
func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
