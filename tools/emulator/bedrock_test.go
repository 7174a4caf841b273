package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// The tests sign with a signer of their own, written from the Signature
// Version 4 specification and checked against the example AWS publishes.

const (
	testAKID   = "AKIDEMULATOR"
	testSecret = "emulator-secret"
	haikuID    = "anthropic.claude-3-5-haiku-20241022-v1:0"
)

// awsSigner signs requests for one credential.
type awsSigner struct {
	keyID, secret, region, service string
	token                          string    // x-amz-security-token, when set
	signToken                      bool      // whether the token is among the signed headers
	now                            time.Time // zero: the current time
	uriAsSent                      bool      // sign the path as sent, not each segment encoded again
}

func testSigner() awsSigner {
	return awsSigner{keyID: testAKID, secret: testSecret, region: "us-east-1", service: "bedrock", signToken: true}
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// uriEncode encodes every byte but A-Z a-z 0-9 - . _ ~ as %XX.
func uriEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// signature computes the signature of a canonical request.
func (s awsSigner) signature(amzDate, canonicalRequest string) string {
	day := amzDate[:8]
	scope := day + "/" + s.region + "/" + s.service + "/aws4_request"
	stringToSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex(canonicalRequest)
	k := hmacSum([]byte("AWS4"+s.secret), day)
	k = hmacSum(k, s.region)
	k = hmacSum(k, s.service)
	k = hmacSum(k, "aws4_request")
	return hex.EncodeToString(hmacSum(k, stringToSign))
}

// sign adds x-amz-date, x-amz-content-sha256, the session token and the
// Authorization header to req, whose body is body.
func (s awsSigner) sign(req *http.Request, body string) {
	now := s.now
	if now.IsZero() {
		now = time.Now()
	}
	amzDate := now.UTC().Format("20060102T150405Z")
	payload := sha256Hex(body)
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", payload)
	values := map[string]string{"host": req.URL.Host, "x-amz-date": amzDate, "x-amz-content-sha256": payload,
		"content-type": req.Header.Get("Content-Type")}
	if s.token != "" {
		req.Header.Set("X-Amz-Security-Token", s.token)
		if s.signToken {
			values["x-amz-security-token"] = s.token
		}
	}
	var names []string
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	var headers strings.Builder
	for _, n := range names {
		headers.WriteString(n + ":" + strings.TrimSpace(values[n]) + "\n")
	}
	path := req.URL.EscapedPath()
	if !s.uriAsSent {
		segs := strings.Split(path, "/")
		for i := range segs {
			segs[i] = uriEncode(segs[i])
		}
		path = strings.Join(segs, "/")
	}
	signed := strings.Join(names, ";")
	creq := req.Method + "\n" + path + "\n" + "" + "\n" + headers.String() + "\n" + signed + "\n" + payload
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.keyID+"/"+amzDate[:8]+"/"+s.region+"/"+s.service+
		"/aws4_request, SignedHeaders="+signed+", Signature="+s.signature(amzDate, creq))
}

// TestSigV4Example checks both signers against the example of the AWS
// documentation: GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08.
func TestSigV4Example(t *testing.T) {
	const (
		secret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
		amzDate = "20150830T123600Z"
		want    = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	)
	creq := "GET\n/\nAction=ListUsers&Version=2010-05-08\n" +
		"content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n" +
		"content-type;host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if h := sha256Hex(creq); h != "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59" {
		t.Fatalf("canonical request hash %s", h)
	}
	s := awsSigner{secret: secret, region: "us-east-1", service: "iam"}
	if got := s.signature(amzDate, creq); got != want {
		t.Errorf("test signer: %s", got)
	}
	// The emulator's own pieces: the signing key (the documentation's
	// derivation example), the canonical query, the header values, the
	// string to sign.
	if k := hex.EncodeToString(sigv4SigningKey(secret, "20120215", "us-east-1", "iam")); k != "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d" {
		t.Errorf("signing key %s", k)
	}
	r, _ := http.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Version=2010-05-08&Action=ListUsers", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded;  charset=utf-8 ")
	r.Header.Set("X-Amz-Date", amzDate)
	var headers string
	for _, n := range []string{"content-type", "host", "x-amz-date"} {
		headers += n + ":" + signedHeaderValue(r, n) + "\n"
	}
	uris := canonicalURIs("/")
	ours := r.Method + "\n" + uris[0].uri + "\n" + canonicalQuery(r.URL.RawQuery) + "\n" + headers + "\ncontent-type;host;x-amz-date\n" + sha256Hex("")
	if ours != creq || len(uris) != 1 {
		t.Fatalf("canonical request:\n%s", ours)
	}
	sig := hex.EncodeToString(hmacSHA256(sigv4SigningKey(secret, "20150830", "us-east-1", "iam"), sigv4StringToSign(amzDate, "20150830/us-east-1/iam/aws4_request", ours)))
	if sig != want {
		t.Errorf("emulator: %s", sig)
	}

	if q := canonicalQuery("b=2&a=x%20y&a=1&c"); q != "a=1&a=x%20y&b=2&c=" {
		t.Errorf("canonical query %q", q)
	}
	if u := canonicalURIs("/model/us.anthropic.claude-v1%3A0/converse"); len(u) != 2 || u[1].uri != "/model/us.anthropic.claude-v1%253A0/converse" {
		t.Errorf("canonical URIs %+v", u)
	}
}

