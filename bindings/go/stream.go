package llmsvc

import (
	"context"
	"errors"
	"iter"
	"sync"
)

// Stream is a streamed request, returned by Client.Stream: the reply's text arrives
// piece by piece (Deltas) while the provider produces it, then the request completes
// once with the whole result (Response).
//
// The pieces are handed over on the core's engine thread, which never waits for the
// reader: they are queued on the Go side until Deltas takes them, however slowly it
// reads. Its methods are safe for concurrent use, but Deltas can be iterated only once.
type Stream struct {
	queue[string]
}

// queue holds a streamed request's pieces between the engine thread, which pushes them
// without ever waiting, and the one reader that iterates them.
type queue[T any] struct {
	f *Future // the request's completion, set before the submission

	mu      sync.Mutex
	pieces  []T           // received and not yet taken by the reader
	wake    chan struct{} // signalled (without blocking) when a piece is queued
	started bool          // the iteration began
}

// streamSink is what a streamed submission's handle refers to: *Stream or *PieceStream.
type streamSink interface {
	completer
	attach(f *Future)
}

// attach sets the request's Future; it runs before the submission, as the first piece may
// arrive before the submission returns.
func (q *queue[T]) attach(f *Future) {
	q.f = f
	q.wake = make(chan struct{}, 1)
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
	f, err := c.submit(ctx, &req, s)
	if err != nil {
		return nil, err
	}
	f.watch()
	return s, nil
}

// push queues a piece; it runs on the engine thread and never blocks on the reader.
func (q *queue[T]) push(piece T) {
	q.mu.Lock()
	q.pieces = append(q.pieces, piece)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// complete runs on the engine thread after the last piece.
func (q *queue[T]) complete(doc []byte) { q.f.complete(doc) }

// take returns the queued pieces, leaving the queue empty.
func (q *queue[T]) take(spare []T) []T {
	q.mu.Lock()
	pieces := q.pieces
	q.pieces = spare[:0]
	q.mu.Unlock()
	return pieces
}

// errIterated is yielded by a second iteration of Deltas or Pieces.
var errIterated = errors.New("llmsvc: the stream's pieces were already iterated")

// iterate yields the pieces in order as they arrive, then the request's error, if any;
// stopping early cancels the request.
func (q *queue[T]) iterate(yield func(T, error) bool) {
	var zero T
	q.mu.Lock()
	again := q.started
	q.started = true
	q.mu.Unlock()
	if again {
		yield(zero, errIterated)
		return
	}
	var spare []T
	finished := false // the completion came: every piece was queued before it
	for {
		pieces := q.take(spare)
		for i, p := range pieces {
			if !yield(p, nil) {
				q.f.Cancel()
				return
			}
			pieces[i] = zero // the reader owns the piece; drop the queue's reference
		}
		spare = pieces
		if len(pieces) > 0 {
			continue
		}
		if finished {
			if _, err := q.f.Result(); err != nil {
				yield(zero, err)
			}
			return
		}
		select {
		case <-q.wake:
		case <-q.f.done:
			finished = true
		}
	}
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
func (s *Stream) Deltas() iter.Seq2[string, error] { return s.iterate }

// Response waits for the request to complete and returns its result, as Generate would:
// the whole text (every piece joined), usage and cost, and Timing.FirstTokenMS. A stream
// that failed gives an *Error whose Response holds what was used (Usage.Estimated when
// the core had to estimate a stream cut short). It may be called before, during or after
// the iteration of Deltas, any number of times; pieces not yet read stay queued.
func (s *Stream) Response() (*Response, error) { return s.f.Result() }

// Done returns a channel that is closed when the request has completed.
func (s *Stream) Done() <-chan struct{} { return s.f.done }

// ID returns the core's id of the request (Response.ID).
func (s *Stream) ID() uint64 { return s.f.id }

// Cancel cancels the request in the core; the stream then ends with ErrCancelled. It
// does nothing once the request has completed.
func (s *Stream) Cancel() { s.f.Cancel() }
