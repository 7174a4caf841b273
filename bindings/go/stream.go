package llmsvc

/*
#include <llmsvc.h>
*/
import "C"

import (
	"context"
	"errors"
	"iter"
	"strconv"
	"sync"
)

// Stream is a streamed request, returned by Client.Stream: the reply's text arrives
// piece by piece (Deltas) while the provider produces it, then the request completes
// once with the whole result (Response).
//
// The pieces are handed over by the client's dispatcher, which never waits for the
// reader: they are queued on the Go side until Deltas takes them, however slowly it
// reads. Its methods are safe for concurrent use, but Deltas can be iterated only once.
type Stream struct{ stream }

// PieceStream is a streamed request whose reply arrives as typed pieces, returned by
// Client.StreamPieces: text, and tool calls as the model produces them (a call's start
// with its id and name, then its arguments piece by piece). It then completes once with
// the whole result, whose ToolCalls are the calls assembled. It queues the pieces, and
// its methods are safe for concurrent use, as Stream's; Pieces can be iterated once.
type PieceStream struct{ stream }

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
	if k >= 0 && int(k) < len(pieceKindNames) {
		return pieceKindNames[k]
	}
	return "unknown(" + strconv.Itoa(int(k)) + ")"
}

var pieceKindNames = [...]string{PieceText: "text", PieceToolCall: "tool_call",
	PieceToolArguments: "tool_arguments"}

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

// Stream sends a request whose reply is streamed (llmsvc_client_submit_stream). It
// returns once the core accepted the request; the pieces of text then come from Deltas
// and the outcome from Response. Errors returned here are submission errors, as for
// Submit: a *StatusError (also when the client's provider cannot stream) or ctx.Err()
// when ctx is already done.
//
// ctx works as in Generate: its deadline becomes the request's timeout_ms and its
// cancellation cancels the request in the core, which then ends with ErrCancelled
// wrapping ctx.Err(). The core retries a stream only before its first piece was
// delivered; a failure after that ends the stream with its error.
//
// Only text is streamed; a reply's tool calls are in the Response. StreamPieces streams
// them too.
func (c *Client) Stream(ctx context.Context, req Request) (*Stream, error) {
	s := &Stream{}
	if err := c.submitStream(ctx, &req, modeStream, &s.stream); err != nil {
		return nil, err
	}
	return s, nil
}

// StreamPieces sends a request whose reply is streamed as typed pieces
// (llmsvc_client_submit_stream_pieces). It behaves as Stream in every other way: it
// returns once the core accepted the request, errors returned here are submission errors,
// and ctx bounds and cancels the request.
func (c *Client) StreamPieces(ctx context.Context, req Request) (*PieceStream, error) {
	s := &PieceStream{}
	if err := c.submitStream(ctx, &req, modePieces, &s.stream); err != nil {
		return nil, err
	}
	return s, nil
}

func (c *Client) submitStream(ctx context.Context, req *Request, mode int, s *stream) error {
	s.wake = make(chan struct{}, 1)
	f, err := c.submit(ctx, req, mode, s)
	if err == nil {
		f.watch()
	}
	return err
}

// Deltas returns the reply's pieces of text, in order, as they arrive:
//
//	for piece, err := range s.Deltas() {
//		if err != nil {
//			return err // the request failed (after the pieces that came before)
//		}
//		fmt.Print(piece)
//	}
//
// Each piece comes with a nil error. When the request fails, the iteration ends with one
// pair ("", err), err being the error Response returns (an *Error: ErrServerError for a
// stream broken after its first piece, ErrCancelled wrapping ctx.Err() when ctx was
// cancelled, ...); a successful stream just ends. Stopping the iteration early (break)
// cancels the request in the core. The sequence can be iterated only once; a second
// iteration yields one error.
func (s *Stream) Deltas() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		s.iterate(func(p Piece, err error) bool { return yield(p.Text, err) })
	}
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

// stream holds a streamed request's pieces between the dispatcher, which pushes them
// without ever waiting, and the one reader that iterates them.
type stream struct {
	f *Future // the request's completion, set before the submission

	mu      sync.Mutex
	pieces  []Piece       // received and not yet taken by the reader
	wake    chan struct{} // signalled (without blocking) when a piece is queued
	started bool          // the iteration began
}

// Response waits for the request to complete and returns its result, as Generate would:
// the whole text (every piece joined), the tool calls assembled from the pieces, usage
// and cost, and Timing.FirstTokenMS. A stream that failed gives an *Error whose Response
// holds what was used (Usage.Estimated when the core had to estimate a stream cut
// short). It may be called before, during or after the iteration, any number of times;
// pieces not yet read stay queued.
func (s *stream) Response() (*Response, error) { return s.f.Result() }

// Done returns a channel that is closed when the request has completed.
func (s *stream) Done() <-chan struct{} { return s.f.done }

// ID returns the core's id of the request (Response.ID).
func (s *stream) ID() uint64 { return s.f.id }

// Cancel cancels the request in the core; the stream then ends with ErrCancelled. It
// does nothing once the request has completed.
func (s *stream) Cancel() { s.f.Cancel() }

// push queues a piece; it runs on the dispatcher and never blocks on the reader.
func (s *stream) push(p Piece) {
	s.mu.Lock()
	s.pieces = append(s.pieces, p)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// errIterated is yielded by a second iteration of Deltas or Pieces.
var errIterated = errors.New("llmsvc: the stream's pieces were already iterated")

// iterate yields the pieces in order as they arrive, then the request's error, if any;
// stopping early cancels the request.
func (s *stream) iterate(yield func(Piece, error) bool) {
	s.mu.Lock()
	again := s.started
	s.started = true
	s.mu.Unlock()
	if again {
		yield(Piece{}, errIterated)
		return
	}
	var spare []Piece
	finished := false // the completion came: every piece was queued before it
	for {
		s.mu.Lock()
		pieces := s.pieces
		s.pieces = spare[:0]
		s.mu.Unlock()
		for i, p := range pieces {
			if !yield(p, nil) {
				s.f.Cancel()
				return
			}
			pieces[i] = Piece{} // the reader owns the piece; drop the queue's reference
		}
		spare = pieces
		if len(pieces) > 0 {
			continue
		}
		if finished {
			if s.f.err != nil {
				yield(Piece{}, s.f.err)
			}
			return
		}
		select {
		case <-s.wake:
		case <-s.f.done:
			finished = true
		}
	}
}
