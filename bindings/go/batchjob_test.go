package llmsvc_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	llmsvc "llmsvc/bindings/go"
)

// addChats adds the chat requests r0..r(n-1) to a job and returns how many it knew.
func addChats(t *testing.T, job *llmsvc.BatchJob, n int) int {
	t.Helper()
	known := 0
	for i := range n {
		k, err := job.Add(fmt.Sprintf("r%d", i), llmsvc.Request{Prompt: fmt.Sprintf("batch line %d", i),
			MaxOutputTokens: 20})
		if err != nil {
			t.Fatal(err)
		}
		if k {
			known++
		}
	}
	return known
}

// checkBatchResult checks a batch job's result: successful, priced at half of
// gpt-4o-mini's standard price, the same as its document.
func checkBatchResult(t *testing.T, r *llmsvc.Response) {
	t.Helper()
	var err error
	if r.Error != nil {
		err = r.Error
	}
	sameAsDocument(t, r, err)
	if !r.OK || r.Usage == nil || r.Text == "" || r.BatchID == "" {
		t.Fatalf("result %s: ok %v, usage %+v, batch %q, error %v", r.CustomID, r.OK, r.Usage, r.BatchID, r.Error)
	}
	// $0.15 / $0.60 per million input / output tokens, halved.
	want := (r.Usage.PromptTokens*150 + r.Usage.CompletionTokens*600) / 2
	if r.CostNanoUSD == nil || *r.CostNanoUSD != want {
		t.Errorf("result %s: cost %v, want %d for %+v", r.CustomID, r.CostNanoUSD, want, *r.Usage)
	}
}

func TestBatchJob(t *testing.T) {
	emu := startEmulator(t, "--batch-latency-ms", "50")
	c := emu.client(t, "k-batch", llmsvc.Config{})
	job, err := c.OpenBatchJob(filepath.Join(t.TempDir(), "job.state"),
		llmsvc.BatchJobOptions{MaxRequests: 8, PollMS: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if known := addChats(t, job, 20); known != 0 {
		t.Errorf("a new job knew %d requests", known)
	}
	if _, err := job.Add("r0", llmsvc.Request{Prompt: "again"}); !errors.Is(err, llmsvc.StatusInvalid) {
		t.Errorf("an id added twice: %v", err)
	}
	got := map[string]int{}
	err = job.Run(testContext(t), func(r *llmsvc.Response) error {
		checkBatchResult(t, r)
		got[r.CustomID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 {
		t.Errorf("%d results: %v", len(got), got)
	}
	for i := range 20 {
		if n := got[fmt.Sprintf("r%d", i)]; n != 1 {
			t.Errorf("r%d handed over %d times", i, n)
		}
	}
	st, err := job.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 20 || st.Batches.Delivered != 3 || st.Results.OK != 20 || st.Provider == "" {
		t.Errorf("status %s", st.Raw)
	}
	if s := emu.stats(t, "k-batch").Batches; s.LinesReceived != 20 || s.DuplicateCustomIDs != 0 {
		t.Errorf("the emulator's batches: %+v", s)
	}
	if done, err := job.Step(0); !done || err != nil {
		t.Errorf("a finished job's step: %v, %v", done, err)
	}
	job.Close()
	if _, err := job.Step(0); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("a closed job's step: %v", err)
	}
	if job.Next() != nil {
		t.Error("a closed job handed over a result")
	}
}

// A job closed after a couple of steps and opened again with the same requests sends
// none twice and hands each result over once.
func TestBatchJobResumes(t *testing.T) {
	emu := startEmulator(t, "--batch-latency-ms", "50")
	c := emu.client(t, "k-resume", llmsvc.Config{})
	state := filepath.Join(t.TempDir(), "job.state")
	opts := llmsvc.BatchJobOptions{MaxRequests: 8, PollMS: 20}
	got := map[string]int{}
	take := func(r *llmsvc.Response) error {
		checkBatchResult(t, r)
		got[r.CustomID]++
		return nil
	}

	job, err := c.OpenBatchJob(state, opts)
	if err != nil {
		t.Fatal(err)
	}
	addChats(t, job, 20)
	for range 2 {
		if _, err := job.Step(10 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for r := job.Next(); r != nil; r = job.Next() {
			_ = take(r)
		}
		if err := job.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := job.Status()
	if err != nil {
		t.Fatal(err)
	}
	job.Close()
	sent := st.Batches.Created

	job, err = c.OpenBatchJob(state, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	known := addChats(t, job, 20)
	if sent == 0 || known < 8*int(sent) {
		t.Errorf("reopened after %d batches were created: %d requests known", sent, known)
	}
	if err := job.Run(testContext(t), take); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if n := got[fmt.Sprintf("r%d", i)]; n != 1 {
			t.Errorf("r%d handed over %d times", i, n)
		}
	}
	if s := emu.stats(t, "k-resume").Batches; s.LinesReceived != 20 || s.DuplicateCustomIDs != 0 {
		t.Errorf("the emulator's batches: %+v", s)
	}
}

// Run stops when its context ends, leaving the job resumable.
func TestBatchJobRunContext(t *testing.T) {
	emu := startEmulator(t, "--batch-latency-ms", "3600000")
	c := emu.client(t, "k-batch-ctx", llmsvc.Config{})
	job, err := c.OpenBatchJob(filepath.Join(t.TempDir(), "job.state"), llmsvc.BatchJobOptions{PollMS: 20})
	if err != nil {
		t.Fatal(err)
	}
	addChats(t, job, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = job.Run(ctx, func(*llmsvc.Response) error { return errors.New("no result expected") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run: %v", err)
	}
	// The client closes the jobs still open on it.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := job.Add("r9", llmsvc.Request{Prompt: "late"}); !errors.Is(err, llmsvc.ErrClosed) {
		t.Errorf("Add after the client closed: %v", err)
	}
	job.Close()
}
