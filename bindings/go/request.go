package llmsvc

import (
	"encoding/json"
	"errors"
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
	// Temperature (0..2) and TopP (0..1); nil means not given.
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
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
	// TraceID is echoed in the result.
	TraceID string `json:"trace_id,omitempty"`
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
)

// Message is one message of a conversation. Its content is either Content (a string) or,
// when Parts is not nil, the parts (text and images; user messages only).
type Message struct {
	Role    Role
	Content string
	Parts   []ContentPart
	// Name is the optional author name.
	Name string
}

// ContentPart is one part of a message's content: {"type": "text", "text": ...} or
// {"type": "image_url", "image_url": {...}}. TextPart and ImagePart build them.
type ContentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *ImageURL `json:"image_url,omitempty"`
}

// ImageURL is an image given by URL ("https://..." or a "data:" URL). Detail is "auto",
// "low", "high" or empty.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// SystemMessage returns a system message with text content.
func SystemMessage(text string) Message { return Message{Role: RoleSystem, Content: text} }

// UserMessage returns a user message with text content.
func UserMessage(text string) Message { return Message{Role: RoleUser, Content: text} }

// AssistantMessage returns an assistant message with text content.
func AssistantMessage(text string) Message { return Message{Role: RoleAssistant, Content: text} }

// TextPart returns a text content part.
func TextPart(text string) ContentPart { return ContentPart{Type: "text", Text: text} }

// ImagePart returns an image content part; detail may be empty.
func ImagePart(url, detail string) ContentPart {
	return ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: url, Detail: detail}}
}

type messageDoc struct {
	Role    Role            `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name,omitempty"`
}

// MarshalJSON writes the message document, with content as a string or an array of parts.
func (m Message) MarshalJSON() ([]byte, error) {
	var content any = m.Content
	if m.Parts != nil {
		content = m.Parts
	}
	doc := struct {
		Role    Role   `json:"role"`
		Content any    `json:"content"`
		Name    string `json:"name,omitempty"`
	}{m.Role, content, m.Name}
	return json.Marshal(doc)
}

// UnmarshalJSON reads a message document whose content is a string, an array of parts
// or null.
func (m *Message) UnmarshalJSON(b []byte) error {
	var doc messageDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	*m = Message{Role: doc.Role, Name: doc.Name}
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
