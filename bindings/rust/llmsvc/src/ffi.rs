//! The only module with `unsafe`: owned handles over the C ABI, the completion slot a
//! future waits on, and the `extern "C"` trampolines the engine thread calls.
//!
//! Ownership rules (include/llmsvc.h, docs/threading.md):
//! - a submission leaks one `Box<Arc<Slot>>` as the payload; the completion trampoline
//!   reclaims it exactly once. A refused submission (non-zero status) has no completion,
//!   so the box is reclaimed at once by the submitter;
//! - the delta trampoline only borrows the payload: every delta comes before the one
//!   completion;
//! - trampolines never unwind into C (`catch_unwind`), never block and never run user
//!   code except a `Waker`.

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use llmsvc_sys as sys;

use crate::error::{CallError, Error, Status};

/// Payload boxes handed to the core and not yet reclaimed (leak checks in tests).
static LIVE_PAYLOADS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn live_payloads() -> usize {
    LIVE_PAYLOADS.load(Ordering::SeqCst)
}

/// Copies a NUL-terminated string the library returned; "" for NULL.
fn c_string(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings that stay valid at least until
    // the call that produced them returns or their parent object is freed; we copy at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

pub(crate) fn version() -> String {
    // SAFETY: llmsvc_version returns a static string.
    c_string(unsafe { sys::llmsvc_version() })
}

pub(crate) fn strerror(status: c_int) -> String {
    // SAFETY: llmsvc_strerror accepts any int and returns a static string.
    c_string(unsafe { sys::llmsvc_strerror(status) })
}

/// Builds an [`Error`] from a failed call's status and optional `llmsvc_error`, freeing it.
fn call_error(status: c_int, err: *mut sys::llmsvc_error) -> Error {
    let message = if err.is_null() {
        strerror(status)
    } else {
        // SAFETY: `err` came from the library through an out parameter and is ours; the
        // message is borrowed from it and copied before the error is freed.
        let m = c_string(unsafe { sys::llmsvc_error_message(err) });
        // SAFETY: freed exactly once, not used afterwards.
        unsafe { sys::llmsvc_error_free(err) };
        if m.is_empty() {
            strerror(status)
        } else {
            m
        }
    };
    Error::Call(CallError {
        status: Status::from_code(status),
        message,
    })
}

pub(crate) fn to_cstring(s: String) -> Result<CString, Error> {
    CString::new(s).map_err(|_| {
        Error::Call(CallError {
            status: Status::InvalidArgument,
            message: "a JSON document contains a NUL byte".into(),
        })
    })
}

/// One result object of the core, freed on drop. Results may be freed on any thread.
pub(crate) struct RawResult(NonNull<sys::llmsvc_result>);

// SAFETY: docs/threading.md: results may be used and freed on any thread, by one thread
// at a time; RawResult is owned (no aliasing) and not Sync.
unsafe impl Send for RawResult {}

impl RawResult {
    /// The result document (docs/schema.md).
    pub(crate) fn json(&self) -> String {
        let mut len = 0usize;
        // SAFETY: the result is live while `self` is; the returned text is borrowed from it
        // and copied before `self` can be dropped.
        let p = unsafe { sys::llmsvc_result_json(self.0.as_ptr(), &mut len) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: the library promises `len` readable bytes at `p`.
        let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

impl Drop for RawResult {
    fn drop(&mut self) {
        // SAFETY: we own the result and free it exactly once.
        unsafe { sys::llmsvc_result_free(self.0.as_ptr()) }
    }
}

enum Completion {
    Waiting,
    Done(Option<RawResult>),
    Taken,
}

struct SlotState {
    deltas: VecDeque<String>,
    completion: Completion,
    waker: Option<Waker>,
}

/// What the completion (and deltas) of one request are delivered into, and what its
/// future polls.
pub(crate) struct Slot {
    state: Mutex<SlotState>,
}

impl Slot {
    pub(crate) fn new() -> Arc<Slot> {
        Arc::new(Slot {
            state: Mutex::new(SlotState {
                deltas: VecDeque::new(),
                completion: Completion::Waiting,
                waker: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(state: &mut SlotState, cx: &Context<'_>) {
        match &state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
    }

    /// The next streamed piece; `Ready(None)` once the completion arrived and every piece
    /// was taken.
    pub(crate) fn poll_delta(&self, cx: &Context<'_>) -> Poll<Option<String>> {
        let mut st = self.lock();
        if let Some(d) = st.deltas.pop_front() {
            return Poll::Ready(Some(d));
        }
        if !matches!(st.completion, Completion::Waiting) {
            return Poll::Ready(None);
        }
        Self::register(&mut st, cx);
        Poll::Pending
    }

    /// Takes the completion (`None` inside: the core delivered a NULL result). Pieces not
    /// taken yet are dropped. After it was taken, `Ready(None)` again.
    pub(crate) fn poll_done(&self, cx: &Context<'_>) -> Poll<Option<RawResult>> {
        let mut st = self.lock();
        match std::mem::replace(&mut st.completion, Completion::Taken) {
            Completion::Waiting => {
                st.completion = Completion::Waiting;
                Self::register(&mut st, cx);
                Poll::Pending
            }
            Completion::Done(r) => {
                st.deltas.clear();
                Poll::Ready(r)
            }
            Completion::Taken => Poll::Ready(None),
        }
    }

    fn push_delta(&self, delta: String) {
        let waker = {
            let mut st = self.lock();
            st.deltas.push_back(delta);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn complete(&self, result: Option<RawResult>) {
        let waker = {
            let mut st = self.lock();
            st.completion = Completion::Done(result);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Completion trampoline: reclaims the payload box (exactly once) and fills the slot.
unsafe extern "C" fn on_complete(result: *mut sys::llmsvc_result, payload: *mut c_void) {
    let result = NonNull::new(result).map(RawResult);
    let _ = catch_unwind(AssertUnwindSafe(move || {
        if payload.is_null() {
            return; // not ours; `result` is freed on drop
        }
        // SAFETY: `payload` is the Box<Arc<Slot>> leaked by `RawClient::submit`; the core
        // calls this exactly once per accepted submission, so the box is reclaimed once.
        let slot = unsafe { Box::from_raw(payload.cast::<Arc<Slot>>()) };
        LIVE_PAYLOADS.fetch_sub(1, Ordering::SeqCst);
        slot.complete(result);
    }));
}

/// Delta trampoline: copies the piece into the slot. Borrows the payload.
unsafe extern "C" fn on_delta(_id: u64, text: *const c_char, len: usize, payload: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if payload.is_null() {
            return;
        }
        // SAFETY: deltas come before the completion, which alone reclaims the box, so the
        // payload is a live Box<Arc<Slot>> during this call; we only borrow it.
        let slot = unsafe { &*payload.cast::<Arc<Slot>>() };
        let piece = if text.is_null() || len == 0 {
            String::new()
        } else {
            // SAFETY: the core passes `len` readable bytes valid during this call; copied.
            let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        slot.push_delta(piece);
    }));
}

/// An owned `llmsvc_client`, destroyed on drop.
pub(crate) struct RawClient(NonNull<sys::llmsvc_client>);

// SAFETY: docs/threading.md: a client handle may be used from any thread and shared by any
// number of threads; destroy happens only in Drop, when no other reference exists.
unsafe impl Send for RawClient {}
// SAFETY: as above, every call on a live client is thread-safe.
unsafe impl Sync for RawClient {}

impl RawClient {
    pub(crate) fn new(config: &CStr) -> Result<RawClient, Error> {
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: valid pointers to locals; the config is NUL-terminated and copied.
        let rc = unsafe { sys::llmsvc_client_new(&mut out, config.as_ptr(), &mut err) };
        match NonNull::new(out) {
            Some(p) if rc == sys::LLMSVC_OK => Ok(RawClient(p)),
            _ => Err(call_error(
                if rc == 0 { sys::LLMSVC_EINTERNAL } else { rc },
                err,
            )),
        }
    }

    /// Submits a request whose completion (and, for a stream, pieces) go to `slot`.
    /// Returns the request id.
    pub(crate) fn submit(
        &self,
        request: &CStr,
        slot: &Arc<Slot>,
        stream: bool,
    ) -> Result<u64, Error> {
        let payload = Box::into_raw(Box::new(Arc::clone(slot))).cast::<c_void>();
        LIVE_PAYLOADS.fetch_add(1, Ordering::SeqCst);
        let mut id = 0u64;
        let mut err = ptr::null_mut();
        // SAFETY: the client is live; the request is NUL-terminated and copied; the
        // trampolines match the callback types; `payload` stays valid until on_complete.
        let rc = unsafe {
            if stream {
                sys::llmsvc_client_submit_stream(
                    self.0.as_ptr(),
                    request.as_ptr(),
                    Some(on_delta),
                    Some(on_complete),
                    payload,
                    &mut id,
                    &mut err,
                )
            } else {
                sys::llmsvc_client_submit(
                    self.0.as_ptr(),
                    request.as_ptr(),
                    Some(on_complete),
                    payload,
                    &mut id,
                    &mut err,
                )
            }
        };
        if rc != sys::LLMSVC_OK {
            // SAFETY: a refused submission has no completion: the box is still ours.
            drop(unsafe { Box::from_raw(payload.cast::<Arc<Slot>>()) });
            LIVE_PAYLOADS.fetch_sub(1, Ordering::SeqCst);
            return Err(call_error(rc, err));
        }
        Ok(id)
    }

    /// Sends a request and blocks until its result.
    pub(crate) fn generate(&self, request: &CStr) -> Result<RawResult, Error> {
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: the client is live; valid pointers to locals; the request is copied.
        let rc = unsafe {
            sys::llmsvc_client_generate(self.0.as_ptr(), request.as_ptr(), &mut out, &mut err)
        };
        match NonNull::new(out) {
            Some(p) if rc == sys::LLMSVC_OK => Ok(RawResult(p)),
            Some(p) => {
                drop(RawResult(p));
                Err(call_error(rc, err))
            }
            None => Err(call_error(
                if rc == 0 { sys::LLMSVC_EINTERNAL } else { rc },
                err,
            )),
        }
    }

    /// Cancels a pending request; false when it already completed.
    pub(crate) fn cancel(&self, id: u64) -> bool {
        // SAFETY: the client is live; any id is accepted.
        unsafe { sys::llmsvc_client_cancel(self.0.as_ptr(), id) == sys::LLMSVC_OK }
    }

    pub(crate) fn set_limits(&self, limits: &CStr) -> Result<(), Error> {
        let mut err = ptr::null_mut();
        // SAFETY: the client is live; the document is NUL-terminated and copied.
        let rc =
            unsafe { sys::llmsvc_client_set_limits(self.0.as_ptr(), limits.as_ptr(), &mut err) };
        if rc == sys::LLMSVC_OK {
            Ok(())
        } else {
            Err(call_error(rc, err))
        }
    }

    pub(crate) fn set_deployment(&self, deployment: &CStr) -> Result<(), Error> {
        let mut err = ptr::null_mut();
        // SAFETY: the client is live; the document is NUL-terminated and copied.
        let rc = unsafe {
            sys::llmsvc_client_set_deployment(self.0.as_ptr(), deployment.as_ptr(), &mut err)
        };
        if rc == sys::LLMSVC_OK {
            Ok(())
        } else {
            Err(call_error(rc, err))
        }
    }

    pub(crate) fn metrics(&self) -> Result<String, Error> {
        self.snapshot(sys::llmsvc_client_metrics)
    }

    pub(crate) fn metrics_prometheus(&self) -> Result<String, Error> {
        self.snapshot(sys::llmsvc_client_metrics_prometheus)
    }

    /// A snapshot document from `call`: one of the functions that give the caller a string
    /// freed with `llmsvc_free`.
    fn snapshot(
        &self,
        call: unsafe extern "C" fn(
            *mut sys::llmsvc_client,
            *mut *mut c_char,
            *mut *mut sys::llmsvc_error,
        ) -> c_int,
    ) -> Result<String, Error> {
        let mut out: *mut c_char = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: the client is live; valid pointers to locals.
        let rc = unsafe { call(self.0.as_ptr(), &mut out, &mut err) };
        if rc != sys::LLMSVC_OK {
            // SAFETY: llmsvc_free accepts NULL and anything the library allocated.
            unsafe { sys::llmsvc_free(out.cast()) };
            return Err(call_error(rc, err));
        }
        let json = c_string(out);
        // SAFETY: the document is ours, copied above, freed exactly once.
        unsafe { sys::llmsvc_free(out.cast()) };
        Ok(json)
    }

    /// Refuses new work and completes every pending request with `shut_down`.
    pub(crate) fn close(&self) {
        // SAFETY: the client is live; close is idempotent and thread-safe. It is never
        // called from a completion callback (no user code runs there).
        unsafe { sys::llmsvc_client_close(self.0.as_ptr()) };
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        // SAFETY: the last reference is gone, so no other thread is inside a call on this
        // client; completions never hold a client reference, so this never runs on the
        // engine thread. Every callback has run when destroy returns.
        unsafe { sys::llmsvc_client_destroy(self.0.as_ptr()) };
    }
}
