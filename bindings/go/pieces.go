package llmsvc

/*
#include <llmsvc.h>
*/
import "C"

import (
	"context"
	"iter"
	"strconv"
)

// PieceKind says what a Piece of a streamed reply is (the core's llmsvc_piece_kind_t).
type PieceKind int

// The kinds of pieces.
const (
	PieceText          PieceKind = C.LLMSVC_PIECE_TEXT           // the next piece of the answer's text
	PieceToolCall      PieceKind = C.LLMSVC_PIECE_TOOL_CALL      // tool call Index begins: CallID and Name
	PieceToolArguments PieceKind = C.LLMSVC_PIECE_TOOL_ARGUMENTS // the next piece of call Index's arguments
)

// String returns "text", "tool_call" or "tool_arguments" (the names of the core's piece
// documents), or "unknown(N)".
func (k PieceKind) String() string {
	switch k {
	case PieceText:
		return "text"
	case PieceToolCall:
		return "tool_call"
	case PieceToolArguments:
		return "tool_arguments"
	}
	return "unknown(" + strconv.Itoa(int(k)) + ")"
}

// Piece is one typed piece of a streamed reply (PieceStream.Pieces).
type Piece struct {
	Kind PieceKind
	// Index numbers the reply's tool calls from 0: the call is Response.ToolCalls[Index].
	// 0 for text.
	Index int
	// CallID and Name are the call's id and tool name (PieceToolCall only).
	CallID, Name string
	// Text is the piece of text (PieceText) or of the call's arguments' JSON text
	// (PieceToolArguments); empty for PieceToolCall.
	Text string
}

// PieceStream is a streamed request whose reply arrives as typed pieces, returned by
// Client.StreamPieces: text, and tool calls as the model produces them (a call's start
// with its id and name, then its arguments piece by piece). It then completes once with
// the whole result, whose ToolCalls are the calls assembled. Like Stream, it queues the
// pieces on the Go side so that the core never waits for the reader; its methods are safe
// for concurrent use, but Pieces can be iterated only once.
type PieceStream struct {
	queue[Piece]
}

// StreamPieces sends a request whose reply is streamed as typed pieces
// (llmsvc_client_submit_stream_pieces). It behaves as Stream in every other way: it
// returns once the core accepted the request, errors returned here are submission errors,
// and ctx bounds and cancels the request.
func (c *Client) StreamPieces(ctx context.Context, req Request) (*PieceStream, error) {
	s := &PieceStream{}
	f, err := c.submit(ctx, &req, s)
	if err != nil {
		return nil, err
	}
	f.watch()
	return s, nil
}

// Pieces returns the reply's pieces, in order, as they arrive:
//
//	for p, err := range s.Pieces() {
//		if err != nil {
//			return err // the request failed (after the pieces that came before)
//		}
//		switch p.Kind {
//		case llmsvc.PieceText:
//			fmt.Print(p.Text)
//		case llmsvc.PieceToolCall:
//			fmt.Printf("\n%s(", p.Name)
//		case llmsvc.PieceToolArguments:
//			fmt.Print(p.Text)
//		}
//	}
//
// The error, the single iteration and cancellation by break are as for Stream.Deltas.
func (s *PieceStream) Pieces() iter.Seq2[Piece, error] { return s.iterate }

// Response waits for the request to complete and returns its result, as Generate would:
// the whole text, the tool calls assembled from the pieces, usage and cost. It may be
// called before, during or after the iteration of Pieces.
func (s *PieceStream) Response() (*Response, error) { return s.f.Result() }

// Done returns a channel that is closed when the request has completed.
func (s *PieceStream) Done() <-chan struct{} { return s.f.done }

// ID returns the core's id of the request (Response.ID).
func (s *PieceStream) ID() uint64 { return s.f.id }

// Cancel cancels the request in the core; the stream then ends with ErrCancelled. It
// does nothing once the request has completed.
func (s *PieceStream) Cancel() { s.f.Cancel() }
