//! Checks the hand-written declarations against the linked libllmsvc: the version they
//! follow, the getters' answers for NULL, and (with `LLMSVC_EMULATOR`) a streamed tool call
//! read from the completion queue with `llmsvc_result_piece` and the tool-call getters.

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
