// Command basic sends a few requests through llmsvc and prints their results, usage,
// cost and the client's metrics.
//
// It starts nothing itself: point it at an OpenAI-compatible server, for example the
// project's emulator:
//
//	llmsvc-emulator --port 0 &          # prints "listening on 127.0.0.1:PORT"
//	go run ./examples/basic -base-url http://127.0.0.1:PORT/v1 -key sk-demo
//
// Without flags it reads $OPENAI_BASE_URL and $OPENAI_API_KEY (as the core does).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	llmsvc "llmsvc/bindings/go"
)

func main() {
	baseURL := flag.String("base-url", os.Getenv("OPENAI_BASE_URL"), "API root, e.g. http://127.0.0.1:PORT/v1")
	key := flag.String("key", os.Getenv("OPENAI_API_KEY"), "API key")
	model := flag.String("model", "gpt-4o-mini", "model")
	rpm := flag.Int64("rpm", 500, "requests per minute allowed")
	flag.Parse()

	client, err := llmsvc.NewClient(llmsvc.Config{
		BaseURL: *baseURL,
		APIKey:  *key,
		Model:   *model,
		Limits:  &llmsvc.Limits{RPM: *rpm, TPM: 200000},
	})
	if err != nil {
		log.Fatal(err) // a *llmsvc.StatusError naming the wrong field
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// One request, waiting for it.
	resp, err := client.Generate(ctx, llmsvc.Request{
		Instructions:    "Answer in one word.",
		Prompt:          "What colour is the sky?",
		MaxOutputTokens: 20,
		Operation:       "quiz",
	})
	report("generate", resp, err)

	// A batch, submitted at once; the core's gates pace it.
	prompts := []string{"Name a fruit.", "Name a river.", "Name a planet."}
	futures := make([]*llmsvc.Future, 0, len(prompts))
	for _, p := range prompts {
		f, err := client.Submit(ctx, llmsvc.Request{Prompt: p, MaxOutputTokens: 20, Operation: "batch"})
		if err != nil {
			log.Fatal(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		resp, err := f.Result()
		report(fmt.Sprintf("submit #%d", f.ID()), resp, err)
	}

	m, err := client.Metrics()
	if err != nil {
		log.Fatal(err)
	}
	cost := "unknown"
	if c := m.Usage.Total.CostNanoUSD; c != nil {
		cost = fmt.Sprintf("$%.9f", float64(*c)/1e9)
	}
	fmt.Printf("\n%d requests (%d succeeded), %d attempts, %d tokens, cost %s, overhead p50 %.1f µs\n",
		m.Requests.Completed, m.Requests.Succeeded, m.Attempts.Total, m.Usage.Total.TotalTokens,
		cost, m.OverheadUS.P50)
}

func report(what string, resp *llmsvc.Response, err error) {
	var e *llmsvc.Error
	switch {
	case errors.As(err, &e):
		fmt.Printf("%s: %s (HTTP %d, %d attempts): %s\n", what, e.Kind, e.HTTPStatus, len(e.Attempts), e.Message)
		if errors.Is(err, llmsvc.ErrInsufficientQuota) || errors.Is(err, llmsvc.ErrAuth) {
			os.Exit(1) // retrying cannot help
		}
	case err != nil:
		log.Fatal(err)
	default:
		cost := "unknown"
		if resp.CostNanoUSD != nil {
			cost = fmt.Sprintf("%d nano-USD", *resp.CostNanoUSD)
		}
		tokens := "no usage"
		if u := resp.Usage; u != nil {
			tokens = fmt.Sprintf("%d+%d tokens", u.PromptTokens, u.CompletionTokens)
		}
		fmt.Printf("%s: %.40q… (%s, %s, %d attempt(s), %.1f ms)\n", what, resp.Text, tokens, cost,
			len(resp.Attempts), resp.Timing.TotalMS)
	}
}
