package llmsvc

import (
	"encoding/json"
	"errors"
)

// Tool is a function the model may call (docs/schema.md, "Tools"). The request document
// carries it in OpenAI Chat Completions' shape; the core maps it to each provider's.
type Tool struct {
	// Name is 1 to 64 letters, digits, _ or -, unique among the request's tools.
	Name string
	// Description tells the model what the tool does.
	Description string
	// Parameters is the JSON Schema of the arguments: anything encoding/json writes as a
	// JSON object (a json.RawMessage, a map[string]any, a struct). nil sends none.
	Parameters any
	// Strict asks for arguments that match Parameters exactly: the core checks them like
	// structured output and asks again when they do not.
	Strict bool
	// CacheControl sets an Anthropic prompt-cache breakpoint after this tool.
	CacheControl *CacheControl
}

// CacheControl is an Anthropic prompt-cache breakpoint on a text part or a tool; the
// other providers cache on their own and leave it out.
type CacheControl struct {
	// Type is "ephemeral".
	Type string `json:"type"`
	// TTL is "5m" or "1h"; empty keeps the provider's default (5m).
	TTL string `json:"ttl,omitempty"`
}

// wireTool is a tool as the request document carries it.
type wireTool struct {
	Type         string        `json:"type"`
	Function     wireFunction  `json:"function"`
	CacheControl *CacheControl `json:"cache_control,omitempty"`
}

type wireFunction struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Parameters  any    `json:"parameters,omitempty"`
	Strict      bool   `json:"strict,omitempty"`
}

func (t *Tool) wire() wireTool {
	return wireTool{Type: "function", CacheControl: t.CacheControl, Function: wireFunction{
		Name: t.Name, Description: t.Description, Parameters: t.Parameters, Strict: t.Strict}}
}

// MarshalJSON writes the tool as {"type": "function", "function": {...}}.
func (t Tool) MarshalJSON() ([]byte, error) { return json.Marshal(t.wire()) }

// UnmarshalJSON reads a tool in that shape; Parameters becomes a json.RawMessage.
func (t *Tool) UnmarshalJSON(b []byte) error {
	var doc struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
			Strict      bool            `json:"strict"`
		} `json:"function"`
		CacheControl *CacheControl `json:"cache_control"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if doc.Type != "function" {
		return errors.New(`llmsvc: tool: expected "type": "function"`)
	}
	fn := doc.Function
	*t = Tool{Name: fn.Name, Description: fn.Description, Strict: fn.Strict,
		CacheControl: doc.CacheControl}
	if fn.Parameters != nil {
		t.Parameters = fn.Parameters
	}
	return nil
}

// ToolChoiceMode is a ToolChoice without a named tool.
type ToolChoiceMode string

// The tool choice modes.
const (
	ToolChoiceAuto     ToolChoiceMode = "auto"     // the model decides (the default with tools)
	ToolChoiceNone     ToolChoiceMode = "none"     // no tool call
	ToolChoiceRequired ToolChoiceMode = "required" // at least one tool call
)

// ToolChoice says whether the model must call a tool, and which (request "tool_choice"):
// &ToolChoice{Mode: ToolChoiceRequired}, or &ToolChoice{Function: "get_weather"} for one
// named tool.
type ToolChoice struct {
	// Mode applies when Function is empty.
	Mode ToolChoiceMode
	// Function names the one tool the model must call; it must be among the request's
	// tools.
	Function string
}

// MarshalJSON writes the mode as a string, or {"type": "function", "function": {"name": F}}.
func (c ToolChoice) MarshalJSON() ([]byte, error) {
	if c.Function == "" {
		return json.Marshal(string(c.Mode))
	}
	var doc struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	doc.Type = "function"
	doc.Function.Name = c.Function
	return json.Marshal(doc)
}

// UnmarshalJSON reads either form.
func (c *ToolChoice) UnmarshalJSON(b []byte) error {
	*c = ToolChoice{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.Mode)
	}
	var doc struct {
		Name     string `json:"name"` // the Responses API's flat form
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	c.Function = doc.Function.Name
	if c.Function == "" {
		c.Function = doc.Name
	}
	return nil
}

// ToolCall is a call of a tool that the model asked for: in a result (Response.ToolCalls)
// and in the assistant message that carries it back into the conversation
// (Message.ToolCalls; Response.Message builds it). A message sends ID, Name and Arguments
// only.
type ToolCall struct {
	// ID is the provider's id of the call; the tool message answering it carries it as
	// ToolCallID.
	ID string `json:"id"`
	// Name is the tool's name.
	Name string `json:"name"`
	// Arguments is the arguments' JSON text as the model wrote it.
	Arguments string `json:"arguments"`
	// ArgumentsJSON is Arguments parsed, when they are a JSON object; nil otherwise.
	ArgumentsJSON json.RawMessage `json:"arguments_json,omitempty"`
	// ArgumentsError says why Arguments are not a JSON object, or how they miss the
	// schema of a tool that is not strict; empty when they are fine.
	ArgumentsError string `json:"arguments_error,omitempty"`
	// UnknownTool is true when the model named a tool the request did not offer.
	UnknownTool bool `json:"unknown_tool,omitempty"`
}

// DecodeArguments unmarshals the call's arguments (ArgumentsJSON, else Arguments) into v.
func (c *ToolCall) DecodeArguments(v any) error {
	doc := c.ArgumentsJSON
	if doc == nil {
		doc = json.RawMessage(c.Arguments)
	}
	return json.Unmarshal(doc, v)
}

// wireToolCall is a tool call as an assistant message of the request carries it.
type wireToolCall struct {
	ID       string           `json:"id"`
	Type     string           `json:"type"`
	Function wireFunctionCall `json:"function"`
}

type wireFunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ResponseFormat is a request's response_format: Type "text", "json_object" (JSON mode:
// the answer is a JSON object, parsed into Response.JSON) or "json_schema" with
// JSONSchema (the same as Request.JSONSchema).
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// Thinking asks for extended thinking (Anthropic; Ollama's think): Type "enabled" with
// BudgetTokens (at least 1024 and below Request.MaxOutputTokens), or "disabled". The
// thinking comes back as Response.Thinking, apart from the answer.
type Thinking struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

// ToolMessage returns a tool message: the result of the tool call with id callID.
func ToolMessage(callID, content string) Message {
	return Message{Role: RoleTool, ToolCallID: callID, Content: content}
}

// ThinkingPart returns an assistant content part carrying a provider's thinking and its
// signature as they came (Response.Thinking, Response.ThinkingSignature), sent back in a
// tool round; Anthropic requires it, the others leave it out.
func ThinkingPart(thinking, signature string) ContentPart {
	return ContentPart{Type: "thinking", Thinking: thinking, Signature: signature}
}

// Message returns the reply as the assistant message that continues the conversation:
// its text, its tool calls, and its signed thinking (which Anthropic wants back in a tool
// round). Append it, then a ToolMessage per call, for the next round.
func (r *Response) Message() Message {
	m := Message{Role: RoleAssistant, Content: r.Text, ToolCalls: r.ToolCalls}
	if r.ThinkingSignature != "" {
		m.Parts = []ContentPart{ThinkingPart(r.Thinking, r.ThinkingSignature)}
		if r.Text != "" {
			m.Parts = append(m.Parts, TextPart(r.Text))
		}
		m.Content = ""
	}
	return m
}
