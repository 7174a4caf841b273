package main

import (
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"strconv"
)

// ConverseStream answers in AWS's event-stream encoding
// (application/vnd.amazon.eventstream). Each message is
//
//	total length (4 bytes, big-endian) | headers length (4) | CRC32 of those 8 bytes (4)
//	headers | payload | CRC32 of everything before (4)
//
// (CRC32 is IEEE's), and each header is its name's length (1 byte), the
// name, the value type (7, a string), the value's length (2 bytes,
// big-endian) and the value. Events carry :event-type, :content-type
// (application/json) and :message-type (event); an exception carries
// :exception-type, :content-type and :message-type (exception).

// eventHeader is one string header of an event-stream message.
type eventHeader struct{ name, value string }

// eventStringType is the value type of a string header.
const eventStringType = 7

// appendEventMessage appends one event-stream message.
func appendEventMessage(b []byte, headers []eventHeader, payload []byte) []byte {
	hlen := 0
	for _, h := range headers {
		hlen += 1 + len(h.name) + 1 + 2 + len(h.value)
	}
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(12+hlen+len(payload)+4))
	b = binary.BigEndian.AppendUint32(b, uint32(hlen))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:start+8]))
	for _, h := range headers {
		b = append(b, byte(len(h.name)))
		b = append(b, h.name...)
		b = append(b, eventStringType)
		b = binary.BigEndian.AppendUint16(b, uint16(len(h.value)))
		b = append(b, h.value...)
	}
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// converseEvent is an event message of type typ.
func converseEvent(typ string, payload []byte) []byte {
	return appendEventMessage(nil, []eventHeader{
		{":event-type", typ}, {":content-type", "application/json"}, {":message-type", "event"}}, payload)
}

// converseException is an exception message of type typ
// (throttlingException, internalServerException, ...).
func converseException(typ, message string) []byte {
	payload := append(appendJSONString([]byte(`{"message":`), message), '}')
	return appendEventMessage(nil, []eventHeader{
		{":exception-type", typ}, {":content-type", "application/json"}, {":message-type", "exception"}}, payload)
}

// converseBlock is one content block of a streamed answer: its start
// payload (nil for text, which has none) and its deltas.
type converseBlock struct {
	start  []byte
	deltas [][]byte
}

// blocks lists the answer's content blocks: the text, or one block per
// tool use whose input comes in pieces of at most 8 bytes.
func (r *bedrockReply) blocks() []converseBlock {
	if r.calls == nil {
		var cb converseBlock
		for _, d := range streamDeltas(r.text.text) {
			p := appendJSONString([]byte(`{"contentBlockIndex":0,"delta":{"text":`), d)
			cb.deltas = append(cb.deltas, append(p, "}}"...))
		}
		return []converseBlock{cb}
	}
	var out []converseBlock
	for j, call := range r.calls.calls {
		index := strconv.Itoa(j)
		start := append([]byte(`{"contentBlockIndex":`), index...)
		start = appendJSONString(append(start, `,"start":{"toolUse":{"toolUseId":`...), r.ids[j])
		start = appendJSONString(append(start, `,"name":`...), call.name)
		cb := converseBlock{start: append(start, "}}}"...)}
		for _, piece := range argumentPieces(call.args) {
			p := append([]byte(`{"contentBlockIndex":`), index...)
			p = appendJSONString(append(p, `,"delta":{"toolUse":{"input":`...), piece)
			cb.deltas = append(cb.deltas, append(p, "}}}"...))
		}
		out = append(out, cb)
	}
	return out
}

// streamConverse sends the answer as events: messageStart, for each
// content block contentBlockStart (tool uses only), its contentBlockDelta
// events and contentBlockStop, then messageStop and metadata. A mid-stream
// fault strikes after half of the deltas: a cut connection, or an
// exception message (throttlingException or internalServerException,
// chosen by hash) that ends the stream.
func (c *bedrockCall) streamConverse(r *bedrockReply) {
	c.setHeaders(c.w.Header())
	s := startStream(c.w, c.r, c.e.cfg, "application/vnd.amazon.eventstream")
	gone := func() { c.record(outGone, 0) }
	if !s.write(converseEvent("messageStart", []byte(`{"role":"assistant"}`))) {
		gone()
		return
	}
	blocks := r.blocks()
	total := 0
	for _, cb := range blocks {
		total += len(cb.deltas)
	}
	limit, sent := deltasBeforeFault(total, c.mid), 0
	for i, cb := range blocks {
		if cb.start != nil && !s.write(converseEvent("contentBlockStart", cb.start)) {
			gone()
			return
		}
		for _, d := range cb.deltas {
			if sent == limit && c.mid != midNone {
				break
			}
			sent++
			if !s.write(converseEvent("contentBlockDelta", d)) {
				gone()
				return
			}
		}
		if sent == limit && c.mid != midNone {
			c.midFault(s)
			return
		}
		stop := append(append([]byte(`{"contentBlockIndex":`), strconv.Itoa(i)...), '}')
		if !s.write(converseEvent("contentBlockStop", stop)) {
			gone()
			return
		}
	}
	if !s.write(converseEvent("messageStop", append(append([]byte(`{"stopReason":"`), r.stop...), `"}`...))) {
		gone()
		return
	}
	b := c.appendUsage(append(make([]byte, 0, 128), `{"usage":`...))
	b = c.appendMetrics(append(b, `,"metrics":`...))
	c.record(outOK, http.StatusOK)
	s.write(converseEvent("metadata", append(b, '}')))
}

// midFault ends a stream the fault cut short.
func (c *bedrockCall) midFault(s *streamer) {
	if c.mid == midReset {
		c.reset()
		return
	}
	// One in two in-band errors is a throttling exception, chosen by hash.
	if draw(c.e.cfg.seed, c.digest, c.k, saltStatus)&1 == 0 {
		c.record(outRateLimited, http.StatusOK)
		s.write(converseException("throttlingException", msgThrottledTokens))
		return
	}
	c.record(outServerError, http.StatusOK)
	s.write(converseException("internalServerException", msgBedrockInternal))
}
