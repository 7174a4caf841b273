package llmsvc

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
)

// Request is one request document (docs/schema.md, "Request"). The core validates it at
// submission and rejects a wrong field with a *StatusError naming it.
type Request struct {
	// Model is required unless the client has a default model.
	Model string `json:"model,omitempty"`
	// Messages is the conversation. Use either Messages or Prompt.
	Messages []Message `json:"messages,omitempty"`
	// Prompt is shorthand for one user message.
	Prompt string `json:"prompt,omitempty"`
	// Instructions is sent as a leading system message.
	Instructions string `json:"instructions,omitempty"`
	// MaxOutputTokens bounds the output tokens and is what the TPM gate reserves;
	// 0 means not given.
	MaxOutputTokens int `json:"max_output_tokens,omitempty"`
	// Temperature (0..2); nil means not given.
	Temperature *float64 `json:"temperature,omitempty"`
	// TopP (0..1); nil means not given.
	TopP *float64 `json:"top_p,omitempty"`
	// Stop holds up to 4 stop sequences.
	Stop []string `json:"stop,omitempty"`
	// Seed is passed to the provider; nil means not given.
	Seed *int64 `json:"seed,omitempty"`
	// User is the end-user id passed to the provider.
	User string `json:"user,omitempty"`
	// Operation groups usage in the ledger ("default" when empty).
	Operation string `json:"operation,omitempty"`
	// Priority orders admission: classes first, FIFO within a class.
	Priority Priority `json:"priority,omitempty"`
	// TimeoutMS is the overall deadline from submission (queueing, attempts and
	// backoff); 0 means none. A context deadline sets it to the time remaining when
	// that is shorter.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// Metadata is echoed in the result, never sent to the provider.
	Metadata map[string]any `json:"metadata,omitempty"`
	// TraceID is echoed in the result (by default the trace id of Traceparent).
	TraceID string `json:"trace_id,omitempty"`
	// Traceparent and Tracestate are W3C Trace Context, sent to the provider as the
	// traceparent and tracestate headers of every attempt; Traceparent must be
	// "VERSION-TRACEID-PARENTID-FLAGS" in lowercase hex. The OpenTelemetry adapter
	// (llmsvc/bindings/go/otelllmsvc) sets them to the request's span when they are empty.
	Traceparent string `json:"traceparent,omitempty"`
	Tracestate  string `json:"tracestate,omitempty"`
	// JSONSchema asks for structured output: the reply must be a JSON document matching
	// the schema; the core validates it (Response.JSON) and asks again when it does not.
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
	// ReasoningEffort is "minimal", "low", "medium" or "high" (OpenAI reasoning models).
	ReasoningEffort string `json:"reasoning_effort,omitempty"`
	// PreviousResponseID continues a stored response ("openai_responses" only).
	PreviousResponseID string `json:"previous_response_id,omitempty"`
	// Input makes the request an embeddings request (docs/schema.md, "Embeddings"),
	// without Messages or Prompt: a string, a []string, a []int of token ids or a [][]int,
	// one vector per input, in Response.Embeddings.
	Input any `json:"input,omitempty"`
	// Dimensions asks an embeddings model that offers it for shorter vectors; 0 means not
	// given.
	Dimensions int `json:"dimensions,omitempty"`

	// Tools are the functions the model may call (see Tool); its calls come back as
	// Response.ToolCalls.
	Tools []Tool `json:"tools,omitempty"`
	// ToolChoice says whether the model must call a tool, and which; nil leaves it to
	// the provider ("auto" with tools).
	ToolChoice *ToolChoice `json:"tool_choice,omitempty"`
	// ParallelToolCalls false asks for at most one tool call per reply; nil means not
	// given.
	ParallelToolCalls *bool `json:"parallel_tool_calls,omitempty"`
	// FrequencyPenalty and PresencePenalty (-2..2; OpenAI Chat Completions, Ollama); nil
	// means not given.
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	// LogitBias maps token ids to biases (-100..100; OpenAI Chat Completions).
	LogitBias map[int]float64 `json:"logit_bias,omitempty"`
	// N asks for N choices (1..128; OpenAI Chat Completions, not streamed): they come
	// back as Response.Choices. 0 means not given.
	N int `json:"n,omitempty"`
	// Logprobs asks for the tokens' log probabilities (Response.Logprobs), with
	// TopLogprobs (0..20) alternatives each (OpenAI Chat Completions and Responses).
	Logprobs    bool `json:"logprobs,omitempty"`
	TopLogprobs int  `json:"top_logprobs,omitempty"`
	// ResponseFormat selects JSON mode ({Type: "json_object"}: the answer, a JSON
	// object, is parsed into Response.JSON; OpenAI, Ollama) or structured output.
	ResponseFormat *ResponseFormat `json:"response_format,omitempty"`
	// ServiceTier is "auto", "default", "flex" or "priority" (OpenAI); the tier used is
	// Response.ServiceTier.
	ServiceTier string `json:"service_tier,omitempty"`
	// TopK (Anthropic, Ollama); 0 means not given.
	TopK int `json:"top_k,omitempty"`
	// StopSequences is Anthropic's name for Stop.
	StopSequences []string `json:"stop_sequences,omitempty"`
	// Thinking asks for extended thinking (Anthropic; Ollama's think).
	Thinking *Thinking `json:"thinking,omitempty"`
	// PromptCacheKey is OpenAI's prompt-cache routing key.
	PromptCacheKey string `json:"prompt_cache_key,omitempty"`
	// ExtraBody is merged into the provider's wire body as is (its members replace the
	// library's), for a provider field not modelled here. The core does not check it.
	ExtraBody map[string]any `json:"extra_body,omitempty"`
	// ExtraHeaders are more headers for this request's attempts; headers that carry or
	// replace the credentials (Authorization, x-api-key, ...) or frame the request are
	// refused at submission.
	ExtraHeaders map[string]string `json:"extra_headers,omitempty"`
}

