// Command llmsvc-emulator is a deterministic local stand-in for the OpenAI
// Chat Completions, Responses, Embeddings and Batch (with Files) APIs, the
// Anthropic Messages and Message Batches APIs, the Gemini API's
// generateContent and embeddings, Ollama's chat and embed APIs and Amazon
// Bedrock's Converse and ConverseStream, used by llmsvc's integration
// tests, benchmarks and examples.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config holds every command-line setting.
type config struct {
	host     string
	port     int
	portFile string
	verbose  bool

	invalidKeys map[string]bool
	quotaKeys   map[string]bool
	knownModels map[string]bool

	rpm    int64
	tpm    int64
	itpm   int64 // input tokens per minute, /v1/messages only
	otpm   int64 // output tokens per minute, /v1/messages only
	window time.Duration

	seed      uint64
	errorRate float64
	resetRate float64
	stallRate float64
	stall     time.Duration
	latency   time.Duration
	jitter    time.Duration
	failFirst int
	// rateLimitFirst answers the first N arrivals of each body (per key) on
	// /v1/chat/completions, /v1/embeddings, /api/embed, the Gemini and the
	// Bedrock endpoints with a 429 rate limit lasting rateLimitWait.
	rateLimitFirst int
	rateLimitWait  time.Duration
	noRetryAfter   bool
	shouldRetry    bool

	validateSpec string

	invalidJSONFirst int     // the first N arrivals of a body get a schema-violating document
	invalidJSONRate  float64 // chance of a schema-violating document

	streamDelay        time.Duration // between the events of a streaming answer
	midstreamErrorRate float64       // chance of an in-band error half-way through a stream

	flexUnavailable bool // requests for the flex service tier get 429 resource_unavailable

	// The batch APIs: the largest batch input file, the enqueued input
	// tokens allowed per key and model (0 = unlimited), and how long a job
	// takes.
	batchMaxFileBytes   int64
	batchEnqueuedTokens int64
	batchLatency        time.Duration

	// Bedrock's Signature Version 4 credentials: the one access key id
	// accepted, its secret, the region requests must be scoped to and, when
	// set, the session token they must carry.
	awsAccessKeyID     string
	awsSecretAccessKey string
	awsRegion          string
	awsSessionToken    string

	proxyTo    string        // not an emulator: a TCP proxy to this address
	proxyDelay time.Duration // added in each direction by the proxy
}

