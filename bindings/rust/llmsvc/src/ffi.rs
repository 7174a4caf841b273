//! The only module with `unsafe`, and the lowest layer: owned handles over the C ABI, the
//! typed reads of a result, the slot a request's future waits on, and the `extern "C"`
//! trampolines the engine thread calls. It knows nothing of the crate's other types.
//!
//! Ownership rules (include/llmsvc.h, docs/threading.md):
//! - a submission hands the core one `Arc<Slot>` reference as its payload; the completion
//!   reclaims it exactly once in the batch callback. A refused submission has no
//!   completion, so the submitter reclaims it at once. Pieces only borrow it: every piece
//!   comes before the one completion;
//! - everything the core would queue (completions and pieces) reaches [`on_batch`], one call
//!   per engine pass; each slot's waker is woken at most once per batch, after every result
//!   of the batch was delivered. The results themselves are read later, on the thread that
//!   polls the future;
//! - the client's [`Shared`] state is the payload of the event and close trampolines; it is
//!   freed only after `llmsvc_client_destroy` returned, when no callback can run any more;
//! - trampolines never unwind into C (`catch_unwind`) and never block; the only user code
//!   they run is wakers and the event hook.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Waker};

use llmsvc_sys as sys;

/// A call the core refused synchronously: its status (`LLMSVC_E...`) and message.
pub(crate) struct Refused {
    pub(crate) status: c_int,
    pub(crate) message: String,
}

/// Completion payloads handed to the core and not yet reclaimed, and event hooks alive.
static LIVE_PAYLOADS: AtomicUsize = AtomicUsize::new(0);
static LIVE_HOOKS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn live_payloads() -> usize {
    LIVE_PAYLOADS.load(Relaxed)
}

pub(crate) fn live_hooks() -> usize {
    LIVE_HOOKS.load(Relaxed)
}