// JSONSchema is a request's structured-output schema.
type JSONSchema struct {
	// Name names the schema for the provider (1 to 64 letters, digits, _ or -;
	// "response" when empty).
	Name string `json:"name,omitempty"`
	// Schema is the JSON Schema document.
	Schema json.RawMessage `json:"schema"`
	// Strict asks the provider for strict adherence where it offers it.
	Strict bool `json:"strict,omitempty"`
	// Description describes the schema to the model.
	Description string `json:"description,omitempty"`
}

// Priority is a request's admission class.
type Priority string

// The admission classes.
const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Role is the author of a message.
type Role string

// The roles a request may carry.
const (
	RoleSystem    Role = "system"
	RoleDeveloper Role = "developer"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool" // the result of a tool call (ToolMessage)
)

// Message is one message of a conversation. Its content is either Content (a string) or,
// when Parts is not nil, the parts: text (any role), images and audio (user messages),
// thinking (assistant messages).
//
// An assistant message may carry the tool calls of its reply (ToolCalls; its content may
// then be empty and is sent as null), and a tool message (RoleTool, ToolMessage) answers
// one of them by ToolCallID. Response.Message builds the assistant message of a reply.
type Message struct {
	Role       Role          // who wrote it
	Content    string        // the text, when Parts is nil
	Parts      []ContentPart // the content parts
	Name       string        // the optional author name
	ToolCalls  []ToolCall    // an assistant message's tool calls (ID, Name and Arguments are sent)
	ToolCallID string        // a tool message's answered call
}

// ContentPart is one part of a message's content: "text", "image_url" (an image by
// URL), "image" (image bytes), "audio" (audio bytes) or "thinking" (a provider's thinking
// of an earlier assistant turn). TextPart, ImagePart, ImageDataPart, AudioPart and
// ThinkingPart build them.
type ContentPart struct {
	Type      string    `json:"type"`                 // "text", "image_url", "image", "audio" or "thinking"
	Text      string    `json:"text,omitempty"`       // the text of a "text" part
	ImageURL  *ImageURL `json:"image_url,omitempty"`  // the image of an "image_url" part
	Data      string    `json:"data,omitempty"`       // base64 bytes of an "image" or "audio" part
	MediaType string    `json:"media_type,omitempty"` // "image/png", "image/jpeg", ... of an "image" part
	Detail    string    `json:"detail,omitempty"`     // "auto", "low" or "high" for an "image" part
	Format    string    `json:"format,omitempty"`     // "wav" or "mp3" for an "audio" part
	Thinking  string    `json:"thinking,omitempty"`   // the thinking of a "thinking" part
	Signature string    `json:"signature,omitempty"`  // its signature, as the provider sent it
	// CacheControl sets an Anthropic prompt-cache breakpoint after a "text" part (also
	// in system messages).
	CacheControl *CacheControl `json:"cache_control,omitempty"`
}

// ImageURL is an image given by URL ("https://..." or a "data:" URL). Detail is "auto",
// "low", "high" or empty.
type ImageURL struct {
	URL    string `json:"url"`              // https:// or data: URL
	Detail string `json:"detail,omitempty"` // "auto", "low", "high" or empty
}

// SystemMessage returns a system message with text content.
func SystemMessage(text string) Message { return Message{Role: RoleSystem, Content: text} }

// UserMessage returns a user message with text content.
func UserMessage(text string) Message { return Message{Role: RoleUser, Content: text} }

// AssistantMessage returns an assistant message with text content.
func AssistantMessage(text string) Message { return Message{Role: RoleAssistant, Content: text} }

// TextPart returns a text content part.
func TextPart(text string) ContentPart { return ContentPart{Type: "text", Text: text} }

// ImagePart returns an image content part given by URL; detail may be empty.
func ImagePart(url, detail string) ContentPart {
	return ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: url, Detail: detail}}
}

