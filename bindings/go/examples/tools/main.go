// Command tools runs a two-round tool loop through llmsvc: the model asks for a tool, the
// program runs it and sends the result back, the model answers.
//
// It starts nothing itself: point it at a provider's endpoint, for example the project's
// emulator:
//
//	llmsvc-emulator --port 0 &          # prints "listening on 127.0.0.1:PORT"
//	go run ./examples/tools -base-url http://127.0.0.1:PORT/v1 -key sk-demo
//	go run ./examples/tools -base-url http://127.0.0.1:PORT/v1 -provider anthropic -stream
//	go run ./examples/tools -base-url http://127.0.0.1:PORT -provider ollama   # no /v1
//
// With -stream the first round is streamed and its tool calls are printed piece by piece
// as they arrive. It prints each round and exits 0 when the model answered.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	llmsvc "llmsvc/bindings/go"
)

// The one tool: a weather report for a city.
var weather = llmsvc.Tool{
	Name:        "get_weather",
	Description: "The current weather in a city",
	Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},` +
		`"required":["city"]}`),
}

// runTool runs a call the model asked for (a stand-in for a real lookup).
func runTool(call llmsvc.ToolCall) string {
	if call.Name != weather.Name || call.UnknownTool {
		return "unknown tool " + call.Name
	}
	var args struct {
		City string `json:"city"`
	}
	if err := call.DecodeArguments(&args); err != nil {
		return "bad arguments: " + err.Error() // the model reads this and may try again
	}
	return weatherIn(args.City)
}

// weatherIn looks the weather up (here: the same for every city).
func weatherIn(city string) string { return "18 C and clear" }

// defaultModels are models each provider's emulator (and service) knows.
var defaultModels = map[string]string{
	"openai_chat":      "gpt-4o-mini",
	"openai_responses": "gpt-4o-mini",
	"anthropic":        "claude-haiku-4-5",
	"ollama":           "llama3.2",
}

func main() {
	baseURL := flag.String("base-url", os.Getenv("OPENAI_BASE_URL"), "API root, e.g. http://127.0.0.1:PORT/v1")
	key := flag.String("key", os.Getenv("OPENAI_API_KEY"), "API key")
	provider := flag.String("provider", "openai_chat", "openai_chat, openai_responses, anthropic or ollama")
	model := flag.String("model", "", "model (default: one the provider knows)")
	stream := flag.Bool("stream", false, "stream the first round's tool calls piece by piece")
	flag.Parse()
	if *model == "" {
		*model = defaultModels[*provider]
	}

	client, err := llmsvc.NewClient(llmsvc.Config{Provider: *provider, BaseURL: *baseURL, APIKey: *key, Model: *model})
	if err != nil {
		log.Fatal(err) // a *llmsvc.StatusError naming the wrong field
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Round 1: the question and the tool.
	req := llmsvc.Request{
		Tools:    []llmsvc.Tool{weather},
		Messages: []llmsvc.Message{llmsvc.UserMessage("What is the weather in Paris? Use get_weather.")},
	}
	var first *llmsvc.Response
	if *stream {
		first, err = streamRound(ctx, client, req)
	} else {
		first, err = client.Generate(ctx, req)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("round 1: %d tool call(s)\n", len(first.ToolCalls))
	if len(first.ToolCalls) == 0 {
		fmt.Printf("answer: %s\n", first.Text)
		os.Exit(1) // this example expects the model to ask for the tool
	}

	// Round 2: the conversation so far, the reply with its calls, and each tool's result.
	req.Messages = append(req.Messages, first.Message())
	for _, call := range first.ToolCalls {
		result := runTool(call)
		fmt.Printf("  %s(%s) -> %s\n", call.Name, call.Arguments, result)
		req.Messages = append(req.Messages, llmsvc.ToolMessage(call.ID, result))
	}
	second, err := client.Generate(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("round 2: %s\n", second.Text)
}

// streamRound streams a round, printing its text and tool calls as they arrive; the
// completion carries the calls assembled.
func streamRound(ctx context.Context, client *llmsvc.Client, req llmsvc.Request) (*llmsvc.Response, error) {
	s, err := client.StreamPieces(ctx, req)
	if err != nil {
		return nil, err
	}
	open := false // a call's arguments are being printed
	for p, err := range s.Pieces() {
		if err != nil {
			return nil, err
		}
		switch p.Kind {
		case llmsvc.PieceText:
			fmt.Print(p.Text)
		case llmsvc.PieceToolCall:
			if open {
				fmt.Println()
			}
			fmt.Printf("  streaming call %d: %s ", p.Index, p.Name)
			open = true
		case llmsvc.PieceToolArguments:
			fmt.Print(p.Text)
		}
	}
	if open {
		fmt.Println()
	}
	return s.Response()
}
