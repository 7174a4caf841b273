//! The only module with `unsafe`: owned handles over the C ABI, the completion slot a
//! future waits on, and the `extern "C"` trampolines the engine thread calls.
//!
//! Ownership rules (include/llmsvc.h, docs/threading.md):
//! - a submission leaks one `Box<Arc<Slot>>` as the payload; the completion trampoline
//!   reclaims it exactly once. A refused submission (non-zero status) has no completion,
//!   so the box is reclaimed at once by the submitter;
//! - the delta and piece trampolines only borrow the payload: every piece comes before
//!   the one completion;
//! - trampolines never unwind into C (`catch_unwind`), never block and never run user
//!   code except a `Waker`, and the event trampoline the hook it was given;
//! - event hooks: see [`Hooks`] for when a hook's box is freed.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use llmsvc_sys as sys;

use crate::error::{CallError, Error, Status};
use crate::events::{Event, EventKind};
use crate::tools::Piece;

/// Payload boxes handed to the core and not yet reclaimed (leak checks in tests).
static LIVE_PAYLOADS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn live_payloads() -> usize {
    LIVE_PAYLOADS.load(Ordering::SeqCst)
}

/// Copies `len` bytes the core passed to a callback; "" for NULL.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes for the duration of the call.
unsafe fn c_bytes(p: *const c_char, len: usize) -> String {
    if p.is_null() || len == 0 {
        return String::new();
    }
    // SAFETY: the caller promises `len` readable bytes at `p`; copied at once.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    String::from_utf8_lossy(bytes).into_owned()
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
/// A configuration file as the core reads it: llmsvc's JSON configuration and the warnings
/// (a JSON array of strings).
pub(crate) fn load_config(path: &str) -> Result<(String, String), Error> {
    let cpath = to_cstring(path.to_owned())?;
    let mut config: *mut c_char = ptr::null_mut();
    let mut warnings: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: valid pointers to locals; the path outlives the call.
    let rc =
        unsafe { sys::llmsvc_config_load(cpath.as_ptr(), &mut config, &mut warnings, &mut err) };
    if rc != sys::LLMSVC_OK {
        return Err(call_error(rc, err));
    }
    let out = (c_string(config), c_string(warnings));
    // SAFETY: both documents are ours, copied above, freed exactly once.
    unsafe {
        sys::llmsvc_free(config.cast());
        sys::llmsvc_free(warnings.cast());
    }
    Ok(out)
}

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
    pieces: VecDeque<Piece>,
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
                pieces: VecDeque::new(),
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
    pub(crate) fn poll_piece(&self, cx: &Context<'_>) -> Poll<Option<Piece>> {
        let mut st = self.lock();
        if let Some(d) = st.pieces.pop_front() {
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
                st.pieces.clear();
                Poll::Ready(r)
            }
            Completion::Taken => Poll::Ready(None),
        }
    }

    fn push_piece(&self, piece: Piece) {
        let waker = {
            let mut st = self.lock();
            st.pieces.push_back(piece);
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
        // SAFETY: the core passes `len` readable bytes valid during this call.
        slot.push_piece(Piece::Text(unsafe { c_bytes(text, len) }));
    }));
}

/// Piece trampoline of `llmsvc_client_submit_stream_pieces`: copies the typed piece into
/// the slot. Borrows the payload.
#[allow(clippy::too_many_arguments)] // the C callback's signature
unsafe extern "C" fn on_piece(
    _id: u64,
    kind: c_int,
    index: u32,
    call_id: *const c_char,
    name: *const c_char,
    text: *const c_char,
    len: usize,
    payload: *mut c_void,
) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if payload.is_null() {
            return;
        }
        // SAFETY: pieces come before the completion, which alone reclaims the box, so the
        // payload is a live Box<Arc<Slot>> during this call; we only borrow it.
        let slot = unsafe { &*payload.cast::<Arc<Slot>>() };
        // SAFETY: the core passes `len` readable bytes valid during this call.
        let text = unsafe { c_bytes(text, len) };
        let piece = match kind {
            sys::LLMSVC_PIECE_TEXT => Piece::Text(text),
            sys::LLMSVC_PIECE_TOOL_CALL => Piece::ToolCall {
                index,
                id: c_string(call_id),
                name: c_string(name),
            },
            sys::LLMSVC_PIECE_TOOL_ARGUMENTS => Piece::ToolArguments { index, delta: text },
            _ => return, // a kind newer than this binding; the completion has it all
        };
        slot.push_piece(piece);
    }));
}

