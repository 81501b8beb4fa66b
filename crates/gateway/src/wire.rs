//! HTTP/1.1 wire details for both directions of the gateway, requests read
//! from clients and responses read from backends, so that both read bytes
//! and judge framing headers the same way.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::AsyncRead;

/// How much is read from a peer at a time.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// Reads what `io` has into `buf`, growing it first when nearly full
/// (a full buffer would read nothing and look like the end of the stream).
/// `Ready(Ok(0))` = end of stream.
pub(crate) fn poll_read_more<IO: AsyncRead + ?Sized>(
    io: Pin<&mut IO>,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_CHUNK);
    }
    tokio_util::io::poll_read_buf(io, cx, buf)
}

/// [`poll_read_more`] as a future.
pub(crate) async fn read_more<IO: AsyncRead + Unpin + ?Sized>(
    io: &mut IO,
    buf: &mut BytesMut,
) -> io::Result<usize> {
    std::future::poll_fn(|cx| poll_read_more(Pin::new(&mut *io), cx, buf)).await
}

/// A `Content-Length` value: digits only (no sign, no list, no spaces
/// inside), as RFC 9112 §6.3 requires of a length a message is framed by.
pub(crate) fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The tokens of a `Connection` header value.
pub(crate) fn connection_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_digits_are_a_length() {
        assert_eq!(content_length(b"0"), Some(0));
        assert_eq!(content_length(b"1234"), Some(1234));
        for bad in [
            &b""[..],
            b"+5",
            b"-1",
            b"5, 5",
            b" 5",
            b"0x10",
            b"99999999999999999999999",
        ] {
            assert_eq!(content_length(bad), None, "{bad:?}");
        }
    }
}
