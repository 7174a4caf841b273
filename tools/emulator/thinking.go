package main

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// Extended thinking (Anthropic's thinking, Ollama's think): a deterministic
// text of 16 to 63 tokens, like a natural reply but drawn with another
// salt and from another text, so it never equals the answer.

const thinkingSource = "Let me think this through step by step before I answer. "

// thinkingTokens is the natural length of the thinking for a request:
// 16 + fnv1a64(model + "\x01" + last) % 48, at most limit.
func thinkingTokens(model, last string, limit int64) int64 {
	h := fnvAdd(fnvAddByte(fnvAdd(fnvOffset64, model), 1), last)
	return min(completionMin+int64(h%completionSpread), limit)
}

// thinkingText returns a thinking text of exactly n tokens.
func thinkingText(n int64) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat(thinkingSource, int(4*n)/len(thinkingSource)+1)[:4*n]
}

// thinkingSignature is the signature of a thinking text: 64 bytes derived
// from the text, in base64.
func thinkingSignature(text string) string {
	var raw [64]byte
	h := fnv1a64(text)
	for i := 0; i < len(raw); i += 8 {
		h = mix64(h + uint64(i))
		binary.LittleEndian.PutUint64(raw[i:], h)
	}
	return base64.StdEncoding.EncodeToString(raw[:])
}
