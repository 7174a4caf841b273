package main

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Bedrock's InvokeModel for embedding models: POST /model/{modelId}/invoke
// with the model's own body, signed like Converse. Two families:
//
//   - Amazon Titan Text Embeddings (amazon.titan-embed-text-v1, -v2:0):
//     {"inputText", "dimensions"? (v2: 256, 512 or 1024), "normalize"?,
//     "embeddingTypes"?} → {"embedding": [...], "inputTextTokenCount": N}.
//     One text per call. v1 has 1536 dimensions and takes only inputText.
//   - Cohere Embed (cohere.embed-english-v3, -multilingual-v3): {"texts"
//     (1..96), "input_type" (search_document, search_query, classification,
//     clustering), "truncate"?, "embedding_types"?} → {"id", "embeddings":
//     [[...]...], "texts", "response_type": "embeddings_floats"}, 1024
//     dimensions; the token count is only in the answer's header.
//
// Every answer carries X-Amzn-Bedrock-Input-Token-Count, as Bedrock's
// InvokeModel does. Vectors are the same deterministic unit vectors as
// /v1/embeddings gives the same model and text.

type bedrockEmbed struct {
	titan        bool
	texts        []string
	dims         int
	promptTokens int64
}

var (
	titanFields  = []string{"inputText", "dimensions", "normalize", "embeddingTypes"}
	cohereFields = []string{"texts", "input_type", "truncate", "embedding_types"}
	cohereTypes  = []string{"search_document", "search_query", "classification", "clustering"}
)

// bedrockInvoke answers an InvokeModel call whose signature and key were
// checked.
func (e *emulator) bedrockInvoke(c *bedrockCall, body []byte) {
	req, be := parseBedrockEmbed(c.model, body)
	if be != nil {
		c.fail(be)
		return
	}
	c.promptTokens = req.promptTokens
	cfg := e.cfg
	if len(cfg.knownModels) > 0 && !cfg.knownModels[c.model] {
		c.fail(bedrockInvalid("The provided model identifier is invalid."))
		return
	}
	if !c.arrive(epBedrockInvoke) {
		return
	}
	// The charge is the actual usage: nothing to reconcile later. Every
	// refusal counts as one on tokens.
	refused := func(admission) *bedrockError { return errThrottled(msgThrottledTokens) }
	if _, ok := admitAndWait(&c.call, req.promptTokens, refused, c.fail); !ok {
		return
	}
	b := make([]byte, 0, 96+len(req.texts)*(2+12*req.dims))
	if req.titan {
		b = appendVector(append(b, `{"embedding":`...), textEmbedding(c.model, req.texts[0], req.dims))
		b = append(b, `,"inputTextTokenCount":`...)
		b = strconv.AppendInt(b, req.promptTokens, 10)
	} else {
		b = append(b, `{"id":"`...)
		b = append(b, c.requestID()...)
		b = append(b, `","embeddings":[`...)
		for i, t := range req.texts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendVector(b, textEmbedding(c.model, t, req.dims))
		}
		b = append(b, `],"texts":[`...)
		for i, t := range req.texts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, strings.ToLower(t))
		}
		b = append(b, `],"response_type":"embeddings_floats"`...)
	}
	b = append(b, "}"...)
	h := c.w.Header()
	c.setHeaders(h)
	h["X-Amzn-Bedrock-Input-Token-Count"] = []string{strconv.FormatInt(req.promptTokens, 10)}
	h["X-Amzn-Bedrock-Invocation-Latency"] = []string{strconv.FormatInt(time.Since(c.start).Milliseconds(), 10)}
	c.record(outOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, b)
}

// parseBedrockEmbed checks an InvokeModel body for an embedding model, as
// the model's own API documents it.
func parseBedrockEmbed(model string, body []byte) (*bedrockEmbed, *bedrockError) {
	o, ok := parseObject(body)
	if !ok {
		return nil, bedrockInvalid("Malformed input request: expected type: JSONObject, please reformat your input and try again.")
	}
	titan := strings.Contains(model, "titan-embed-text")
	if !titan && !strings.Contains(model, "cohere.embed") {
		return nil, bedrockInvalid("This emulator serves InvokeModel for Titan Text Embeddings and Cohere Embed models only, not %s.", model)
	}
	allowed := cohereFields
	if titan {
		allowed = titanFields
		if strings.Contains(model, "-v1") {
			allowed = titanFields[:1]
		}
	}
	for _, k := range o.keys {
		if !contains(allowed, k) {
			return nil, bedrockInvalid("Malformed input request: extraneous key [%s] is not permitted, please reformat your input and try again.", k)
		}
	}
	req := &bedrockEmbed{titan: titan, dims: 1024}
	if titan {
		if strings.Contains(model, "-v1") {
			req.dims = 1536
		}
		text, ok := rawString(o.get("inputText"))
		if !ok || text == "" {
			return nil, bedrockInvalid("Malformed input request: #/inputText: expected minLength: 1, please reformat your input and try again.")
		}
		req.texts = []string{text}
		if raw := o.get("dimensions"); !isAbsent(raw) {
			d, err := strconv.Atoi(string(raw))
			if err != nil || d != 256 && d != 512 && d != 1024 {
				return nil, bedrockInvalid("Malformed input request: #/dimensions: %s is not a valid enum value, please reformat your input and try again.", string(raw))
			}
			req.dims = d
		}
		if raw := o.get("normalize"); !isAbsent(raw) && jsonKind(raw) != "a boolean" {
			return nil, bedrockInvalid("Malformed input request: #/normalize: expected type: Boolean, found: %s, please reformat your input and try again.", jsonType(raw))
		}
	} else {
		list := rawList(o.get("texts"))
		if jsonKind(o.get("texts")) != "an array" || len(list) == 0 || len(list) > 96 {
			return nil, bedrockInvalid("Malformed input request: #/texts: expected between 1 and 96 strings, please reformat your input and try again.")
		}
		for i, item := range list {
			s, ok := rawString(item)
			if !ok {
				return nil, bedrockInvalid("Malformed input request: #/texts/%d: expected type: String, found: %s, please reformat your input and try again.", i, jsonType(item))
			}
			req.texts = append(req.texts, s)
		}
		t, ok := rawString(o.get("input_type"))
		if !ok || !contains(cohereTypes, t) {
			return nil, bedrockInvalid("Malformed input request: #/input_type: %s is not a valid enum value, please reformat your input and try again.", string(o.get("input_type")))
		}
	}
	for _, t := range req.texts {
		req.promptTokens += textTokens(t)
	}
	return req, nil
}