thread_local! {
    /// True while this thread runs one of the trampolines (an engine thread).
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as running a trampoline until dropped.
struct Inside(bool);

impl Inside {
    fn enter() -> Inside {
        Inside(INSIDE.with(|i| i.replace(true)))
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.with(|i| i.set(self.0));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A NUL-terminated string the library lends; "" for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that stays valid for `'a`.
unsafe fn text<'a>(p: *const c_char) -> Cow<'a, str> {
    if p.is_null() {
        return Cow::Borrowed("");
    }
    // SAFETY: as the caller promises.
    unsafe { CStr::from_ptr(p) }.to_string_lossy()
}

/// `len` bytes the library lends; "" for NULL.
///
/// # Safety
/// `p` is NULL or points to `len` bytes that stay valid for `'a`.
unsafe fn bytes<'a>(p: *const c_char, len: usize) -> Cow<'a, str> {
    if p.is_null() || len == 0 {
        return Cow::Borrowed("");
    }
    // SAFETY: as the caller promises.
    String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

pub(crate) fn version() -> String {
    // SAFETY: a static string.
    unsafe { text(sys::llmsvc_version()) }.into_owned()
}

/// The runtime version of the library as one number (MAJOR * 10000 + MINOR * 100 + PATCH),
/// which may be older than the ABI `llmsvc-sys` declares.
pub(crate) fn version_number() -> u32 {
    // SAFETY: no arguments, no state.
    unsafe { sys::llmsvc_version_number() }
}

/// The core's description of a status code.
pub(crate) fn strerror(status: c_int) -> Cow<'static, str> {
    // SAFETY: any int is accepted; the string is static.
    unsafe { text(sys::llmsvc_strerror(status)) }
}

/// The core's name of an error kind: "none" for 0, "unknown" for a number it lacks.
pub(crate) fn kind_name(kind: i64) -> &'static str {
    let kind = c_int::try_from(kind).unwrap_or(-1);
    // SAFETY: any int is accepted; the name is a static string.
    unsafe { CStr::from_ptr(sys::llmsvc_error_kind_name(kind)) }
        .to_str()
        .unwrap_or("unknown")
}

/// The refusal of a call that returned `rc` with the error `err` (NULL or ours, freed here).
fn refused(rc: c_int, err: *mut sys::llmsvc_error) -> Refused {
    // SAFETY: `err` is NULL or the call's error, which is ours: its message is copied
    // before the error is freed, once. Both functions accept NULL.
    let message = unsafe {
        let m = text(sys::llmsvc_error_message(err)).into_owned();
        sys::llmsvc_error_free(err);
        m
    };
    let message = if message.is_empty() {
        strerror(rc).into_owned()
    } else {
        message
    };
    Refused {
        status: rc,
        message,
    }
}

fn check(rc: c_int, err: *mut sys::llmsvc_error) -> Result<(), Refused> {
    match rc {
        sys::LLMSVC_OK => Ok(()),
        _ => Err(refused(rc, err)),
    }
}

fn internal(message: &str) -> Refused {
    Refused {
        status: sys::LLMSVC_EINTERNAL,
        message: message.into(),
    }
}

/// `document` as a C string; `what` names it in the error about a NUL byte.
pub(crate) fn cstring(document: String, what: &str) -> Result<CString, Refused> {
    CString::new(document).map_err(|e| Refused {
        status: sys::LLMSVC_EINVAL,
        message: format!("{what} contains a NUL byte at {}", e.nul_position()),
    })
}

/// A configuration file as the core reads it: llmsvc's JSON configuration and the
/// warnings (a JSON array of strings).
pub(crate) fn load_config(path: &str) -> Result<(String, String), Refused> {
    let path = cstring(path.to_owned(), "the path")?;
    let (mut config, mut warnings, mut err) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: pointers to locals; the path outlives the call.
    let rc =
        unsafe { sys::llmsvc_config_load(path.as_ptr(), &mut config, &mut warnings, &mut err) };
    // SAFETY: both documents are ours (or NULL): copied, then freed once.
    let out = unsafe {
        let out = (text(config).into_owned(), text(warnings).into_owned());
        sys::llmsvc_free(config.cast());
        sys::llmsvc_free(warnings.cast());
        out
    };
    check(rc, err).map(|()| out)
}

/// One result object of the core, freed on drop.
pub(crate) struct RawResult(NonNull<sys::llmsvc_result>);

// SAFETY: docs/threading.md: a result may be used from any thread, by several at once as
// long as none frees it; only Drop frees it, and Drop has it to itself.
unsafe impl Send for RawResult {}
// SAFETY: as above; every method only reads.
unsafe impl Sync for RawResult {}

/// The numbers of an attempt (`LLMSVC_ATTEMPT_*` keys), its provider request id and its
/// deployment.
pub(crate) type RawAttempt<'a> = ([i64; sys::LLMSVC_ATTEMPT_COUNT], Cow<'a, str>, Cow<'a, str>);

impl RawResult {
    fn p(&self) -> *const sys::llmsvc_result {
        self.0.as_ptr()
    }

    /// The request id.
    pub(crate) fn id(&self) -> u64 {
        // SAFETY: the result is live while `self` is.
        unsafe { sys::llmsvc_result_id(self.p()) }
    }

    /// Every number (`LLMSVC_NUM_*` keys) in one call.
    pub(crate) fn numbers(&self) -> [i64; sys::LLMSVC_NUM_COUNT] {
        let mut n = [sys::LLMSVC_UNKNOWN; sys::LLMSVC_NUM_COUNT];
        // SAFETY: `n` has room for the count asked.
        unsafe { sys::llmsvc_result_numbers(self.p(), n.as_mut_ptr(), n.len()) };
        n
    }

    /// One string (`LLMSVC_STR_*` key), borrowed; "" when the result has none.
    pub(crate) fn string(&self, key: c_int) -> Cow<'_, str> {
        let mut len = 0;
        // SAFETY: the string is borrowed from the result, which outlives the borrow.
        unsafe { bytes(sys::llmsvc_result_string(self.p(), key, &mut len), len) }
    }

    /// Attempt `i`.
    pub(crate) fn attempt(&self, i: usize) -> RawAttempt<'_> {
        let mut n = [sys::LLMSVC_UNKNOWN; sys::LLMSVC_ATTEMPT_COUNT];
        let (mut id, mut deployment) = (ptr::null(), ptr::null());
        // SAFETY: `n` has room for the count asked; the strings are borrowed from the
        // result (NULL when `i` is out of range).
        unsafe {
            sys::llmsvc_result_attempt(
                self.p(),
                i,
                n.as_mut_ptr(),
                n.len(),
                &mut id,
                &mut deployment,
            );
            (n, text(id), text(deployment))
        }
    }

    /// Choice `i`: text, finish reason, number of tool calls.
    pub(crate) fn choice(&self, i: usize) -> Option<(Cow<'_, str>, Cow<'_, str>, usize)> {
        let (mut t, mut len, mut finish, mut calls) = (ptr::null(), 0, ptr::null(), 0);
        // SAFETY: pointers to locals; the strings are borrowed from the result.
        unsafe {
            let rc =
                sys::llmsvc_result_choice(self.p(), i, &mut t, &mut len, &mut finish, &mut calls);
            (rc == sys::LLMSVC_OK).then(|| (bytes(t, len), text(finish), calls))
        }
    }

    /// Tool call `j` of choice `i`: id, name, arguments.
    pub(crate) fn tool_call(&self, i: usize, j: usize) -> Option<[Cow<'_, str>; 3]> {
        let (mut id, mut name, mut args) = (ptr::null(), ptr::null(), ptr::null());
        // SAFETY: pointers to locals; the strings are borrowed from the result.
        unsafe {
            let rc =
                sys::llmsvc_result_choice_tool_call(self.p(), i, j, &mut id, &mut name, &mut args);
            (rc == sys::LLMSVC_OK).then(|| [text(id), text(name), text(args)])
        }
    }

    /// A piece of a streamed reply: its `LLMSVC_PIECE_*` kind, tool call index, call id,
    /// name and text; `None` for a result that is not a piece.
    pub(crate) fn piece(&self) -> Option<(c_int, u32, [Cow<'_, str>; 3])> {
        let (mut kind, mut index, mut id, mut name) = (0, 0, ptr::null(), ptr::null());
        // SAFETY: pointers to locals; the strings are borrowed from the result.
        let rc = unsafe {
            sys::llmsvc_result_piece(self.p(), &mut kind, &mut index, &mut id, &mut name)
        };
        // SAFETY: as above.
        let names = unsafe { [text(id), text(name)] };
        let [id, name] = names;
        (rc == sys::LLMSVC_OK).then(|| (kind, index, [id, name, self.string(sys::LLMSVC_STR_TEXT)]))
    }

    /// Vector `i` of an embeddings result, copied; `None` when out of range (or not an
    /// embeddings result). Only for a library of 0.5 or later.
    pub(crate) fn embedding(&self, i: usize) -> Option<Vec<f32>> {
        let mut dims = 0;
        // SAFETY: a pointer to a local; the floats are borrowed from the result, which
        // outlives the copy.
        unsafe {
            let p = sys::llmsvc_result_embedding(self.p(), i, &mut dims);
            (!p.is_null()).then(|| std::slice::from_raw_parts(p, dims).to_vec())
        }
    }

    /// The result document (docs/schema.md), borrowed.
    pub(crate) fn json(&self) -> Cow<'_, str> {
        let mut len = 0;
        // SAFETY: the document is borrowed from the result, which outlives the borrow.
        unsafe { bytes(sys::llmsvc_result_json(self.p(), &mut len), len) }
    }
}

