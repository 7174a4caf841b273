//! Checks the hand-written declarations against the linked libllmsvc: the version they
//! follow, the getters' answers for NULL, and (with `LLMSVC_EMULATOR`) a streamed tool call
//! read from the completion queue with `llmsvc_result_piece` and the tool-call getters, and
//! a batch taken with `llmsvc_client_poll_batch` read with the typed getters (0.3) and the
//! keys of 0.4 (provider, server address and port, gate waits).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::ptr;

use llmsvc_sys::*;

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library returns NUL-terminated strings valid while their result lives.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

#[test]
fn the_runtime_is_at_least_the_declared_version() {
    // SAFETY: no arguments; the string is static.
    let (number, name) = unsafe { (llmsvc_version_number(), text(llmsvc_version())) };
    assert!(number >= LLMSVC_VERSION_NUMBER, "runtime {name} ({number})");
}

#[test]
fn new_getters_accept_null() {
    let (mut kind, mut index): (c_int, u32) = (-1, 7);
    // SAFETY: every getter accepts a NULL result; out parameters are locals or NULL.
    unsafe {
        assert_eq!(llmsvc_result_tool_call_count(ptr::null()), 0);
        let rc = llmsvc_result_tool_call(
            ptr::null(),
            0,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(rc, LLMSVC_EINVAL);
        let rc = llmsvc_result_piece(
            ptr::null(),
            &mut kind,
            &mut index,
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(rc, LLMSVC_EINVAL);
    }
}

struct Emulator(Child, u16);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn emulator() -> Option<Emulator> {
    let Some(path) = std::env::var_os("LLMSVC_EMULATOR") else {
        eprintln!("SKIPPED: set LLMSVC_EMULATOR to the llmsvc-emulator binary to run this test");
        return None;
    };
    let mut child = Command::new(path)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    Some(Emulator(child, port))
}

#[test]
fn pieces_in_the_completion_queue_match_the_tool_call_getters() {
    let Some(emu) = emulator() else { return };
    let config = CString::new(format!(
        r#"{{"base_url":"http://127.0.0.1:{}/v1","api_key":"sk-abi","model":"gpt-4o-mini"}}"#,
        emu.1
    ))
    .unwrap();
    let request = CString::new(
        r#"{"prompt":"Use get_weather for Oslo.","tools":[{"type":"function","function":
        {"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},
        "required":["city"]}}}]}"#,
    )
    .unwrap();
    let marker = 0x5eed_usize as *mut c_void;
    let mut client = ptr::null_mut();
    // SAFETY: valid pointers to locals and NUL-terminated documents; the client is destroyed
    // at the end; every result taken from the queue is freed once; borrowed strings are
    // copied before their result is freed.
    unsafe {
        assert_eq!(
            llmsvc_client_new(&mut client, config.as_ptr(), ptr::null_mut()),
            LLMSVC_OK
        );
        let mut id = 0u64;
        let rc = llmsvc_client_submit_stream_pieces(
            client,
            request.as_ptr(),
            None,
            None,
            marker,
            &mut id,
            ptr::null_mut(),
        );
        assert_eq!(rc, LLMSVC_OK);
        let (mut call_id, mut name, mut arguments, mut argument_pieces) =
            (String::new(), String::new(), String::new(), 0);
        loop {
            let mut r = ptr::null_mut();
            let mut payload = ptr::null_mut();
            assert_eq!(
                llmsvc_client_poll(client, 10_000, &mut r, &mut payload),
                LLMSVC_OK
            );
            assert_eq!(payload, marker);
            assert_eq!(llmsvc_result_id(r), id);
            if llmsvc_result_type(r) == LLMSVC_RESULT_DELTA {
                let (mut kind, mut index) = (-1, 9u32);
                let (mut cid, mut cname) = (ptr::null(), ptr::null());
                let rc = llmsvc_result_piece(r, &mut kind, &mut index, &mut cid, &mut cname);
                assert_eq!(rc, LLMSVC_OK);
                match kind {
                    LLMSVC_PIECE_TOOL_CALL => {
                        assert_eq!(index, 0);
                        call_id = text(cid);
                        name = text(cname);
                    }
                    LLMSVC_PIECE_TOOL_ARGUMENTS => {
                        assert_eq!(index, 0);
                        assert_eq!(text(cid), "");
                        arguments += &text(llmsvc_result_text(r));
                        argument_pieces += 1;
                    }
                    k => assert_eq!(k, LLMSVC_PIECE_TEXT),
                }
                llmsvc_result_free(r);
                continue;
            }
            assert_eq!(llmsvc_result_type(r), LLMSVC_RESULT_COMPLETION);
            assert_eq!(llmsvc_result_kind(r), LLMSVC_KIND_NONE);
            assert_eq!(llmsvc_result_tool_call_count(r), 1);
            let (mut i, mut n, mut a) = (ptr::null(), ptr::null(), ptr::null());
            assert_eq!(
                llmsvc_result_tool_call(r, 0, &mut i, &mut n, &mut a),
                LLMSVC_OK
            );
            assert_eq!((text(i), text(n), text(a)), (call_id, name, arguments));
            let rc =
                llmsvc_result_tool_call(r, 1, ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
            assert_eq!(rc, LLMSVC_EINVAL);
            llmsvc_result_free(r);
            break;
        }
        assert!(argument_pieces > 1, "arguments arrive in pieces");
        assert_eq!(llmsvc_client_destroy(client), LLMSVC_OK);
    }
}