func parseConfig(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("llmsvc-emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg                                    config
		invalid, quota, models                 string
		windowMs, stallMs, latencyMs, jitterMs int64
		streamDelayMs, rateLimitWaitMs         int64
		proxyDelayUs                           int64
		batchLatencyMs                         int64
	)
	fs.StringVar(&cfg.host, "host", "127.0.0.1", "loopback address to listen on")
	fs.IntVar(&cfg.port, "port", 0, "port to listen on (0 picks a free port)")
	fs.StringVar(&cfg.portFile, "port-file", "", "also write the chosen port number to this file")
	fs.BoolVar(&cfg.verbose, "verbose", false, "log every request to stderr")
	fs.StringVar(&invalid, "invalid-keys", "", "comma-separated API keys answered with 401 invalid_api_key")
	fs.StringVar(&quota, "quota-keys", "", "comma-separated API keys answered with 429 insufficient_quota")
	fs.StringVar(&models, "known-models", "", "comma-separated model names; other models get 404 (empty: accept all)")
	fs.Int64Var(&cfg.rpm, "rpm", 0, "requests per minute per key (0 = unlimited)")
	fs.Int64Var(&cfg.tpm, "tpm", 0, "tokens per minute per key (0 = unlimited)")
	fs.Int64Var(&cfg.itpm, "itpm", 0, "input tokens per minute per key on /v1/messages (0 = unlimited)")
	fs.Int64Var(&cfg.otpm, "otpm", 0, "output tokens per minute per key on /v1/messages (0 = unlimited)")
	fs.Int64Var(&windowMs, "window-ms", 60000, "sliding rate-limit window in milliseconds")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed for fault and jitter decisions")
	fs.Float64Var(&cfg.errorRate, "error-rate", 0, "probability of a 500/503 answer")
	fs.Float64Var(&cfg.resetRate, "reset-rate", 0, "probability of resetting the connection without an answer")
	fs.Float64Var(&cfg.stallRate, "stall-rate", 0, "probability of holding a request for --stall-ms")
	fs.Int64Var(&stallMs, "stall-ms", 30000, "how long a stalled request is held, in milliseconds")
	fs.Int64Var(&latencyMs, "latency-ms", 0, "fixed delay before every answer, in milliseconds")
	fs.Int64Var(&jitterMs, "jitter-ms", 0, "extra uniform delay in [0, J) milliseconds")
	fs.IntVar(&cfg.failFirst, "fail-first", 0, "answer the first N arrivals of each distinct body (per key) with 500")
	fs.IntVar(&cfg.rateLimitFirst, "rate-limit-first", 0, "answer the first N arrivals of each distinct body (per key) on /v1/chat/completions, /v1/embeddings, /api/embed, the Gemini and the Bedrock endpoints with a rate-limit 429")
	fs.Int64Var(&rateLimitWaitMs, "rate-limit-wait-ms", 20, "the retry-after of --rate-limit-first answers, in milliseconds")
	fs.BoolVar(&cfg.noRetryAfter, "no-retry-after", false, "omit retry-after and retry-after-ms on rate-limit 429s")
	fs.BoolVar(&cfg.shouldRetry, "should-retry-header", false, "send x-should-retry on error answers")
	fs.StringVar(&cfg.validateSpec, "validate-spec", "", "OpenAPI document to validate request bodies against")
	fs.IntVar(&cfg.invalidJSONFirst, "invalid-json-first", 0, "answer the first N arrivals of each distinct body (per key) asking for JSON with a document that violates the schema")
	fs.Float64Var(&cfg.invalidJSONRate, "invalid-json-rate", 0, "probability of answering a request for JSON with a document that violates the schema")
	fs.Int64Var(&streamDelayMs, "stream-delay-ms", 0, "delay between the events of a streaming answer, in milliseconds")
	fs.Float64Var(&cfg.midstreamErrorRate, "midstream-error-rate", 0, "probability of ending a streaming answer with an error event after half of the deltas")
	fs.BoolVar(&cfg.flexUnavailable, "flex-unavailable", false, "answer requests for the flex service tier with 429 resource_unavailable")
	fs.Int64Var(&cfg.batchMaxFileBytes, "batch-max-file-bytes", 209715200, "largest batch input file accepted by POST /v1/files, in bytes")
	fs.Int64Var(&cfg.batchEnqueuedTokens, "batch-enqueued-tokens", 0, "input tokens of unfinished batches allowed per key and model (0 = unlimited)")
	fs.Int64Var(&batchLatencyMs, "batch-latency-ms", 1000, "how long a batch takes to complete, in milliseconds")
	fs.StringVar(&cfg.awsAccessKeyID, "aws-access-key-id", "AKIDEMULATOR", "the access key id Bedrock requests must be signed with (Signature Version 4)")
	fs.StringVar(&cfg.awsSecretAccessKey, "aws-secret-access-key", "emulator-secret", "the secret access key of --aws-access-key-id")
	fs.StringVar(&cfg.awsRegion, "aws-region", "us-east-1", "the region Bedrock requests must be signed for")
	fs.StringVar(&cfg.awsSessionToken, "aws-session-token", "", "when set, Bedrock requests must carry this x-amz-security-token, signed")
	fs.StringVar(&cfg.proxyTo, "proxy-to", "", "instead of emulating: forward TCP connections to this host:port (the shared-limits benchmark's slow network to Redis)")
	fs.Int64Var(&proxyDelayUs, "proxy-delay-us", 0, "with --proxy-to: delay added in each direction, in microseconds")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg.proxyDelay = time.Duration(proxyDelayUs) * time.Microsecond
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.invalidKeys = splitList(invalid)
	cfg.quotaKeys = splitList(quota)
	cfg.knownModels = splitList(models)

	if cfg.port < 0 || cfg.port > 65535 {
		return nil, fmt.Errorf("--port %d out of range", cfg.port)
	}
	if cfg.rpm < 0 || cfg.tpm < 0 {
		return nil, errors.New("--rpm and --tpm must not be negative")
	}
	if cfg.itpm < 0 || cfg.otpm < 0 {
		return nil, errors.New("--itpm and --otpm must not be negative")
	}
	if windowMs <= 0 {
		return nil, errors.New("--window-ms must be positive")
	}
	for name, p := range map[string]float64{"--error-rate": cfg.errorRate, "--reset-rate": cfg.resetRate, "--stall-rate": cfg.stallRate,
		"--invalid-json-rate": cfg.invalidJSONRate, "--midstream-error-rate": cfg.midstreamErrorRate} {
		if p < 0 || p > 1 {
			return nil, fmt.Errorf("%s must be within [0, 1]", name)
		}
	}
	if stallMs < 0 || latencyMs < 0 || jitterMs < 0 || cfg.failFirst < 0 {
		return nil, errors.New("--stall-ms, --latency-ms, --jitter-ms and --fail-first must not be negative")
	}
	if cfg.invalidJSONFirst < 0 || streamDelayMs < 0 {
		return nil, errors.New("--invalid-json-first and --stream-delay-ms must not be negative")
	}
	if cfg.rateLimitFirst < 0 || rateLimitWaitMs < 0 {
		return nil, errors.New("--rate-limit-first and --rate-limit-wait-ms must not be negative")
	}
	if cfg.batchMaxFileBytes < 1 || cfg.batchEnqueuedTokens < 0 || batchLatencyMs < 0 {
		return nil, errors.New("--batch-max-file-bytes must be positive; --batch-enqueued-tokens and --batch-latency-ms must not be negative")
	}
	if cfg.awsAccessKeyID == "" || cfg.awsSecretAccessKey == "" || cfg.awsRegion == "" {
		return nil, errors.New("--aws-access-key-id, --aws-secret-access-key and --aws-region must not be empty")
	}
	if strings.ContainsAny(cfg.awsAccessKeyID, "/, ") || strings.ContainsAny(cfg.awsRegion, "/, ") {
		return nil, errors.New("--aws-access-key-id and --aws-region must not contain '/', ',' or spaces")
	}
	cfg.batchLatency = time.Duration(batchLatencyMs) * time.Millisecond
	cfg.rateLimitWait = time.Duration(rateLimitWaitMs) * time.Millisecond
	cfg.window = time.Duration(windowMs) * time.Millisecond
	cfg.stall = time.Duration(stallMs) * time.Millisecond
	cfg.latency = time.Duration(latencyMs) * time.Millisecond
	cfg.jitter = time.Duration(jitterMs) * time.Millisecond
	cfg.streamDelay = time.Duration(streamDelayMs) * time.Millisecond
	return &cfg, nil
}