/// How a request is submitted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Submit {
    /// One completion (`llmsvc_client_submit`).
    Plain,
    /// Text pieces, then the completion (`llmsvc_client_submit_stream`).
    Text,
    /// Typed pieces, then the completion (`llmsvc_client_submit_stream_pieces`).
    Pieces,
}

/// What an event hook calls.
pub(crate) type HookFn = Box<dyn Fn(&Event) + Send + 'static>;

/// Event hooks given to the core and not yet freed.
static LIVE_HOOKS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn live_hooks() -> usize {
    LIVE_HOOKS.load(Ordering::SeqCst)
}

thread_local! {
    /// The [`Hooks`] whose hook runs on this thread (an engine thread); null elsewhere.
    static RUNNING_HOOKS: Cell<*const Hooks> = const { Cell::new(ptr::null()) };
}

fn running_hooks_of(hooks: &Arc<Hooks>) -> bool {
    RUNNING_HOOKS.with(|r| ptr::eq(r.get(), Arc::as_ptr(hooks)))
}

/// One hook given to the core: its payload is a pointer to this (boxed, never moved).
struct Hook {
    hooks: *const Hooks,
    f: HookFn,
    types: u32,
    /// Set (under `Hooks::live`) once the call that installed it returned.
    confirmed: AtomicBool,
}

/// The event hooks of one client that the core may still call.
///
/// Every `set_event_hook` gives the core a new boxed [`Hook`]. The call that replaces a
/// hook does not free the old one: it cannot always tell whether it is still running (a
/// hook may replace itself) nor, with calls on several threads, which hook the core has
/// now. The engine thread knows. When an event is delivered to hook H, H is the core's
/// hook, and every other hook whose installing call has returned was replaced and is not
/// running (hooks run one at a time on that one thread, never nested), so those are
/// freed then. Turning events off from outside a hook frees them all: the core applied it
/// between two of its steps, so none was running, and it has no hook any more; calls from
/// outside hooks are serialized so that no other call installs one meanwhile. The rest is
/// freed with the client, after `llmsvc_client_destroy`.
pub(crate) struct Hooks {
    /// Held by `set_event_hook` calls made outside a hook of this client. A call from a
    /// hook must not wait for it: the engine thread would wait for a caller that waits for
    /// the engine thread.
    serial: Mutex<()>,
    live: Mutex<Vec<NonNull<Hook>>>,
    /// Set when a hook was installed: the next event frees those it replaced.
    prune: AtomicBool,
}

// SAFETY: the hooks are only called on the engine thread (one at a time) and freed as
// described above; `HookFn` is Send, so a hook may be freed on any thread.
unsafe impl Send for Hooks {}
// SAFETY: as above; the list is behind a mutex, the flags are atomic.
unsafe impl Sync for Hooks {}

impl Hooks {
    fn new() -> Arc<Hooks> {
        Arc::new(Hooks {
            serial: Mutex::new(()),
            live: Mutex::new(Vec::new()),
            prune: AtomicBool::new(false),
        })
    }

    fn live(&self) -> MutexGuard<'_, Vec<NonNull<Hook>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, f: HookFn, types: u32) -> NonNull<Hook> {
        let hook = Box::new(Hook {
            hooks: self,
            f,
            types,
            confirmed: AtomicBool::new(false),
        });
        let p = NonNull::from(Box::leak(hook));
        LIVE_HOOKS.fetch_add(1, Ordering::SeqCst);
        self.live().push(p);
        p
    }

    /// Frees a hook the core never had.
    fn remove(&self, hook: NonNull<Hook>) {
        self.live().retain(|&h| h != hook);
        // SAFETY: the core refused the call that would have installed it, so nothing else
        // refers to it.
        unsafe { free_hooks(vec![hook]) };
    }

    /// Records that the core has `hook` (`None`: no hook); with `all`, frees every hook,
    /// none of which the core can call any more.
    fn installed(&self, hook: Option<NonNull<Hook>>, all: bool) {
        let dead = {
            let mut live = self.live();
            if let Some(h) = hook {
                // SAFETY: listed hooks are alive until freed under this lock or later.
                unsafe { h.as_ref() }
                    .confirmed
                    .store(true, Ordering::SeqCst);
                self.prune.store(true, Ordering::SeqCst);
            }
            if all {
                std::mem::take(&mut *live)
            } else {
                Vec::new()
            }
        };
        // SAFETY: see the type's documentation: off, from outside a hook.
        unsafe { free_hooks(dead) };
    }

    /// On the engine thread, while `current` is the core's hook: frees every other hook
    /// whose installing call returned.
    fn prune_for(&self, current: *const Hook) {
        let dead = {
            let mut live = self.live();
            let mut dead = Vec::new();
            live.retain(|&h| {
                // SAFETY: listed hooks are alive.
                let keep = ptr::eq(h.as_ptr(), current)
                    || !unsafe { h.as_ref() }.confirmed.load(Ordering::SeqCst);
                if !keep {
                    dead.push(h);
                }
                keep
            });
            self.prune.store(false, Ordering::SeqCst);
            dead
        };
        // SAFETY: see the type's documentation: replaced, and not running.
        unsafe { free_hooks(dead) };
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        let all = std::mem::take(&mut *self.live());
        // SAFETY: dropped after llmsvc_client_destroy returned: no hook runs or will run.
        unsafe { free_hooks(all) };
    }
}