#[test]
fn typed_getters_accept_null() {
    let mut n = [0i64; LLMSVC_NUM_COUNT];
    let (null_s, null_n) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: every getter accepts a NULL result; out parameters are locals or NULL.
    unsafe {
        assert_eq!(
            llmsvc_result_number(ptr::null(), LLMSVC_NUM_KIND),
            LLMSVC_UNKNOWN
        );
        assert_eq!(
            llmsvc_result_numbers(ptr::null(), n.as_mut_ptr(), n.len()),
            0
        );
        assert!(llmsvc_result_string(ptr::null(), LLMSVC_STR_TEXT, null_n).is_null());
        assert_eq!(
            llmsvc_result_attempt(ptr::null(), 0, n.as_mut_ptr(), 1, null_s, null_s),
            0
        );
        let rc = llmsvc_result_choice(ptr::null(), 0, null_s, null_n, null_s, null_n);
        assert_eq!(rc, LLMSVC_EINVAL);
    }
}

static CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

unsafe extern "C" fn on_closed(payload: *mut c_void) {
    assert_eq!(payload as usize, 0x5eed);
    CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_batch_reads_with_the_typed_getters_and_close_async_calls_back() {
    let Some(emu) = emulator() else { return };
    let config = CString::new(format!(
        r#"{{"base_url":"http://127.0.0.1:{}/v1","api_key":"sk-abi3","model":"gpt-4o-mini"}}"#,
        emu.1
    ))
    .unwrap();
    let request = CString::new(r#"{"prompt":"typed getters","max_output_tokens":8}"#).unwrap();
    let mut client = ptr::null_mut();
    // SAFETY: valid pointers to locals and NUL-terminated documents; every result taken is
    // freed once; borrowed strings are read before their result is freed; the client is
    // destroyed at the end.
    unsafe {
        assert_eq!(
            llmsvc_client_new(&mut client, config.as_ptr(), ptr::null_mut()),
            LLMSVC_OK
        );
        for i in 1..=3usize {
            let (p, id) = (i as *mut c_void, ptr::null_mut());
            let rc = llmsvc_client_submit(client, request.as_ptr(), None, p, id, ptr::null_mut());
            assert_eq!(rc, LLMSVC_OK);
        }
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let mut out = [ptr::null_mut(); 8];
            let mut payloads = [ptr::null_mut(); 8];
            let mut got = 0;
            let rc = llmsvc_client_poll_batch(
                client,
                10_000,
                out.as_mut_ptr(),
                payloads.as_mut_ptr(),
                out.len(),
                &mut got,
            );
            assert_eq!(rc, LLMSVC_OK);
            for (&r, &p) in out[..got].iter().zip(&payloads[..got]) {
                let mut n = [0i64; LLMSVC_NUM_COUNT + 2];
                // At least the keys this crate knows: a newer library may have more.
                assert!(llmsvc_result_numbers(r, n.as_mut_ptr(), n.len()) >= LLMSVC_NUM_COUNT);
                assert_eq!(n[LLMSVC_NUM_KIND as usize], LLMSVC_KIND_NONE as i64);
                assert_eq!(n[LLMSVC_NUM_HTTP_STATUS as usize], 200);
                assert_eq!(n[LLMSVC_NUM_ATTEMPTS as usize], 1);
                assert!(n[LLMSVC_NUM_PROMPT_TOKENS as usize] > 0);
                assert_eq!(n[LLMSVC_NUM_FIRST_TOKEN_NS as usize], LLMSVC_UNKNOWN);
                assert_eq!(
                    n[LLMSVC_NUM_COUNT], LLMSVC_UNKNOWN,
                    "a key this version lacks"
                );
                let mut len = 0;
                let model = llmsvc_result_string(r, LLMSVC_STR_MODEL, &mut len);
                assert_eq!((text(model), len), ("gpt-4o-mini".to_owned(), 11));
                // 0.4: what telemetry needs.
                assert_eq!(n[LLMSVC_NUM_SERVER_PORT as usize], i64::from(emu.1));
                assert!(n[LLMSVC_NUM_GATE_WAIT_NS as usize] >= 0);
                let provider = llmsvc_result_string(r, LLMSVC_STR_PROVIDER, ptr::null_mut());
                assert_eq!(text(provider), "openai");
                let host = llmsvc_result_string(r, LLMSVC_STR_SERVER_ADDRESS, ptr::null_mut());
                assert_eq!(text(host), "127.0.0.1");
                let answer = text(llmsvc_result_string(r, LLMSVC_STR_TEXT, ptr::null_mut()));
                assert_eq!(answer, text(llmsvc_result_text(r)));
                let mut a = [0i64; LLMSVC_ATTEMPT_COUNT];
                let (mut rid, mut dep) = (ptr::null(), ptr::null());
                let filled =
                    llmsvc_result_attempt(r, 0, a.as_mut_ptr(), a.len(), &mut rid, &mut dep);
                assert_eq!(filled, LLMSVC_ATTEMPT_COUNT);
                assert_eq!(a[LLMSVC_ATTEMPT_HTTP_STATUS as usize], 200);
                assert!(a[LLMSVC_ATTEMPT_GATE_WAIT_NS as usize] >= 0);
                assert_eq!(text(dep), "");
                let (mut t, mut tlen) = (ptr::null(), 0);
                let rc =
                    llmsvc_result_choice(r, 0, &mut t, &mut tlen, ptr::null_mut(), ptr::null_mut());
                assert_eq!((rc, text(t)), (LLMSVC_OK, answer));
                seen.push(p as usize);
                llmsvc_result_free(r);
            }
        }
        seen.sort();
        assert_eq!(seen, [1, 2, 3], "each payload once");
        assert_eq!(
            llmsvc_client_cancel_async(client, 1 << 40),
            LLMSVC_ENOTFOUND
        );
        assert_eq!(llmsvc_client_pause(client, 1), LLMSVC_OK);
        let rc = llmsvc_client_close_async(client, Some(on_closed), 0x5eed as *mut c_void);
        assert_eq!(rc, LLMSVC_OK);
        assert_eq!(llmsvc_client_destroy(client), LLMSVC_OK);
        assert!(
            CLOSED.load(std::sync::atomic::Ordering::SeqCst),
            "called back by destroy at the latest"
        );
    }
}
