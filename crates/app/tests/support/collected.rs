//! What a child process (openssl s_client, curl) writes, collected on a
//! thread of its own, and waits for what the test expects in it. Shared by
//! the in-process tests of zgate-app and the binary's tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The bytes of a stream so far, and whether it has ended.
#[derive(Default)]
pub struct Collected {
    state: Mutex<(Vec<u8>, bool)>,
    added: Condvar,
}

impl Collected {
    /// Collects `stream` until it ends.
    pub fn of(mut stream: impl Read + Send + 'static) -> Arc<Collected> {
        let collected = Arc::new(Collected::default());
        let into = collected.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                let mut state = into.state.lock().unwrap();
                if n == 0 {
                    state.1 = true;
                } else {
                    state.0.extend_from_slice(&buf[..n]);
                }
                into.added.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        collected
    }

    /// Everything so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.state.lock().unwrap().0.clone()
    }

    /// Everything so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.state.lock().unwrap().0).into_owned()
    }

    /// Waits until `f` finds what it looks for in the bytes so far; `None`
    /// when the stream ended or `within` passed first.
    pub fn wait_until<T>(
        &self,
        within: Duration,
        mut f: impl FnMut(&[u8]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + within;
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(found) = f(&state.0) {
                return Some(found);
            }
            if state.1 {
                return None;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self.added.wait_timeout(state, left).unwrap().0;
        }
    }

    /// Waits until the text so far contains `needle`.
    pub fn wait_for_text(&self, within: Duration, needle: &str) -> bool {
        self.wait_until(within, |bytes| {
            String::from_utf8_lossy(bytes)
                .contains(needle)
                .then_some(())
        })
        .is_some()
    }
}

/// Where the HTTP/1.1 response starting at `from` in `bytes` ends (head
/// and `Content-Length` body), once it is all there.
pub fn response_end(bytes: &[u8], from: usize) -> Option<usize> {
    let text = bytes.get(from..)?;
    let head_end = text.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&text[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let end = from + head_end + 4 + length;
    (bytes.len() >= end).then_some(end)
}