impl Drop for RawResult {
    fn drop(&mut self) {
        // SAFETY: ours, freed exactly once.
        unsafe { sys::llmsvc_result_free(self.0.as_ptr()) }
    }
}

/// Where a request's pieces and completion are delivered, and what its future polls.
#[derive(Default)]
pub(crate) struct Slot(Mutex<SlotState>);

#[derive(Default)]
struct SlotState {
    pieces: VecDeque<RawResult>,
    done: Option<RawResult>,
    finished: bool,
    waker: Option<Waker>,
}

impl SlotState {
    fn wait(&mut self, cx: &Context<'_>) -> Poll<Option<RawResult>> {
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Slot {
    /// The next piece; `Ready(None)` once the completion arrived and every piece was taken.
    pub(crate) fn poll_piece(&self, cx: &Context<'_>) -> Poll<Option<RawResult>> {
        let mut st = lock(&self.0);
        match st.pieces.pop_front() {
            Some(p) => Poll::Ready(Some(p)),
            None if st.finished => Poll::Ready(None),
            None => st.wait(cx),
        }
    }

    /// Takes the completion, dropping pieces not taken; `Ready(None)` once it was taken.
    pub(crate) fn poll_done(&self, cx: &Context<'_>) -> Poll<Option<RawResult>> {
        let mut st = lock(&self.0);
        if !st.finished {
            return st.wait(cx);
        }
        st.pieces.clear();
        Poll::Ready(st.done.take())
    }

    /// Stores a piece or the completion; returns the waker to wake, at most once per wait.
    fn deliver(&self, r: RawResult, completion: bool) -> Option<Waker> {
        let mut st = lock(&self.0);
        if completion {
            st.done = Some(r);
            st.finished = true;
        } else {
            st.pieces.push_back(r);
        }
        st.waker.take()
    }
}

/// Batch trampoline: delivers each completion and piece to its slot, then wakes each
/// waiting future once.
unsafe extern "C" fn on_batch(
    results: *mut *mut sys::llmsvc_result,
    payloads: *mut *mut c_void,
    n: usize,
    _user: *mut c_void,
) {
    let _inside = Inside::enter();
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if n == 0 || results.is_null() || payloads.is_null() {
            return;
        }
        // SAFETY: the core passes `n` results (ours) and `n` payloads, valid during the call.
        let (results, payloads) = unsafe {
            (
                std::slice::from_raw_parts(results, n),
                std::slice::from_raw_parts(payloads, n),
            )
        };
        let mut wakers = Vec::new();
        for (&r, &payload) in results.iter().zip(payloads) {
            let Some(r) = NonNull::new(r).map(RawResult) else {
                continue;
            };
            let slot = payload.cast::<Slot>().cast_const();
            // SAFETY: a live result.
            let waker = match unsafe { sys::llmsvc_result_type(r.p()) } {
                _ if slot.is_null() => None,
                // SAFETY: pieces come before the completion, which alone releases the
                // payload's reference, so the slot is alive; only borrowed.
                sys::LLMSVC_RESULT_DELTA => unsafe { &*slot }.deliver(r, false),
                sys::LLMSVC_RESULT_COMPLETION => {
                    // SAFETY: the reference `RawClient::submit` gave the core; the core
                    // completes each accepted submission exactly once.
                    let slot = unsafe { Arc::from_raw(slot) };
                    LIVE_PAYLOADS.fetch_sub(1, Relaxed);
                    slot.deliver(r, true)
                }
                _ => None, // events reach `on_event`, never this queue
            };
            wakers.extend(waker);
        }
        for w in wakers {
            // A waker that panics stops there (the panic hook reported it).
            let _ = catch_unwind(AssertUnwindSafe(|| w.wake()));
        }
    }));
}

