package main

import "strconv"

// Log probabilities. A reply's tokens are the 4-byte pieces of the token
// formula (the last may be shorter), so a reply of n tokens has n entries.
// Each token's logprob is a negative number with three decimals derived
// from the token and its position; the alternatives in top_logprobs come
// from a fixed word list, each 0.5 less likely than the one before.

// altTokens are the alternatives offered in top_logprobs.
var altTokens = []string{" the", " and", " of", " to", " a", " in", " is", " that", " it", " for", " on",
	" with", " as", " was", " at", " by", " this", " be", " from", " or", " an", " not"}

// tokenMilli is token t's logprob in thousandths, negated: 1 to 3000.
func tokenMilli(tok string, t int) int64 {
	h := mix64(fnvAddUint64(fnvAdd(fnvOffset64, tok), uint64(t)))
	return 1 + int64(h%3000)
}

// appendLogprob appends {"token","logprob","bytes"} without the closing
// brace.
func appendLogprob(b []byte, tok string, milli int64) []byte {
	b = append(b, `{"token":`...)
	b = appendJSONString(b, tok)
	b = append(b, `,"logprob":`...)
	b = strconv.AppendFloat(b, -float64(milli)/1000, 'f', -1, 64)
	b = append(b, `,"bytes":[`...)
	for i := 0; i < len(tok); i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(tok[i]), 10)
	}
	return append(b, ']')
}

// appendLogprobEntries appends, comma-separated, the entries of the tokens
// of text that start within [from, to), each with top alternatives.
func appendLogprobEntries(b []byte, text string, from, to int, top int64) []byte {
	first := true
	for start := (from + 3) / 4 * 4; start < to && start < len(text); start += 4 {
		t := start / 4
		tok := text[start:min(start+4, len(text))]
		milli := tokenMilli(tok, t)
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendLogprob(b, tok, milli)
		b = append(b, `,"top_logprobs":[`...)
		alt := int(milli) % len(altTokens)
		for j := int64(0); j < top; j++ {
			if j > 0 {
				b = append(b, ',')
			}
			if j == 0 {
				b = appendLogprob(b, tok, milli)
			} else {
				if altTokens[alt%len(altTokens)] == tok {
					alt++
				}
				b = appendLogprob(b, altTokens[alt%len(altTokens)], milli+500*j)
				alt++
			}
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	return b
}
