// Package bench compares the llmsvc Go binding with the official OpenAI Go SDK
// (github.com/openai/openai-go) end to end against the llmsvc emulator. It is a module of
// its own so that the binding itself depends on nothing.
//
//	LLMSVC_EMULATOR=.../llmsvc-emulator go test -run - -bench . -benchtime 5000x -count 3
package bench

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmsvc "llmsvc/bindings/go"
)

const (
	concurrency = 32  // requests in flight, as in bench/e2e.sh
	warmup      = 200 // requests before timing, to open the connections
	system      = "You classify reviews."
	user        = "The battery lasts two days and the screen is sharp."
	maxTokens   = 64
)

// startEmulator starts $LLMSVC_EMULATOR on 127.0.0.1 (no limits, no faults) and returns
// its API root.
func startEmulator(b *testing.B) string {
	path := os.Getenv("LLMSVC_EMULATOR")
	if path == "" {
		b.Skip("LLMSVC_EMULATOR is not set: it names the llmsvc-emulator binary")
	}
	cmd := exec.Command(path, "--port", "0")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		b.Fatalf("unexpected first line %q", line)
	}
	return "http://" + addr + "/v1"
}

var errEmpty = errors.New("a reply without text or usage")

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run sends warmup requests, then b.N requests from `concurrency` goroutines, and reports
// requests per second and the process's CPU time per request.
func run(b *testing.B, send func(context.Context) error) {
	ctx := context.Background()
	for i := 0; i < warmup; i++ {
		if err := send(ctx); err != nil {
			b.Fatal(err)
		}
	}
	next := make(chan struct{}, b.N)
	for i := 0; i < b.N; i++ {
		next <- struct{}{}
	}
	close(next)
	cpu := cpuTime(b)
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if err := send(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	wall := time.Since(start)
	b.ReportMetric(float64(b.N)/wall.Seconds(), "req/s")
	b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/req")
}

// BenchmarkE2E drives the same emulator with both clients at the same concurrency. Each
// reads the reply's text and token usage; llmsvc also admits every request through its
// gates, records metrics and prices it.
func BenchmarkE2E(b *testing.B) {
	b.Run("llmsvc", func(b *testing.B) {
		base := startEmulator(b)
		c, err := llmsvc.NewClient(llmsvc.Config{BaseURL: base, APIKey: "k-llmsvc", Model: "gpt-4o-mini"})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		req := llmsvc.Request{
			Messages:        []llmsvc.Message{llmsvc.SystemMessage(system), llmsvc.UserMessage(user)},
			MaxOutputTokens: maxTokens,
		}
		run(b, func(ctx context.Context) error {
			resp, err := c.Generate(ctx, req)
			if err == nil && (resp.Text == "" || resp.Usage == nil) {
				err = errEmpty
			}
			return err
		})
	})
	b.Run("openai-go", func(b *testing.B) {
		base := startEmulator(b)
		// The default transport keeps only 2 idle connections per host; give it room for
		// every request in flight, as llmsvc keeps its connections.
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 2 * concurrency
		c := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey("k-openai"),
			option.WithHTTPClient(&http.Client{Transport: transport}))
		params := openai.ChatCompletionNewParams{
			Model:               "gpt-4o-mini",
			Messages:            []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(system), openai.UserMessage(user)},
			MaxCompletionTokens: openai.Int(maxTokens),
		}
		run(b, func(ctx context.Context) error {
			resp, err := c.Chat.Completions.New(ctx, params)
			if err == nil && (len(resp.Choices) == 0 || resp.Choices[0].Message.Content == "" ||
				resp.Usage.TotalTokens == 0) {
				err = errEmpty
			}
			return err
		})
	})
}