/// An event hook: the events it asked for, and the closure (kind bit, request id, document).
pub(crate) type HookFn = Box<dyn Fn(u32, u64, &str) + Send>;

struct Hook {
    types: u32,
    // Called only on the engine thread, but replaced and dropped from any: the mutex makes
    // a closure that is only `Send` shareable.
    f: Mutex<HookFn>,
}

impl Drop for Hook {
    fn drop(&mut self) {
        LIVE_HOOKS.fetch_sub(1, Relaxed);
    }
}

/// What a client's trampolines share with it: the event hook and the close state.
#[derive(Default)]
struct Shared {
    hook: Mutex<Option<Arc<Hook>>>,
    /// Held while a hook is set, so that the core's event set and `hook` come from the
    /// same call.
    setting_hook: Mutex<()>,
    close_requested: AtomicBool,
    closed: Mutex<(bool, Vec<Waker>)>,
    closed_cv: Condvar,
}

impl Shared {
    fn set_closed(&self) {
        let wakers = {
            let mut c = lock(&self.closed);
            c.0 = true;
            std::mem::take(&mut c.1)
        };
        self.closed_cv.notify_all();
        for w in wakers {
            let _ = catch_unwind(AssertUnwindSafe(|| w.wake()));
        }
    }
}

/// Event trampoline: hands the event to the current hook, if it asked for this kind.
unsafe extern "C" fn on_event(
    kind: u32,
    id: u64,
    json: *const c_char,
    len: usize,
    user: *mut c_void,
) {
    let _inside = Inside::enter();
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `user` is the client's Shared, freed only after destroy returned.
        let shared = unsafe { &*user.cast::<Shared>() };
        let hook = lock(&shared.hook).clone(); // not held while the hook runs
        let Some(hook) = hook.filter(|h| h.types & kind != 0) else {
            return; // off, or built for a hook that asked for other events
        };
        // SAFETY: `len` bytes valid during this call.
        let json = unsafe { bytes(json, len) };
        let f = match hook.f.try_lock() {
            Ok(f) => f,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return, // the hook itself caused this event
        };
        // A panic in the hook stops here (the panic hook reported it), not poisoning `f`.
        let _ = catch_unwind(AssertUnwindSafe(|| f(kind, id, &json)));
    }));
}

