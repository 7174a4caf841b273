package llmsvc_test

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	llmsvc "llmsvc/bindings/go"
)

// cpuTime is the CPU time (user + system) this process has used so far: the caller's
// goroutines, the Go runtime and the core's engine thread alike.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchReq = llmsvc.Request{
	Messages: []llmsvc.Message{
		llmsvc.SystemMessage("You classify reviews."),
		llmsvc.UserMessage("The battery lasts two days and the screen is sharp."),
	},
	MaxOutputTokens: 64,
	Operation:       "classify",
}

// BenchmarkRoundTrip times Submit (or Generate) to completion against the emulator on
// loopback, one request at a time and with 32 in flight, and reports the process's CPU
// per request.
func BenchmarkRoundTrip(b *testing.B) {
	emu := startEmulator(b)
	c := emu.client(b, "k-bench", llmsvc.Config{})
	ctx := context.Background()
	for i := 0; i < 200; i++ { // warm up the connections
		if _, err := c.Generate(ctx, benchReq); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("sequential", func(b *testing.B) {
		cpu := cpuTime(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			f, err := c.Submit(ctx, benchReq)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Result(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	})
	b.Run("concurrent-32", func(b *testing.B) {
		const workers = 32
		cpu := cpuTime(b)
		start := time.Now()
		b.ResetTimer()
		var wg sync.WaitGroup
		next := make(chan struct{}, b.N)
		for i := 0; i < b.N; i++ {
			next <- struct{}{}
		}
		close(next)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					if _, err := c.Generate(ctx, benchReq); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		b.ReportMetric(float64((cpuTime(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	})
}

// BenchmarkSubmitComplete times the whole path through the binding and the core without
// any network, and reports the process's CPU per request: requests wait at a gate (1
// request per minute, taken by the first) and Close completes them all with
// ErrShutDown. "go": Submit, the core's parsing and queueing, the completions handed to
// Go in batches and their Responses built, Result. "c": the same submissions through the
// C ABI alone, with completions that C frees; the difference is what the binding adds.
func BenchmarkSubmitComplete(b *testing.B) {
	for _, path := range []string{"go", "c"} {
		b.Run(path, func(b *testing.B) {
			c, err := llmsvc.NewClient(llmsvc.Config{BaseURL: "http://127.0.0.1:9/v1", APIKey: "k",
				Model: "gpt-4o-mini", Limits: &llmsvc.Limits{RPM: 1}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			futures := make([]*llmsvc.Future, b.N)
			b.ReportAllocs()
			cpu := cpuTime(b)
			b.ResetTimer()
			if path == "c" {
				err = llmsvc.SubmitC(c, benchReq, b.N)
			}
			for i := 0; i < b.N && path == "go" && err == nil; i++ {
				futures[i], err = c.Submit(ctx, benchReq)
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
			for _, f := range futures {
				if f == nil {
					continue
				}
				if _, err := f.Result(); !errors.Is(err, llmsvc.ErrShutDown) && !errors.Is(err, llmsvc.ErrConnection) {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
		})
	}
}
