package main

import "strings"

// The token model below is shared with the llmsvc client library, which uses
// the same formula for its own estimates. Keep the two in step.

const (
	tokensPerPrompt  = 3  // fixed overhead of every prompt
	tokensPerMessage = 4  // fixed overhead of every message
	tokensPerImage   = 85 // every image_url part
	completionMin    = 16 // shortest natural completion
	completionSpread = 48 // natural completions are 16..63 tokens
)

// textTokens is ceil(len(s) / 4) over the UTF-8 bytes of s.
func textTokens(s string) int64 {
	return (int64(len(s)) + 3) / 4
}

// messageTokens is the cost of one message: 4 + its text + 85 per image.
func messageTokens(texts []string, images int) int64 {
	n := int64(tokensPerMessage) + int64(images)*tokensPerImage
	for _, t := range texts {
		n += textTokens(t)
	}
	return n
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

func fnvAddByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime64
}

func fnvAddUint64(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h = fnvAddByte(h, byte(v>>(8*i)))
	}
	return h
}

// fnv1a64 hashes s with 64-bit FNV-1a.
func fnv1a64(s string) uint64 { return fnvAdd(fnvOffset64, s) }

// completionTarget is the natural completion length for a request:
// 16 + fnv1a64(model + "\x00" + content of the last message) % 48.
func completionTarget(model, lastContent string) int64 {
	h := fnvAdd(fnvOffset64, model)
	h = fnvAddByte(h, 0)
	h = fnvAdd(h, lastContent)
	return completionMin + int64(h%completionSpread)
}

// isReasoningModel reports whether half of a model's completion tokens are
// accounted as reasoning tokens.
func isReasoningModel(model string) bool {
	for _, p := range [...]string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

func reasoningTokens(model string, completion int64) int64 {
	if isReasoningModel(model) {
		return completion / 2
	}
	return 0
}

// cachedTokens is what a repeated prompt of promptTokens reports as cached.
func cachedTokens(promptTokens int64, seenBefore bool) int64 {
	if promptTokens < 1024 || !seenBefore {
		return 0
	}
	return promptTokens / 128 * 128
}

// replySource is plain ASCII text; a reply of n tokens is its first 4n bytes,
// so textTokens(reply) == n. Natural completions never exceed 63 tokens.
var replySource = func() string {
	const text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor " +
		"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud " +
		"exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. "
	return strings.Repeat(text, 4*(completionMin+completionSpread)/len(text)+1)
}()

// replyText returns a completion of exactly n tokens.
func replyText(n int64) string {
	if n <= 0 {
		return ""
	}
	if 4*n <= int64(len(replySource)) {
		return replySource[:4*n]
	}
	return strings.Repeat(replySource, int(4*n)/len(replySource)+1)[:4*n]
}