/// Frees hooks taken out of a `Hooks` list.
///
/// # Safety
/// The core must not call any of them again and none may be running.
unsafe fn free_hooks(hooks: Vec<NonNull<Hook>>) {
    for h in hooks {
        // SAFETY: each came from Box::leak in `Hooks::add` and is freed once, here; the
        // caller promises nothing uses it any more.
        drop(unsafe { Box::from_raw(h.as_ptr()) });
        LIVE_HOOKS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Event trampoline: hands the event to the hook given as payload (null: events are off,
/// this one was built before).
unsafe extern "C" fn on_event(
    kind: c_uint,
    request_id: u64,
    json: *const c_char,
    len: usize,
    payload: *mut c_void,
) {
    if payload.is_null() {
        return;
    }
    // SAFETY: `payload` is a Hook the core has now, so it is not freed before this call
    // returns (see `Hooks`); its `hooks` outlives it.
    let hook = unsafe { &*payload.cast::<Hook>() };
    // SAFETY: as above.
    let hooks = unsafe { &*hook.hooks };
    let outer = RUNNING_HOOKS.with(|r| r.replace(hook.hooks));
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if hooks.prune.load(Ordering::SeqCst) {
            hooks.prune_for(hook);
        }
        let Some(kind) = EventKind::from_bit(kind) else {
            return;
        };
        if hook.types & kind.types().bits() == 0 {
            return; // built for the hook this one replaced, which asked for other events
        }
        let json = if json.is_null() || len == 0 {
            String::new()
        } else {
            // SAFETY: the core passes `len` readable bytes valid during this call; copied.
            let bytes = unsafe { std::slice::from_raw_parts(json.cast::<u8>(), len) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        let event = Event {
            kind,
            request_id,
            json,
        };
        // A panic in the hook stops here (the default panic hook has reported it).
        let _ = catch_unwind(AssertUnwindSafe(|| (hook.f)(&event)));
    }));
    RUNNING_HOOKS.with(|r| r.set(outer));
}

/// An owned `llmsvc_client`, destroyed on drop, with its event hooks.
pub(crate) struct RawClient {
    ptr: NonNull<sys::llmsvc_client>,
    hooks: Arc<Hooks>,
}

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
            Some(ptr) if rc == sys::LLMSVC_OK => Ok(RawClient {
                ptr,
                hooks: Hooks::new(),
            }),
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
        how: Submit,
    ) -> Result<u64, Error> {
        let payload = Box::into_raw(Box::new(Arc::clone(slot))).cast::<c_void>();
        LIVE_PAYLOADS.fetch_add(1, Ordering::SeqCst);
        let mut id = 0u64;
        let mut err = ptr::null_mut();
        // SAFETY: the client is live; the request is NUL-terminated and copied; the
        // trampolines match the callback types; `payload` stays valid until on_complete.
        let rc = unsafe {
            match how {
                Submit::Plain => sys::llmsvc_client_submit(
                    self.ptr.as_ptr(),
                    request.as_ptr(),
                    Some(on_complete),
                    payload,
                    &mut id,
                    &mut err,
                ),
                Submit::Text => sys::llmsvc_client_submit_stream(
                    self.ptr.as_ptr(),
                    request.as_ptr(),
                    Some(on_delta),
                    Some(on_complete),
                    payload,
                    &mut id,
                    &mut err,
                ),
                Submit::Pieces => sys::llmsvc_client_submit_stream_pieces(
                    self.ptr.as_ptr(),
                    request.as_ptr(),
                    Some(on_piece),
                    Some(on_complete),
                    payload,
                    &mut id,
                    &mut err,
                ),
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
            sys::llmsvc_client_generate(self.ptr.as_ptr(), request.as_ptr(), &mut out, &mut err)
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
        unsafe { sys::llmsvc_client_cancel(self.ptr.as_ptr(), id) == sys::LLMSVC_OK }
    }

    pub(crate) fn set_limits(&self, limits: &CStr) -> Result<(), Error> {
        let mut err = ptr::null_mut();
        // SAFETY: the client is live; the document is NUL-terminated and copied.
        let rc =
            unsafe { sys::llmsvc_client_set_limits(self.ptr.as_ptr(), limits.as_ptr(), &mut err) };
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
            sys::llmsvc_client_set_deployment(self.ptr.as_ptr(), deployment.as_ptr(), &mut err)
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
        let rc = unsafe { call(self.ptr.as_ptr(), &mut out, &mut err) };
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

    /// Sets the event hook (`f` `None` or `types` 0: turns events off).
    pub(crate) fn set_event_hook(
        &self,
        types: u32,
        flags: u32,
        f: Option<HookFn>,
    ) -> Result<(), Error> {
        let hooks = &*self.hooks;
        let in_hook = running_hooks_of(&self.hooks);
        let _serial = (!in_hook).then(|| hooks.serial.lock().unwrap_or_else(|e| e.into_inner()));
        let hook = match f {
            Some(f) if types != 0 => Some(hooks.add(f, types)),
            _ => None,
        };
        let (events, flags, payload) = match hook {
            Some(h) => (types, flags, h.as_ptr().cast::<c_void>()),
            None => (0, 0, ptr::null_mut()),
        };
        let mut err = ptr::null_mut();
        // SAFETY: the client is live; the trampoline matches the callback type; `payload`
        // is null or a Hook that stays alive while the core may call it (see `Hooks`).
        // With events off the trampoline (rather than NULL) stays, so that events built
        // before are dropped instead of going to the completion queue.
        let rc = unsafe {
            sys::llmsvc_client_set_event_hook(
                self.ptr.as_ptr(),
                events,
                flags,
                Some(on_event),
                payload,
                &mut err,
            )
        };
        if rc != sys::LLMSVC_OK {
            if let Some(h) = hook {
                hooks.remove(h);
            }
            return Err(call_error(rc, err));
        }
        hooks.installed(hook, hook.is_none() && !in_hook);
        Ok(())
    }

    /// Refuses new work and completes every pending request with `shut_down`. From an
    /// event hook the core refuses it (the engine thread cannot stop itself).
    pub(crate) fn close(&self) {
        // SAFETY: the client is live; close is idempotent and thread-safe, and refused
        // with LLMSVC_ERECURSIVE on the engine thread.
        unsafe { sys::llmsvc_client_close(self.ptr.as_ptr()) };
    }
}

/// A client whose last reference was dropped by one of its own event hooks, destroyed on
/// another thread.
struct DeferredDestroy {
    ptr: NonNull<sys::llmsvc_client>,
    hooks: Arc<Hooks>,
}

// SAFETY: as for RawClient.
unsafe impl Send for DeferredDestroy {}

impl Drop for DeferredDestroy {
    fn drop(&mut self) {
        if running_hooks_of(&self.hooks) {
            // The thread could not be started: leak rather than free hooks still in use.
            std::mem::forget(Arc::clone(&self.hooks));
            return;
        }
        // SAFETY: nothing else refers to the client; not its engine thread. Every callback
        // has run when destroy returns, and only then are the hooks freed (with `hooks`).
        unsafe { sys::llmsvc_client_destroy(self.ptr.as_ptr()) };
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        if running_hooks_of(&self.hooks) {
            // A hook dropped the last Client. The core refuses destroy on its engine thread,
            // and this hook is still running: destroy from another thread, which waits for
            // the hook to return, then frees the hooks.
            let d = DeferredDestroy {
                ptr: self.ptr,
                hooks: Arc::clone(&self.hooks),
            };
            let _ = std::thread::Builder::new()
                .name("llmsvc-destroy".into())
                .spawn(move || drop(d));
            return;
        }
        // SAFETY: the last reference is gone, so no other thread is inside a call on this
        // client, and this is not its engine thread (no hook of it runs here; completions
        // never hold a client reference). Every callback has run when destroy returns;
        // the hooks are freed after it, with `self.hooks`.
        unsafe { sys::llmsvc_client_destroy(self.ptr.as_ptr()) };
    }
}