// converse sends body to /model/{model}/converse (or converse-stream),
// the model id encoded once in the path, signed by s (unsigned when s is
// nil).
func converse(t *testing.T, base string, s *awsSigner, model string, stream bool, body string) streamAnswer {
	t.Helper()
	op := "converse"
	if stream {
		op = "converse-stream"
	}
	return bedrockPost(t, base, s, model, op, body)
}

// bedrockPost sends body to /model/{model}/{op}, signed by s.
func bedrockPost(t *testing.T, base string, s *awsSigner, model, op, body string) streamAnswer {
	t.Helper()
	u := base + "/model/" + strings.ReplaceAll(url.PathEscape(model), ":", "%3A") + "/" + op
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s != nil {
		s.sign(req, body)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return streamAnswer{status: resp.StatusCode, header: resp.Header, body: b, readErr: rerr}
}

func mustConverse(t *testing.T, base, model, body string) map[string]any {
	t.Helper()
	s := testSigner()
	a := converse(t, base, &s, model, false, body)
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	return decode(t, string(a.body))
}

// checkBedrockError checks an error answer: status, x-amzn-ErrorType and
// the {"message"} body; it returns the message.
func checkBedrockError(t *testing.T, a streamAnswer, status int, typ string) string {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	if got := a.header.Get("X-Amzn-Errortype"); got != typ+":http://internal.amazon.com/coral/com.amazon.bedrock/" {
		t.Errorf("x-amzn-ErrorType %q, want %s", got, typ)
	}
	if a.header.Get("X-Amzn-Requestid") == "" || a.header.Get("Retry-After") != "" {
		t.Errorf("headers %v", a.header)
	}
	var m map[string]string
	if err := json.Unmarshal(a.body, &m); err != nil || len(m) != 1 || m["message"] == "" {
		t.Fatalf("error body %s", a.body)
	}
	return m["message"]
}

func userText(text string) string {
	q, _ := json.Marshal(text)
	return `{"role":"user","content":[{"text":` + string(q) + `}]}`
}

func converseBody(messages ...string) string {
	return `{"messages":[` + strings.Join(messages, ",") + `]}`
}

func TestBedrockConverse(t *testing.T) {
	base := startEmulator(t)
	a := converse(t, base, ptr(testSigner()), haikuID, false, converseBody(userText("Hello there")))
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" || len(a.header.Get("X-Amzn-Requestid")) != 36 {
		t.Fatalf("%d %v %s", a.status, a.header, a.body)
	}
	var r struct {
		Output struct {
			Message struct {
				Role    string                       `json:"role"`
				Content []map[string]json.RawMessage `json:"content"`
			} `json:"message"`
		} `json:"output"`
		StopReason string `json:"stopReason"`
		Usage      struct {
			InputTokens  int64 `json:"inputTokens"`
			OutputTokens int64 `json:"outputTokens"`
			TotalTokens  int64 `json:"totalTokens"`
		} `json:"usage"`
		Metrics struct {
			LatencyMs *int64 `json:"latencyMs"`
		} `json:"metrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%v: %s", err, a.body)
	}
	target := refTarget(haikuID, "Hello there")
	var text string
	if len(r.Output.Message.Content) == 1 {
		json.Unmarshal(r.Output.Message.Content[0]["text"], &text)
	}
	if r.Output.Message.Role != "assistant" || text != replyText(target) || r.StopReason != "end_turn" ||
		r.Usage.InputTokens != 10 || r.Usage.OutputTokens != target || r.Usage.TotalTokens != 10+target || r.Metrics.LatencyMs == nil {
		t.Errorf("answer %s", a.body)
	}

	// The system prompt counts as a message; maxTokens caps the output.
	m := mustConverse(t, base, haikuID, `{"system":[{"text":"Be brief."},{"cachePoint":{"type":"default"}}],"messages":[`+userText("Hello there")+
		`],"inferenceConfig":{"maxTokens":5,"temperature":0.5,"topP":1}}`)
	usage := m["usage"].(map[string]any)
	if m["stopReason"] != "max_tokens" || usage["inputTokens"] != float64(10+4+3) || usage["outputTokens"] != float64(5) {
		t.Errorf("capped: %v", m)
	}
	// A stop sequence ends the text before it.
	m = mustConverse(t, base, haikuID, `{"messages":[`+userText("Hello there")+`],"inferenceConfig":{"stopSequences":["zzz","dolor"]}}`)
	content := m["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)
	if m["stopReason"] != "stop_sequence" || content[0].(map[string]any)["text"] != "Lorem ipsum " ||
		m["usage"].(map[string]any)["outputTokens"] != float64(3) {
		t.Errorf("stop sequence: %v", m)
	}
	// Images count 85; a final assistant message is allowed.
	m = mustConverse(t, base, "us.anthropic.claude-3-5-haiku-20241022-v1:0", converseBody(
		`{"role":"user","content":[{"text":"Look"},{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}}]}`,
		`{"role":"assistant","content":[{"text":"I see"}]}`))
	if got := m["usage"].(map[string]any)["inputTokens"]; got != float64(3+4+1+85+4+2) {
		t.Errorf("input tokens %v", got)
	}

	// The path may carry the model id unencoded, signed as sent or encoded.
	for _, asSent := range []bool{true, false} {
		s := testSigner()
		s.uriAsSent = asSent
		req, _ := http.NewRequest(http.MethodPost, base+"/model/"+haikuID+"/converse", strings.NewReader(converseBody(userText("x"))))
		s.sign(req, converseBody(userText("x")))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("unencoded id, signed as sent %v: %d", asSent, resp.StatusCode)
		}
	}
	// The model id encoded once, signed as sent (libcurl's way).
	s := testSigner()
	s.uriAsSent = true
	if a := converse(t, base, &s, haikuID, false, converseBody(userText("x"))); a.status != 200 {
		t.Errorf("signed as sent: %d %s", a.status, a.body)
	}

	st := getStats(t, base, testAKID)
	if st.Received != 7 || st.OK != 7 || st.Models[haikuID].OK != 6 || st.Models[haikuID].PromptTokens != 10+17+10+3*8 {
		t.Errorf("stats: %+v", st)
	}
}

func ptr[T any](v T) *T { return &v }

func TestBedrockAuth(t *testing.T) {
	base := startEmulator(t, "--aws-access-key-id", "AKIDTEST", "--aws-secret-access-key", "s3cr3t", "--aws-region", "eu-west-1")
	body := converseBody(userText("Hello there"))
	good := awsSigner{keyID: "AKIDTEST", secret: "s3cr3t", region: "eu-west-1", service: "bedrock"}
	if a := converse(t, base, &good, haikuID, false, body); a.status != 200 {
		t.Fatalf("good signature: %d %s", a.status, a.body)
	}
	msg := checkBedrockError(t, converse(t, base, nil, haikuID, false, body), 403, "MissingAuthenticationTokenException")
	if msg != "Missing Authentication Token" {
		t.Errorf("missing: %q", msg)
	}
	for _, tc := range []struct {
		name   string
		change func(*awsSigner)
		typ    string
		want   string
	}{
		{"key id", func(s *awsSigner) { s.keyID = "AKIDOTHER" }, "UnrecognizedClientException", "The security token included in the request is invalid."},
		{"secret", func(s *awsSigner) { s.secret = "wrong" }, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."},
		{"region", func(s *awsSigner) { s.region = "us-east-1" }, "InvalidSignatureException", "Credential should be scoped to a valid region: 'eu-west-1', not 'us-east-1'."},
		{"service", func(s *awsSigner) { s.service = "bedrock-runtime" }, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'."},
		{"old", func(s *awsSigner) { s.now = time.Now().Add(-6 * time.Minute) }, "InvalidSignatureException", "Signature expired: "},
		{"future", func(s *awsSigner) { s.now = time.Now().Add(6 * time.Minute) }, "InvalidSignatureException", "Signature not yet current: "},
		{"unexpected token", func(s *awsSigner) { s.token = "T" }, "UnrecognizedClientException", "The security token included in the request is invalid."},
	} {
		s := good
		tc.change(&s)
		msg := checkBedrockError(t, converse(t, base, &s, haikuID, false, body), 403, tc.typ)
		if !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%s: %q", tc.name, msg)
		}
	}

	// Hand-made headers: a tampered body, an incomplete Authorization, a
	// content hash that does not match.
	send := func(mutate func(*http.Request)) streamAnswer {
		req, _ := http.NewRequest(http.MethodPost, base+"/model/m/converse", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		good.sign(req, body)
		mutate(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return streamAnswer{status: resp.StatusCode, header: resp.Header, body: b}
	}
	if msg := checkBedrockError(t, send(func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "Hello", "Hullo", 1)))
		r.Header.Del("X-Amz-Content-Sha256")
	}), 403, "InvalidSignatureException"); !strings.HasPrefix(msg, "The request signature we calculated") {
		t.Errorf("tampered body: %q", msg)
	}
	if msg := checkBedrockError(t, send(func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "Hello", "Hullo", 1)))
	}), 403, "InvalidSignatureException"); msg != "The provided 'x-amz-content-sha256' header does not match what was computed." {
		t.Errorf("content hash: %q", msg)
	}
	if msg := checkBedrockError(t, send(func(r *http.Request) {
		a := r.Header.Get("Authorization")
		r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
	}), 403, "IncompleteSignatureException"); msg != "Authorization header requires 'Signature' parameter." {
		t.Errorf("no signature: %q", msg)
	}
	if msg := checkBedrockError(t, send(func(r *http.Request) { r.Header.Del("X-Amz-Date") }), 403, "IncompleteSignatureException"); !strings.Contains(msg, "X-Amz-Date") {
		t.Errorf("no date: %q", msg)
	}
	if msg := checkBedrockError(t, send(func(r *http.Request) { r.Header.Set("Authorization", "Bearer abc") }), 403, "IncompleteSignatureException"); !strings.Contains(msg, "AWS4-HMAC-SHA256") {
		t.Errorf("bearer: %q", msg)
	}
	// The stats go to the access key id.
	if st := getStats(t, base, "AKIDTEST"); st.OK != 1 || st.AuthErrors != 10 || st.Received != 11 {
		t.Errorf("stats: %+v", st)
	}
	if st := getStats(t, base, "AKIDOTHER"); st.AuthErrors != 1 {
		t.Errorf("stats of the wrong key: %+v", st)
	}

	// With --aws-session-token the token must be there, right and signed.
	base = startEmulator(t, "--aws-session-token", "FQoGZXIvYXdzEXAMPLE")
	s := testSigner()
	s.token = "FQoGZXIvYXdzEXAMPLE"
	if a := converse(t, base, &s, haikuID, false, body); a.status != 200 {
		t.Errorf("session token: %d %s", a.status, a.body)
	}
	s.token = "other"
	checkBedrockError(t, converse(t, base, &s, haikuID, false, body), 403, "UnrecognizedClientException")
	s.token = ""
	checkBedrockError(t, converse(t, base, &s, haikuID, false, body), 403, "UnrecognizedClientException")
	s.token, s.signToken = "FQoGZXIvYXdzEXAMPLE", false
	if msg := checkBedrockError(t, converse(t, base, &s, haikuID, false, body), 403, "IncompleteSignatureException"); !strings.Contains(msg, "x-amz-security-token") {
		t.Errorf("unsigned token: %q", msg)
	}
}

func TestBedrockValidation(t *testing.T) {
	base := startEmulator(t, "--known-models", haikuID)
	user := userText("Hi")
	asst := `{"role":"assistant","content":[{"text":"Hello"}]}`
	tools := `"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object"}}}}]}`
	for _, tc := range []struct{ body, want string }{
		{`{"messages":[` + user + `],"stream":true}`, "unknown member 'stream'"},
		{`{}`, "Value null at 'messages' failed to satisfy constraint: Member must not be null"},
		{`{"messages":[]}`, "Value at 'messages' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{`{"messages":{}}`, "'messages' must be an array, got an object"},
		{`[1]`, "the body must be a JSON object"},
		{`{"messages":[` + asst + `]}`, "A conversation must start with a user message."},
		{`{"messages":[` + user + `,` + user + `]}`, "A conversation must alternate between user and assistant roles."},
		{`{"messages":[{"role":"system","content":[{"text":"x"}]}]}`, "Value 'system' at 'messages.1.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"},
		{`{"messages":[{"role":"user","content":[]}]}`, "Value at 'messages.1.member.content' failed to satisfy constraint"},
		{`{"messages":[{"role":"user","content":"Hi"}]}`, "'messages.0.content' must be an array, got a string"},
		{`{"messages":[{"role":"user","content":[{"text":"Hi"}],"name":"x"}]}`, "unknown member 'messages.0.name'"},
		{`{"messages":[{"role":"user","content":[{"text":"Hi","image":{}}]}]}`, "'messages.0.content.0' must set exactly one of text, image, document, video, toolUse, toolResult, guardContent, cachePoint, reasoningContent, got text, image"},
		{`{"messages":[{"role":"user","content":[{}]}]}`, "'messages.0.content.0' must set exactly one of"},
		{`{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}`, "unknown member 'messages.0.content.0.type'"},
		{`{"messages":[{"role":"user","content":[{"text":7}]}]}`, "'messages.0.content.0.text' must be a string, got an integer"},
		{`{"messages":[{"role":"user","content":[{"text":"  "}]}]}`, "The text field in the ContentBlock object at messages.0.content.0 is blank."},
		{`{"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AAAA"}}}]}]}`, "at 'messages.1.member.content.1.member.image.format' failed to satisfy constraint: Member must satisfy enum value set: [png, jpeg, gif, webp]"},
		{`{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"!!"}}}]}]}`, "'messages.0.content.0.image.source.bytes' must be non-empty base64 data"},
		{`{"messages":[{"role":"user","content":[{"image":{"format":"png"}}]}]}`, "Value null at 'messages.1.member.content.1.member.image.source' failed to satisfy constraint: Member must not be null"},
		{`{"messages":[` + user + `],"inferenceConfig":{"maxTokens":0}}`, "Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{`{"messages":[` + user + `],"inferenceConfig":{"maxTokens":"5"}}`, "'inferenceConfig.maxTokens' must be an integer, got a string"},
		{`{"messages":[` + user + `],"inferenceConfig":{"temperature":1.5}}`, "Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"},
		{`{"messages":[` + user + `],"inferenceConfig":{"max_tokens":5}}`, "unknown member 'inferenceConfig.max_tokens'"},
		{`{"messages":[` + user + `],"inferenceConfig":{"stopSequences":[""]}}`, "at 'inferenceConfig.stopSequences.1.member' failed to satisfy constraint"},
		{`{"messages":[` + user + `],"system":"Be brief"}`, "'system' must be an array, got a string"},
		{`{"messages":[` + user + `],"toolConfig":{"tools":[]}}`, "Value at 'toolConfig.tools' failed to satisfy constraint"},
		{`{"messages":[` + user + `],"toolConfig":{"tools":[{"toolSpec":{"name":"a b","inputSchema":{"json":{}}}}]}}`, "Value 'a b' at 'toolConfig.tools.1.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{`{"messages":[` + user + `],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":"x"}}}]}}`, "'toolConfig.tools.0.toolSpec.inputSchema.json' must be a JSON schema object, got a string"},
		{`{"messages":[` + user + `],"toolConfig":{"tools":[{"toolSpec":{"name":"f"}}]}}`, "Value null at 'toolConfig.tools.1.member.toolSpec.inputSchema' failed to satisfy constraint: Member must not be null"},
		{`{"messages":[` + user + `],` + tools + `,"toolChoice":{"auto":{}}}`, "unknown member 'toolChoice'"},
		{`{"messages":[` + user + `],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"auto":{},"any":{}}}}`, "'toolConfig.toolChoice' must set exactly one of auto, any, tool, got auto, any"},
		{`{"messages":[` + user + `],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"g"}}}}`, "The tool g named by toolConfig.toolChoice.tool is not in toolConfig.tools."},
		{`{"messages":[` + user + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{}}}]},` + user + `],` + tools + `}`, "Expected toolResult blocks at messages.2.content for the following Ids: t1"},
		{`{"messages":[` + user + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"ok"}]}}]}]}`, "The toolConfig field must be defined when using toolUse and toolResult content blocks."},
		{`{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t9","content":[{"text":"ok"}]}}]}],` + tools + `}`, "The toolResult block at messages.0.content.0 answers the toolUseId t9, which the previous assistant message did not use."},
		{`{"messages":[{"role":"user","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{}}}]}],` + tools + `}`, "The toolUse block at messages.0.content.0 is not allowed in a user message"},
		{`{"messages":[` + user + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather"}}]}],` + tools + `}`, "Value null at 'messages.2.member.content.1.member.toolUse.input' failed to satisfy constraint: Member must not be null"},
		{`{"messages":[` + user + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"xml":"<a/>"}]}}]}],` + tools + `}`, "unknown member 'messages.2.content.0.toolResult.content.0.xml'"},
		{`{"messages":[` + user + `,{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"get_weather","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[],"status":"done"}}]}],` + tools + `}`, "Value 'done' at 'messages.3.member.content.1.member.toolResult.status' failed to satisfy constraint: Member must satisfy enum value set: [success, error]"},
		{`{"messages":[` + user + `],"additionalModelRequestFields":[1]}`, "'additionalModelRequestFields' must be an object, got an array"},
		{`{"messages":[` + user + `],"additionalModelResponseFieldPaths":["stop_sequence"]}`, "Value 'stop_sequence' at 'additionalModelResponseFieldPaths.1.member' failed to satisfy constraint"},
		{`{"messages":[` + user + `],"requestMetadata":{"team":1}}`, "'requestMetadata.team' must be a string, got an integer"},
		{`{"messages":[` + user + `],"performanceConfig":{"latency":"fast"}}`, "Value 'fast' at 'performanceConfig.latency' failed to satisfy constraint"},
		{`{"messages":[`, "the body is not valid JSON"},
	} {
		msg := checkBedrockError(t, converse(t, base, ptr(testSigner()), haikuID, false, tc.body), 400, "ValidationException")
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.body, msg, tc.want)
		}
	}
	// What is accepted: the optional members, a toolResult with JSON.
	mustConverse(t, base, haikuID, `{"messages":[`+user+`,{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"hmm","signature":"sig"}}},{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]},`+
		`{"role":"user","content":[{"toolResult":{"toolUseId":"tooluse_1","content":[{"json":{"temp":21}}],"status":"success"}},{"cachePoint":{"type":"default"}}]}],`+tools+
		`,"additionalModelRequestFields":{"top_k":5},"additionalModelResponseFieldPaths":["/stop_sequence"],"requestMetadata":{"team":"a"},"performanceConfig":{"latency":"standard"}}`)

	msg := checkBedrockError(t, converse(t, base, ptr(testSigner()), "anthropic.claude-v2", false, converseBody(user)), 400, "ValidationException")
	if msg != "The provided model identifier is invalid." {
		t.Errorf("unknown model: %q", msg)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/model/"+haikuID+"/invoke-with-response-stream", strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkBedrockError(t, streamAnswer{status: resp.StatusCode, header: resp.Header, body: b}, 404, "UnknownOperationException")
	if st := getStats(t, base, testAKID); st.BadRequests != 45 || st.OK != 1 {
		t.Errorf("stats: %+v", st)
	}
}