// ImageDataPart returns an image content part carrying the image's bytes (base64) and
// media type; detail may be empty.
func ImageDataPart(mediaType, base64Data, detail string) ContentPart {
	return ContentPart{Type: "image", MediaType: mediaType, Data: base64Data, Detail: detail}
}

// AudioPart returns an audio content part carrying base64 bytes in format "wav" or "mp3".
func AudioPart(base64Data, format string) ContentPart {
	return ContentPart{Type: "audio", Data: base64Data, Format: format}
}

// wireMessage is a message as the request document carries it. Its content is a string
// or the parts, held in an interface that encoding/json writes directly (a Marshaler on
// each message would cost a nested encoding and a validation pass per message).
type wireMessage struct {
	Role       Role           `json:"role"`
	Content    any            `json:"content"`
	Name       string         `json:"name,omitempty"`
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

func (m *Message) wire() wireMessage {
	w := wireMessage{Role: m.Role, Content: m.Content, Name: m.Name, ToolCallID: m.ToolCallID}
	if m.Parts != nil {
		w.Content = m.Parts
	} else if m.Content == "" && len(m.ToolCalls) > 0 {
		w.Content = nil // a reply that only calls tools has no content
	}
	if len(m.ToolCalls) > 0 {
		w.ToolCalls = make([]wireToolCall, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			w.ToolCalls[i] = wireToolCall{ID: c.ID, Type: "function",
				Function: wireFunctionCall{Name: c.Name, Arguments: c.Arguments}}
		}
	}
	return w
}

// MarshalJSON writes the message document, with content as a string or an array of parts.
func (m Message) MarshalJSON() ([]byte, error) { return json.Marshal(m.wire()) }

// UnmarshalJSON reads a message document whose content is a string, an array of parts
// or null, with its tool calls or answered call.
func (m *Message) UnmarshalJSON(b []byte) error {
	var doc struct {
		Role       Role            `json:"role"`
		Content    json.RawMessage `json:"content"`
		Name       string          `json:"name"`
		ToolCalls  []wireToolCall  `json:"tool_calls"`
		ToolCallID string          `json:"tool_call_id"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	*m = Message{Role: doc.Role, Name: doc.Name, ToolCallID: doc.ToolCallID}
	if doc.ToolCalls != nil {
		m.ToolCalls = make([]ToolCall, len(doc.ToolCalls))
		for i, c := range doc.ToolCalls {
			m.ToolCalls[i] = ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments}
		}
	}
	switch {
	case len(doc.Content) == 0 || string(doc.Content) == "null":
	case doc.Content[0] == '"':
		return json.Unmarshal(doc.Content, &m.Content)
	case doc.Content[0] == '[':
		return json.Unmarshal(doc.Content, &m.Parts)
	default:
		return errors.New("llmsvc: message content: expected a string or an array of parts")
	}
	return nil
}

// requestDoc is the request document: the Request, with its messages and tools in wire
// form (a field of the outer struct hides the embedded one of the same name).
type requestDoc struct {
	Request
	Messages []wireMessage `json:"messages,omitempty"`
	Tools    []wireTool    `json:"tools,omitempty"`
}

// document is a pooled buffer that documents are encoded into, with its encoder and a
// request document to fill, so that encoding allocates little. The core copies a
// document during the call that receives it: the buffer is free again when it returns.
type document struct {
	bytes.Buffer
	enc *json.Encoder
	req requestDoc
}

var documents = sync.Pool{New: func() any {
	d := new(document)
	d.enc = json.NewEncoder(&d.Buffer)
	d.enc.SetEscapeHTML(false)
	return d
}}

// encodeDocument encodes v as a NUL-terminated JSON document into a pooled buffer, to be
// given back with releaseDocument after the C call.
func encodeDocument(v any) (*document, error) {
	return documents.Get().(*document).encode(v)
}

func (d *document) encode(v any) (*document, error) {
	d.Reset()
	if err := d.enc.Encode(v); err != nil {
		return nil, err // not pooled again: an Encoder keeps its first error
	}
	b := d.Bytes()
	b[len(b)-1] = 0 // in place of the newline Encode ends with
	return d, nil
}

func releaseDocument(d *document) {
	d.req.Request = Request{} // no reference to the caller's data stays in the pool
	clear(d.req.Messages)
	clear(d.req.Tools)
	if d.Cap() <= 64<<10 {
		documents.Put(d)
	}
}

// encodeRequest encodes a request document (see encodeDocument).
func encodeRequest(req *Request) (*document, error) {
	d := documents.Get().(*document)
	r := &d.req
	r.Request, r.Messages, r.Tools = *req, r.Messages[:0], r.Tools[:0]
	for i := range req.Messages {
		r.Messages = append(r.Messages, req.Messages[i].wire())
	}
	for i := range req.Tools {
		r.Tools = append(r.Tools, req.Tools[i].wire())
	}
	return d.encode(r)
}
