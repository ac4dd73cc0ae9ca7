//! JSON bodies for the errors hyper answers on its own, before any router sees
//! the request: 414 (a URI over 64 KiB), 431 (a request head over hyper's
//! buffer, or too many headers) and 400 (an unparsable request line or header).
//! Hyper sends these with an empty body; API clients get the API's error shape
//! (`{"error": {"code", "message"}}`) like every other 4xx.
//!
//! The connection's IO is wrapped: a write that is exactly such a bodiless
//! automatic answer is replaced by the same status with a JSON body. Nothing
//! else is touched. Hyper answers before it knows the path, so web pages get
//! the JSON body for these too (no page could be rendered for them anyway).
//! The edge's accept loop (`edge::serve`) wraps every accepted stream in
//! [`JsonHeadErrors::new`].

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's IO with hyper's bodiless automatic error answers replaced.
pub struct JsonHeadErrors<T> {
    inner: T,
    /// A replacement being written in place of hyper's answer, and how much of it is out.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> JsonHeadErrors<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncWrite + Unpin> JsonHeadErrors<T> {
    /// Writes out what is left of a replacement.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((buf, done)) = &mut self.pending {
            if *done == buf.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonHeadErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonHeadErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.drive(cx))?;
        if let Some(replacement) = replacement_for(buf) {
            this.pending = Some((replacement, 0));
            // Hyper's bytes count as written: the replacement goes out in their
            // place, now or at the flush that follows.
            if let Poll::Ready(Err(e)) = this.drive(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drive(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drive(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
    // Not vectored: hyper then writes each response head as one buffer, which
    // is what `replacement_for` recognises.
}

/// The JSON answer for hyper's automatic `buf`, if it is one: a status hyper
/// answers parse errors with, a whole head and nothing after it, no content
/// type and `content-length: 0`. Anything the router answered has a body or a
/// content type, and passes untouched.
fn replacement_for(buf: &[u8]) -> Option<Vec<u8>> {
    let (status, code, message) = if buf.starts_with(b"HTTP/1.1 414 ") {
        (
            "414 URI Too Long",
            "uri_too_long",
            "the request's URI is longer than 65,534 bytes: send long values in a request body",
        )
    } else if buf.starts_with(b"HTTP/1.1 431 ") {
        (
            "431 Request Header Fields Too Large",
            "headers_too_large",
            "the request's headers are too large or too many (at most 100): send fewer or shorter headers",
        )
    } else if buf.starts_with(b"HTTP/1.1 400 ") {
        (
            "400 Bad Request",
            "bad_request",
            "the request is not valid HTTP/1.1 (request line or a header could not be parsed)",
        )
    } else {
        return None;
    };
    let head = std::str::from_utf8(buf).ok()?;
    if head.find("\r\n\r\n")? + 4 != head.len() {
        return None;
    }
    let lines: Vec<&str> = head.trim_end().split("\r\n").skip(1).collect();
    let name = |l: &str| {
        l.split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    let bodiless = lines
        .iter()
        .any(|l| name(l) == "content-length" && l.split(':').nth(1).map(str::trim) == Some("0"));
    if !bodiless || lines.iter().any(|l| name(l) == "content-type") {
        return None;
    }
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for l in lines
        .iter()
        .filter(|l| !matches!(name(l).as_str(), "content-length" | "connection"))
    {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::replacement_for;

    #[test]
    fn only_bodiless_automatic_answers_are_replaced() {
        let auto = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 10:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement_for(auto).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{out}");
        assert!(out.contains("date: Mon, 07 Dec 2026"), "{out}");
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{out}"
        );
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "uri_too_long");
        // The router's own answers: a JSON 400, a response with a body, a 200.
        let routed = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(routed).is_none());
        let with_body =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\nx";
        assert!(replacement_for(with_body).is_none());
        assert!(replacement_for(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