func splitList(s string) map[string]bool {
	m := map[string]bool{}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			m[v] = true
		}
	}
	return m
}

// loopbackHost resolves --host and refuses anything that is not loopback.
func loopbackHost(host string) (string, error) {
	if strings.EqualFold(host, "localhost") {
		return "127.0.0.1", nil
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("refusing to listen on %q: only loopback addresses are allowed", host)
	}
	return ip.String(), nil
}

// listen opens the listening socket and builds the server for cfg.
func listen(cfg *config, e *emulator) (net.Listener, *http.Server, error) {
	host, err := loopbackHost(cfg.host)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(cfg.port)))
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
	if !cfg.verbose {
		srv.ErrorLog = log.New(io.Discard, "", 0)
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	srv.Handler = withH2CUpgrade(srv, e.handler())
	return ln, srv, nil
}

func writePortFile(path string, port int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".port-*")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(tmp, "%d\n", port); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	if cfg.proxyTo != "" {
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "listening on %s\n", ln.Addr().String()); err != nil {
			ln.Close()
			return err
		}
		return serveProxy(ctx, ln, cfg.proxyTo, cfg.proxyDelay)
	}
	e, err := newEmulator(cfg, stderr)
	if err != nil {
		return err
	}
	ln, srv, err := listen(cfg, e)
	if err != nil {
		return err
	}
	addr := ln.Addr().(*net.TCPAddr)
	if cfg.portFile != "" {
		if err := writePortFile(cfg.portFile, addr.Port); err != nil {
			ln.Close()
			return fmt.Errorf("writing port file: %w", err)
		}
	}
	// A single unbuffered write: the line is out as soon as this returns.
	if _, err := fmt.Fprintf(stdout, "listening on %s\n", addr.String()); err != nil {
		ln.Close()
		return err
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		srv.Close()
		<-errc
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "llmsvc-emulator:", err)
		os.Exit(2)
	}
}