/// Close trampoline: wakes whoever waits for the close.
unsafe extern "C" fn on_closed(user: *mut c_void) {
    let _inside = Inside::enter();
    // SAFETY: `user` is the client's Shared, freed only after destroy returned.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        unsafe { &*user.cast::<Shared>() }.set_closed()
    }));
}

/// A client's close, as [`RawClient::close`] started it.
pub(crate) struct CloseHandle(Arc<Shared>);

impl CloseHandle {
    pub(crate) fn poll(&self, cx: &Context<'_>) -> Poll<()> {
        let mut c = lock(&self.0.closed);
        if c.0 {
            return Poll::Ready(());
        }
        if !c.1.iter().any(|w| w.will_wake(cx.waker())) {
            c.1.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Blocks until the close completed; returns at once on an engine thread, where
    /// waiting would never end.
    pub(crate) fn wait(&self) {
        if INSIDE.with(Cell::get) {
            return;
        }
        let mut c = lock(&self.0.closed);
        while !c.0 {
            c = self.0.closed_cv.wait(c).unwrap_or_else(|e| e.into_inner());
        }
    }
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

/// A setting changed at run time with a JSON document.
#[derive(Clone, Copy)]
pub(crate) enum Setting {
    Limits,
    Deployment,
}

/// An owned `llmsvc_client` whose queue goes to [`on_batch`]; destroyed on drop.
pub(crate) struct RawClient {
    ptr: NonNull<sys::llmsvc_client>,
    shared: Arc<Shared>,
}

// SAFETY: docs/threading.md: a client may be used from any thread and shared by any number
// of threads; destroy happens only in Drop, when no other reference exists.
unsafe impl Send for RawClient {}
// SAFETY: as above.
unsafe impl Sync for RawClient {}

impl RawClient {
    pub(crate) fn new(config: &CStr) -> Result<RawClient, Refused> {
        let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: pointers to locals; the configuration is copied.
        check(
            unsafe { sys::llmsvc_client_new(&mut out, config.as_ptr(), &mut err) },
            err,
        )?;
        let ptr = NonNull::new(out).ok_or_else(|| internal("llmsvc_client_new gave no client"))?;
        let client = RawClient {
            ptr,
            shared: Arc::default(),
        };
        // SAFETY: a live client; the trampoline matches the callback type and uses no `user`.
        let rc = unsafe {
            sys::llmsvc_client_set_batch_callback(ptr.as_ptr(), Some(on_batch), ptr::null_mut())
        };
        check(rc, ptr::null_mut()).map(|()| client)
    }

    fn user(&self) -> *mut c_void {
        Arc::as_ptr(&self.shared).cast_mut().cast()
    }

    /// Submits a request whose pieces and completion go to `slot`; returns its id.
    pub(crate) fn submit(
        &self,
        request: &CStr,
        slot: &Arc<Slot>,
        how: Submit,
    ) -> Result<u64, Refused> {
        let payload = Arc::into_raw(Arc::clone(slot)).cast_mut().cast::<c_void>();
        LIVE_PAYLOADS.fetch_add(1, Relaxed);
        let (c, r, mut id, mut err) = (self.ptr.as_ptr(), request.as_ptr(), 0, ptr::null_mut());
        // SAFETY: a live client; the request is copied; without callbacks everything goes
        // to the batch callback, which releases `payload` at the completion.
        let rc = unsafe {
            match how {
                Submit::Plain => sys::llmsvc_client_submit(c, r, None, payload, &mut id, &mut err),
                Submit::Text => {
                    sys::llmsvc_client_submit_stream(c, r, None, None, payload, &mut id, &mut err)
                }
                Submit::Pieces => sys::llmsvc_client_submit_stream_pieces(
                    c, r, None, None, payload, &mut id, &mut err,
                ),
            }
        };
        if rc != sys::LLMSVC_OK {
            // SAFETY: a refused submission has no completion: the reference is still ours.
            drop(unsafe { Arc::from_raw(payload.cast::<Slot>()) });
            LIVE_PAYLOADS.fetch_sub(1, Relaxed);
            return Err(refused(rc, err));
        }
        Ok(id)
    }

    /// Sends a request and blocks until its result.
    pub(crate) fn generate(&self, request: &CStr) -> Result<RawResult, Refused> {
        let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: a live client; pointers to locals; the request is copied.
        let rc = unsafe {
            sys::llmsvc_client_generate(self.ptr.as_ptr(), request.as_ptr(), &mut out, &mut err)
        };
        check(rc, err)?;
        NonNull::new(out)
            .map(RawResult)
            .ok_or_else(|| internal("llmsvc_client_generate gave no result"))
    }

    /// Cancels a request without waiting; its completion follows through the batch.
    pub(crate) fn cancel(&self, id: u64) {
        // SAFETY: a live client; any id is accepted.
        unsafe { sys::llmsvc_client_cancel_async(self.ptr.as_ptr(), id) };
    }

    pub(crate) fn pause(&self, paused: bool) {
        // SAFETY: a live client.
        unsafe { sys::llmsvc_client_pause(self.ptr.as_ptr(), c_int::from(paused)) };
    }

    /// Changes a setting with a JSON document.
    pub(crate) fn set(&self, what: Setting, document: &CStr) -> Result<(), Refused> {
        let call = match what {
            Setting::Limits => sys::llmsvc_client_set_limits,
            Setting::Deployment => sys::llmsvc_client_set_deployment,
        };
        let mut err = ptr::null_mut();
        // SAFETY: a live client; the document is copied.
        check(
            unsafe { call(self.ptr.as_ptr(), document.as_ptr(), &mut err) },
            err,
        )
    }

    /// The metrics snapshot as JSON, or in the Prometheus text format.
    pub(crate) fn metrics(&self, prometheus: bool) -> Result<String, Refused> {
        let call = match prometheus {
            false => sys::llmsvc_client_metrics,
            true => sys::llmsvc_client_metrics_prometheus,
        };
        let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: a live client; pointers to locals. The document is ours (or NULL):
        // copied, then freed once.
        let (rc, doc) = unsafe {
            let rc = call(self.ptr.as_ptr(), &mut out, &mut err);
            let doc = text(out).into_owned();
            sys::llmsvc_free(out.cast());
            (rc, doc)
        };
        check(rc, err).map(|()| doc)
    }

    /// Sets the event hook (`None` or `types` 0: events off). From the call's return on,
    /// only this hook is called.
    pub(crate) fn set_event_hook(
        &self,
        types: u32,
        flags: u32,
        f: Option<HookFn>,
    ) -> Result<(), Refused> {
        let hook = f.filter(|_| types != 0).map(|f| {
            LIVE_HOOKS.fetch_add(1, Relaxed);
            Arc::new(Hook {
                types,
                f: Mutex::new(f),
            })
        });
        // Not on an engine thread: a call from outside may hold the lock while it waits
        // for that thread, which the core answers directly in a hook.
        let _serial = (!INSIDE.with(Cell::get)).then(|| lock(&self.shared.setting_hook));
        let (events, flags) = if hook.is_some() {
            (types, flags)
        } else {
            (0, 0)
        };
        let mut err = ptr::null_mut();
        // SAFETY: a live client; the trampoline matches the callback type; `user` outlives
        // every callback. The trampoline stays when events are off, so events built before
        // are dropped rather than queued.
        let rc = unsafe {
            sys::llmsvc_client_set_event_hook(
                self.ptr.as_ptr(),
                events,
                flags,
                Some(on_event),
                self.user(),
                &mut err,
            )
        };
        check(rc, err)?;
        let old = std::mem::replace(&mut *lock(&self.shared.hook), hook);
        drop(old); // outside the lock: a hook may hold the last clone of a client
        Ok(())
    }

    /// Refuses new work and completes every pending request with `shut_down`, without
    /// waiting; the handle tells when the last completion was delivered.
    pub(crate) fn close(&self) -> CloseHandle {
        if !self.shared.close_requested.swap(true, Relaxed) {
            // SAFETY: a live client; the trampoline matches; `user` outlives every callback.
            let rc = unsafe {
                sys::llmsvc_client_close_async(self.ptr.as_ptr(), Some(on_closed), self.user())
            };
            if rc != sys::LLMSVC_OK {
                self.shared.set_closed();
            }
        }
        CloseHandle(Arc::clone(&self.shared))
    }
}

/// The destruction of a client, with the state its callbacks use.
struct Destroy(NonNull<sys::llmsvc_client>, Arc<Shared>);

// SAFETY: as for RawClient.
unsafe impl Send for Destroy {}

impl Drop for Destroy {
    fn drop(&mut self) {
        // SAFETY: the last reference: no other thread is inside a call on the client. Every
        // callback has run when destroy returns; the core refuses it on the engine thread.
        if unsafe { sys::llmsvc_client_destroy(self.0.as_ptr()) } == sys::LLMSVC_OK {
            self.1.set_closed();
        } else {
            // Not destroyed: its callbacks may still use the shared state, so keep it.
            std::mem::forget(Arc::clone(&self.1));
        }
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        let destroy = Destroy(self.ptr, Arc::clone(&self.shared));
        if INSIDE.with(Cell::get) {
            // Dropped from a hook or a waker, maybe on this client's engine thread, which
            // cannot destroy itself: destroy from a thread of its own, which waits for the
            // engine thread to finish. Should no thread start, the client is leaked.
            let _ = std::thread::Builder::new()
                .name("llmsvc-destroy".into())
                .spawn(move || drop(destroy));
        } else {
            drop(destroy);
        }
    }
}