// eventMessage is one decoded event-stream message.
type eventMessage struct {
	headers map[string]string
	payload []byte
}

// decodeEventStream splits an application/vnd.amazon.eventstream body into
// its messages, checking both CRCs of each and the lengths.
func decodeEventStream(t *testing.T, body []byte) []eventMessage {
	t.Helper()
	var out []eventMessage
	for len(body) > 0 {
		if len(body) < 16 {
			t.Fatalf("truncated message: %d bytes left", len(body))
		}
		total := int(binary.BigEndian.Uint32(body[0:4]))
		hlen := int(binary.BigEndian.Uint32(body[4:8]))
		if crc32.ChecksumIEEE(body[:8]) != binary.BigEndian.Uint32(body[8:12]) {
			t.Fatalf("prelude CRC mismatch")
		}
		if total < 16+hlen || total > len(body) {
			t.Fatalf("lengths %d/%d with %d bytes", total, hlen, len(body))
		}
		msg := body[:total]
		if crc32.ChecksumIEEE(msg[:total-4]) != binary.BigEndian.Uint32(msg[total-4:]) {
			t.Fatalf("message CRC mismatch")
		}
		m := eventMessage{headers: map[string]string{}, payload: msg[12+hlen : total-4]}
		for h := msg[12 : 12+hlen]; len(h) > 0; {
			n := int(h[0])
			name := string(h[1 : 1+n])
			if h[1+n] != 7 {
				t.Fatalf("header %s has type %d", name, h[1+n])
			}
			vlen := int(binary.BigEndian.Uint16(h[2+n : 4+n]))
			m.headers[name] = string(h[4+n : 4+n+vlen])
			h = h[4+n+vlen:]
		}
		out = append(out, m)
		body = body[total:]
	}
	return out
}

