package otelllmsvc

import (
	"encoding/json"
	"strings"

	llmsvc "llmsvc/bindings/go"
)

// The conversation and the reply in the GenAI conventions' "parts" shape
// (gen_ai.input.messages, gen_ai.output.messages): only built when content capture is on.

type message struct {
	Role         string `json:"role"`
	Parts        []any  `json:"parts"`
	Name         string `json:"name,omitempty"`
	FinishReason string `json:"finish_reason,omitempty"`
}

type textPart struct {
	Type    string `json:"type"` // "text" or "reasoning"
	Content string `json:"content"`
}

type toolCallPart struct {
	Type      string `json:"type"` // "tool_call"
	ID        string `json:"id,omitempty"`
	Name      string `json:"name"`
	Arguments any    `json:"arguments,omitempty"`
}

type toolResponsePart struct {
	Type     string `json:"type"` // "tool_call_response"
	ID       string `json:"id,omitempty"`
	Response any    `json:"response"`
}

type uriPart struct {
	Type     string `json:"type"` // "uri"
	Modality string `json:"modality"`
	URI      string `json:"uri"`
}

type blobPart struct {
	Type     string `json:"type"` // "blob"
	Modality string `json:"modality"`
	MimeType string `json:"mime_type,omitempty"`
	Content  string `json:"content"` // base64, as the request carries it
}

func text(s string) textPart { return textPart{Type: "text", Content: s} }

// arguments is a tool call's arguments: the JSON value the model wrote, or its text when
// it is not JSON.
func arguments(s string) any {
	if s == "" {
		return nil
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	return s
}

// inputMessages is the request's conversation: its instructions as a system message,
// then its messages (or its prompt as one user message).
func inputMessages(req *llmsvc.Request) (string, bool) {
	msgs := make([]message, 0, len(req.Messages)+2)
	if req.Instructions != "" {
		msgs = append(msgs, message{Role: "system", Parts: []any{text(req.Instructions)}})
	}
	for i := range req.Messages {
		msgs = append(msgs, inputMessage(&req.Messages[i]))
	}
	if req.Prompt != "" {
		msgs = append(msgs, message{Role: "user", Parts: []any{text(req.Prompt)}})
	}
	return marshal(msgs)
}

func inputMessage(m *llmsvc.Message) message {
	out := message{Role: string(m.Role), Name: m.Name, Parts: []any{}}
	if m.Role == llmsvc.RoleTool {
		resp := m.Content
		if m.Parts != nil {
			var b strings.Builder
			for _, p := range m.Parts {
				b.WriteString(p.Text)
			}
			resp = b.String()
		}
		out.Parts = append(out.Parts, toolResponsePart{Type: "tool_call_response", ID: m.ToolCallID, Response: resp})
		return out
	}
	if m.Parts == nil {
		if m.Content != "" || len(m.ToolCalls) == 0 {
			out.Parts = append(out.Parts, text(m.Content))
		}
	}
	for _, p := range m.Parts {
		switch p.Type {
		case "text":
			out.Parts = append(out.Parts, text(p.Text))
		case "thinking":
			out.Parts = append(out.Parts, textPart{Type: "reasoning", Content: p.Thinking})
		case "image_url":
			if p.ImageURL != nil {
				out.Parts = append(out.Parts, uriPart{Type: "uri", Modality: "image", URI: p.ImageURL.URL})
			}
		case "image":
			out.Parts = append(out.Parts, blobPart{Type: "blob", Modality: "image", MimeType: p.MediaType, Content: p.Data})
		case "audio":
			out.Parts = append(out.Parts, blobPart{Type: "blob", Modality: "audio", MimeType: "audio/" + p.Format, Content: p.Data})
		}
	}
	for _, c := range m.ToolCalls {
		out.Parts = append(out.Parts, toolCallPart{Type: "tool_call", ID: c.ID, Name: c.Name, Arguments: arguments(c.Arguments)})
	}
	return out
}

// outputMessages is the reply: one assistant message per choice, with its text, its
// reasoning and its tool calls.
func outputMessages(r *llmsvc.Response) (string, bool) {
	if len(r.Choices) > 0 {
		msgs := make([]message, len(r.Choices))
		for i, c := range r.Choices {
			msgs[i] = outputMessage("", c.Text, c.ToolCalls, c.FinishReason)
		}
		return marshal(msgs)
	}
	return marshal([]message{outputMessage(r.Thinking, r.Text, r.ToolCalls, r.FinishReason)})
}

func outputMessage(thinking, txt string, calls []llmsvc.ToolCall, finish string) message {
	m := message{Role: "assistant", Parts: []any{}, FinishReason: finish}
	if thinking != "" {
		m.Parts = append(m.Parts, textPart{Type: "reasoning", Content: thinking})
	}
	if txt != "" || len(calls) == 0 {
		m.Parts = append(m.Parts, text(txt))
	}
	for _, c := range calls {
		m.Parts = append(m.Parts, toolCallPart{Type: "tool_call", ID: c.ID, Name: c.Name, Arguments: arguments(c.Arguments)})
	}
	return m
}

func marshal(msgs []message) (string, bool) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msgs); err != nil {
		return "", false
	}
	return strings.TrimSuffix(b.String(), "\n"), true
}