// streamEvents decodes a ConverseStream answer into event types and
// payloads, checking the headers of each event.
func streamEvents(t *testing.T, a streamAnswer) ([]string, []map[string]any) {
	t.Helper()
	if a.status != 200 || a.header.Get("Content-Type") != "application/vnd.amazon.eventstream" || a.header.Get("X-Amzn-Requestid") == "" {
		t.Fatalf("%d %v %q", a.status, a.header, a.body)
	}
	var types []string
	var payloads []map[string]any
	for _, m := range decodeEventStream(t, a.body) {
		typ := m.headers[":event-type"]
		if m.headers[":message-type"] == "exception" {
			typ = "!" + m.headers[":exception-type"]
		} else if m.headers[":message-type"] != "event" || len(m.headers) != 3 {
			t.Errorf("headers %v", m.headers)
		}
		if m.headers[":content-type"] != "application/json" {
			t.Errorf("headers %v", m.headers)
		}
		types = append(types, typ)
		payloads = append(payloads, decode(t, string(m.payload)))
	}
	return types, payloads
}

func TestBedrockConverseStream(t *testing.T) {
	base := startEmulator(t, "--stream-delay-ms", "1")
	body := `{"messages":[` + userText("Hello there") + `],"inferenceConfig":{"maxTokens":40}}`
	types, payloads := streamEvents(t, converse(t, base, ptr(testSigner()), haikuID, true, body))
	n := len(types)
	if n < 6 || types[0] != "messageStart" || types[n-3] != "contentBlockStop" || types[n-2] != "messageStop" || types[n-1] != "metadata" {
		t.Fatalf("events %v", types)
	}
	if payloads[0]["role"] != "assistant" || len(payloads[0]) != 1 {
		t.Errorf("messageStart %v", payloads[0])
	}
	var text strings.Builder
	var deltas []string
	for i, typ := range types[1 : n-3] {
		p := payloads[1+i]
		d, _ := p["delta"].(map[string]any)
		s, _ := d["text"].(string)
		if typ != "contentBlockDelta" || p["contentBlockIndex"] != float64(0) || len(d) != 1 || s == "" {
			t.Fatalf("event %d: %s %v", i+1, typ, p)
		}
		text.WriteString(s)
		deltas = append(deltas, s)
	}
	checkDeltaSizes(t, deltas)
	m := mustConverse(t, base, haikuID, body)
	content := m["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)
	if text.String() != content[0].(map[string]any)["text"] {
		t.Errorf("streamed %q", text.String())
	}
	if payloads[n-3]["contentBlockIndex"] != float64(0) || payloads[n-2]["stopReason"] != m["stopReason"] {
		t.Errorf("ends: %v %v", payloads[n-3], payloads[n-2])
	}
	meta := payloads[n-1]
	if fmt.Sprint(meta["usage"]) != fmt.Sprint(m["usage"]) || meta["metrics"].(map[string]any)["latencyMs"] == nil {
		t.Errorf("metadata %v, usage %v", meta, m["usage"])
	}
	if st := getStats(t, base, testAKID); st.OK != 2 || st.CompletionTokens != 2*min(40, refTarget(haikuID, "Hello there")) {
		t.Errorf("stats: %+v", st)
	}
}

func TestBedrockTools(t *testing.T) {
	base := startEmulator(t)
	weather := `{"toolSpec":{"name":"get_weather","description":"Weather","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string","minLength":2}},"required":["city"]}}}}`
	clock := `{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object","properties":{}}}}}`
	tools := `"toolConfig":{"tools":[` + weather + `,` + clock + `]}`
	body := `{"messages":[` + userText("What is the weather? Use get_weather.") + `],` + tools + `}`
	m := mustConverse(t, base, haikuID, body)
	content := m["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)
	use, _ := content[0].(map[string]any)["toolUse"].(map[string]any)
	id, _ := use["toolUseId"].(string)
	if len(content) != 1 || m["stopReason"] != "tool_use" || use["name"] != "get_weather" ||
		fmt.Sprint(use["input"]) != "map[city:aa]" || !strings.HasPrefix(id, "tooluse_") || len(id) != 30 {
		t.Fatalf("tool use: %v", m)
	}
	wantTokens := tokensPerPrompt + tokensPerMessage + textTokens("What is the weather? Use get_weather.") +
		textTokens(string(compactJSON([]byte(weather)))) + textTokens(string(compactJSON([]byte(clock))))
	if u := m["usage"].(map[string]any); u["inputTokens"] != float64(wantTokens) || u["outputTokens"] != float64(textTokens(`{"city":"aa"}`)) {
		t.Errorf("usage %v, want input %d", u, wantTokens)
	}
	// The same request gets the same id.
	if again := mustConverse(t, base, haikuID, body); fmt.Sprint(again["output"]) != fmt.Sprint(m["output"]) {
		t.Error("tool use ids differ between identical requests")
	}

	// toolChoice: any calls the first tool, tool calls the named one.
	for choice, want := range map[string]string{`{"any":{}}`: "get_weather", `{"tool":{"name":"get_time"}}`: "get_time", `{"auto":{}}`: ""} {
		b := `{"messages":[` + userText("Hello") + `],"toolConfig":{"tools":[` + weather + `,` + clock + `],"toolChoice":` + choice + `}}`
		c := mustConverse(t, base, haikuID, b)["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)[0].(map[string]any)
		got := ""
		if u, ok := c["toolUse"].(map[string]any); ok {
			got, _ = u["name"].(string)
		}
		if got != want {
			t.Errorf("toolChoice %s: %v", choice, c)
		}
	}

	// The conversation goes on with the tool's result.
	follow := `{"messages":[` + userText("Use get_weather.") + `,{"role":"assistant","content":[{"text":"Calling."},{"toolUse":{"toolUseId":"` + id +
		`","name":"get_weather","input":{"city":"aa"}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"` + id +
		`","content":[{"text":"sunny, "},{"json":{"temp":21}}]}}]}],` + tools + `}`
	m = mustConverse(t, base, haikuID, follow)
	text := m["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)[0].(map[string]any)["text"]
	if text != `Tool results: sunny, {"temp":21}` || m["stopReason"] != "end_turn" {
		t.Errorf("after the result: %v", m)
	}

	// Streamed: contentBlockStart names the tool, the deltas carry the
	// input JSON in pieces.
	types, payloads := streamEvents(t, converse(t, base, ptr(testSigner()), haikuID, true, body))
	if types[1] != "contentBlockStart" || types[len(types)-2] != "messageStop" || payloads[len(types)-2]["stopReason"] != "tool_use" {
		t.Fatalf("events %v", types)
	}
	start := payloads[1]["start"].(map[string]any)["toolUse"].(map[string]any)
	if start["toolUseId"] != id || start["name"] != "get_weather" || payloads[1]["contentBlockIndex"] != float64(0) {
		t.Errorf("start %v", payloads[1])
	}
	var input strings.Builder
	for i, typ := range types[2 : len(types)-3] {
		d := payloads[2+i]["delta"].(map[string]any)["toolUse"].(map[string]any)
		if typ != "contentBlockDelta" || len(d["input"].(string)) > 8 {
			t.Fatalf("event %s %v", typ, payloads[2+i])
		}
		input.WriteString(d["input"].(string))
	}
	if input.String() != `{"city":"aa"}` {
		t.Errorf("streamed input %q", input.String())
	}

	// Two tools named: two blocks, indices 0 and 1. maxTokens cuts the
	// input short: the answer stops at max_tokens, the cut input is {}
	// (streamed, the pieces sent before the cut).
	two := `{"messages":[` + userText("get_weather and get_time please") + `],` + tools + `}`
	types, payloads = streamEvents(t, converse(t, base, ptr(testSigner()), haikuID, true, two))
	var starts []string
	for i, typ := range types {
		if typ == "contentBlockStart" {
			starts = append(starts, fmt.Sprint(payloads[i]["contentBlockIndex"]))
		}
	}
	if strings.Join(starts, ",") != "0,1" {
		t.Errorf("blocks %v", starts)
	}
	capped := `{"messages":[` + userText("get_weather and get_time please") + `],` + tools + `,"inferenceConfig":{"maxTokens":2}}`
	m = mustConverse(t, base, haikuID, capped)
	content = m["output"].(map[string]any)["message"].(map[string]any)["content"].([]any)
	if m["stopReason"] != "max_tokens" || len(content) != 1 || fmt.Sprint(content[0].(map[string]any)["toolUse"].(map[string]any)["input"]) != "map[]" ||
		m["usage"].(map[string]any)["outputTokens"] != float64(2) {
		t.Errorf("capped: %v", m)
	}
	types, payloads = streamEvents(t, converse(t, base, ptr(testSigner()), haikuID, true, capped))
	if len(types) != 6 || payloads[2]["delta"].(map[string]any)["toolUse"].(map[string]any)["input"] != `{"city":` ||
		payloads[4]["stopReason"] != "max_tokens" {
		t.Errorf("capped stream: %v %v", types, payloads)
	}
}

func TestBedrockLimitsAndFaults(t *testing.T) {
	body := converseBody(userText("Hello there"))
	base := startEmulator(t, "--rpm", "1")
	mustConverse(t, base, haikuID, body)
	if msg := checkBedrockError(t, converse(t, base, ptr(testSigner()), haikuID, false, body), 429, "ThrottlingException"); msg != "Too many requests, please wait before trying again." {
		t.Errorf("rpm: %q", msg)
	}
	base = startEmulator(t, "--tpm", "20")
	mustConverse(t, base, haikuID, converseBody(userText("Hi")))
	if msg := checkBedrockError(t, converse(t, base, ptr(testSigner()), haikuID, false, body), 429, "ThrottlingException"); msg != "Too many tokens, please wait before trying again." {
		t.Errorf("tpm: %q", msg)
	}
	if st := getStats(t, base, testAKID); st.RateLimited != 1 || st.OK != 1 {
		t.Errorf("stats %+v", st)
	}

	base = startEmulator(t, "--rate-limit-first", "1")
	checkBedrockError(t, converse(t, base, ptr(testSigner()), haikuID, false, body), 429, "ThrottlingException")
	mustConverse(t, base, haikuID, body)
	// Arrivals are counted per endpoint.
	checkBedrockError(t, converse(t, base, ptr(testSigner()), haikuID, true, body), 429, "ThrottlingException")

	base = startEmulator(t, "--error-rate", "1", "--seed", "9")
	seen := map[int]bool{}
	for i := 0; i < 12; i++ {
		a := converse(t, base, ptr(testSigner()), haikuID, false, converseBody(userText(fmt.Sprint("body ", i))))
		seen[a.status] = true
		switch a.status {
		case 500:
			checkBedrockError(t, a, 500, "InternalServerException")
		case 503:
			checkBedrockError(t, a, 503, "ServiceUnavailableException")
		}
	}
	if !seen[500] || !seen[503] || len(seen) != 2 {
		t.Errorf("statuses %v", seen)
	}

	// Mid-stream errors: an exception message after half of the deltas.
	base = startEmulator(t, "--midstream-error-rate", "1")
	kinds := map[string]bool{}
	for i := 0; i < 8; i++ {
		text := fmt.Sprint("Hello ", i)
		types, payloads := streamEvents(t, converse(t, base, ptr(testSigner()), haikuID, true, converseBody(userText(text))))
		last := types[len(types)-1]
		deltas := len(streamDeltas(replyText(refTarget(haikuID, text))))
		if !strings.HasPrefix(last, "!") || len(types) != 2+deltas/2 || payloads[len(types)-1]["message"] == "" {
			t.Fatalf("events %v", types)
		}
		kinds[last] = true
	}
	if !kinds["!throttlingException"] || !kinds["!internalServerException"] || len(kinds) != 2 {
		t.Errorf("exceptions %v", kinds)
	}
	if st := getStats(t, base, testAKID); st.RateLimited+st.ServerErrors != 8 || st.OK != 0 {
		t.Errorf("stats %+v", st)
	}

	// Resets: before the answer or within the stream, the connection drops.
	base = startEmulator(t, "--reset-rate", "1")
	for i := 0; i < 6; i++ {
		req, _ := http.NewRequest(http.MethodPost, base+"/model/m/converse-stream", strings.NewReader(converseBody(userText(fmt.Sprint(i)))))
		testSigner().sign(req, converseBody(userText(fmt.Sprint(i))))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Errorf("request %d: no reset", i)
		}
	}
	if st := getStats(t, base, testAKID); st.Resets != 6 {
		t.Errorf("stats %+v", st)
	}
}
