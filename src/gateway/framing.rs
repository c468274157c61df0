//! Refusing ambiguous message framing before hyper sees it (RFC 9112 §6.3, request smuggling).
//!
//! hyper follows the RFC: with both `Transfer-Encoding` and `Content-Length` it frames by the
//! former and drops the latter, and it silently keeps one of two equal `Content-Length`s. That
//! is safe for hyper, but such a request is a smuggling attempt against whatever stands in front
//! of or behind Portcullis, and the issue asks for `400` and a closed connection. hyper hides
//! the dropped headers from the application, so this module watches the raw bytes instead.
//!
//! [`Guarded`] wraps each accepted connection and follows the requests on it: it parses each
//! head with `httparse` (the parser hyper uses), then skips the body by its `Content-Length` or
//! its chunks. A head with both framing headers, or with more than one `Content-Length`, is
//! rewritten into a body-less request carrying [`MARKER`], and whatever follows it is
//! discarded; [`refusal`] answers that request `400` with `Connection: close`. When the
//! guard cannot follow a connection (a head hyper will reject anyway, an upgrade), it steps
//! aside and passes bytes through untouched.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::header::CONNECTION;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http::error::ApiError;

/// The header a refused head is rewritten to carry.
pub const MARKER: &str = "x-portcullis-framing-refused";
/// [`MARKER`] as a header name, for looking it up without parsing it on every request.
pub const MARKER_NAME: HeaderName = HeaderName::from_static(MARKER);

/// Longest request head followed; beyond it the guard steps aside and hyper's limits apply.
const MAX_HEAD: usize = 64 * 1024;
/// Most headers parsed; hyper's own default is 100.
const MAX_HEADERS: usize = 128;
/// Longest chunk-size or trailer line followed.
const MAX_LINE: usize = 4096;
/// Room in hyper's read buffer from which the guard reads into it directly instead of
/// through a buffer of its own.
const IN_PLACE_ROOM: usize = 1024;

/// The answer to a rewritten head (see `crate::http::observe`, which looks for [`MARKER`]):
/// `400`, and the connection is closed.
pub fn refusal() -> Response {
    (
        [(CONNECTION, HeaderValue::from_static("close"))],
        ApiError::BadRequest(
            "The request has both Content-Length and Transfer-Encoding, or more than one Content-Length.".into(),
        ),
    )
        .into_response()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Passing `n` bytes of chunk data, then its CRLF.
    Data(u64),
    /// Reading trailer lines until an empty one.
    Trailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Gathering the next request head.
    Head,
    /// Passing `n` more bytes of a `Content-Length` body.
    Body(u64),
    /// Following a chunked body.
    Chunked(Chunk),
    /// Not following any more: bytes pass as they are.
    Aside,
    /// A head was refused: what follows is discarded.
    Refused,
}

/// A connection whose request framing is checked on the way in; writes pass through.
pub struct Guarded<S> {
    inner: S,
    state: State,
    /// Bytes of the head or line being gathered.
    gathering: Vec<u8>,
    /// Bytes checked and ready for hyper, from `ready_from` on.
    ready: Vec<u8>,
    ready_from: usize,
    eof: bool,
}

impl<S> Guarded<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            state: State::Head,
            gathering: Vec::new(),
            ready: Vec::new(),
            ready_from: 0,
            eof: false,
        }
    }

    /// Follows `input` through the state machine, moving checked bytes to `ready`: what
    /// [`Guarded::verbatim`] lets through as it is, and what it leaves to this copying path —
    /// a head or chunk-size line begun in an earlier read, and a head that is incomplete or
    /// refused.
    fn feed(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            if self.gathering.is_empty() {
                let passed = self.verbatim(input);
                self.ready.extend_from_slice(&input[..passed]);
                input = &input[passed..];
                if input.is_empty() || self.state == State::Refused {
                    return;
                }
            }
            match self.state {
                State::Chunked(chunk @ (Chunk::Size | Chunk::Trailers)) => {
                    // The rest of a line begun in an earlier read.
                    let Some(end) = input.iter().position(|&b| b == b'\n') else {
                        self.gathering.extend_from_slice(input);
                        self.ready.extend_from_slice(input);
                        if self.gathering.len() > MAX_LINE {
                            self.gathering.clear();
                            self.state = State::Aside;
                        }
                        return;
                    };
                    self.gathering.extend_from_slice(&input[..=end]);
                    self.ready.extend_from_slice(&input[..=end]);
                    input = &input[end + 1..];
                    let line = std::mem::take(&mut self.gathering);
                    self.state = next_chunk_state(chunk, &line);
                }
                State::Head => {
                    // A head in pieces, or one that is incomplete or refused. It is judged only
                    // once an empty line has arrived, so a client sending it byte by byte costs
                    // one parse, not one per byte.
                    let searched_from = self.gathering.len().saturating_sub(3);
                    self.gathering.extend_from_slice(input);
                    if !has_head_end(&self.gathering[searched_from..]) {
                        if self.gathering.len() > MAX_HEAD {
                            let head = std::mem::take(&mut self.gathering);
                            self.ready.extend_from_slice(&head);
                            self.state = State::Aside;
                        }
                        return;
                    }
                    let head = std::mem::take(&mut self.gathering);
                    match self.judge_head(&head) {
                        None => self.gathering = head,
                        Some(used) => {
                            // The rest belongs to the body or the next request; `gathering` is
                            // empty now, so this goes at most one call deep.
                            self.feed(&head[used..]);
                        }
                    }
                    return;
                }
                // Only a head or a chunk-size line is ever gathered, and those states are above.
                _ => self.gathering.clear(),
            }
        }
    }

    /// Acts on the verdict on a head at the start of `head`: `None` while it is incomplete;
    /// otherwise how many bytes of `head` it used, with `ready` and the state set for what
    /// follows.
    fn judge_head(&mut self, head: &[u8]) -> Option<usize> {
        match judge(head) {
            Verdict::Incomplete => None,
            Verdict::Pass { used, next } => {
                self.ready.extend_from_slice(&head[..used]);
                self.state = next;
                Some(used)
            }
            Verdict::Refuse(rewritten) => {
                self.ready.extend_from_slice(&rewritten);
                self.state = State::Refused;
                Some(head.len())
            }
            Verdict::Unparseable => {
                self.ready.extend_from_slice(head);
                self.state = State::Aside;
                Some(head.len())
            }
        }
    }

    /// How many leading bytes of `input` hyper may read as they are, following them through
    /// the state machine without copying them. Stops before a head that is incomplete or
    /// refused; [`Guarded::feed`] takes over from there. Only called with nothing gathered.
    fn verbatim(&mut self, input: &[u8]) -> usize {
        let mut at = 0;
        while at < input.len() {
            let rest = &input[at..];
            match self.state {
                State::Aside => return input.len(),
                State::Refused => return at,
                State::Body(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    at += take;
                    let left = left - take as u64;
                    self.state = if left == 0 { State::Head } else { State::Body(left) };
                }
                State::Chunked(Chunk::Data(left)) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    at += take;
                    let left = left - take as u64;
                    self.state = State::Chunked(if left == 0 { Chunk::Size } else { Chunk::Data(left) });
                }
                State::Chunked(chunk @ (Chunk::Size | Chunk::Trailers)) => {
                    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                        // A line in pieces passes as it arrives and is remembered until it ends.
                        self.gathering.extend_from_slice(rest);
                        if self.gathering.len() > MAX_LINE {
                            self.gathering.clear();
                            self.state = State::Aside;
                        }
                        return input.len();
                    };
                    self.state = next_chunk_state(chunk, &rest[..=end]);
                    at += end + 1;
                }
                State::Head => {
                    if !has_head_end(rest) {
                        return at;
                    }
                    match judge(rest) {
                        Verdict::Pass { used, next } => {
                            at += used;
                            self.state = next;
                        }
                        Verdict::Unparseable => {
                            self.state = State::Aside;
                            return input.len();
                        }
                        Verdict::Incomplete | Verdict::Refuse(_) => return at,
                    }
                }
            }
        }
        at
    }

    /// Hands `ready` bytes to hyper.
    fn drain(&mut self, buf: &mut ReadBuf<'_>) {
        let available = &self.ready[self.ready_from..];
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.ready_from += n;
        if self.ready_from == self.ready.len() {
            self.ready.clear();
            self.ready_from = 0;
        }
    }
}

/// Whether `bytes` hold the empty line that ends a head (`\n\n` or `\n\r\n`).
fn has_head_end(bytes: &[u8]) -> bool {
    // A read usually ends where a head ends: that is answered without scanning the bytes.
    if bytes.ends_with(b"\n\r\n") || bytes.ends_with(b"\n\n") {
        return true;
    }
    let mut from = 0;
    while let Some(at) = bytes[from..].iter().position(|&b| b == b'\n') {
        let after = &bytes[from + at + 1..];
        if after.starts_with(b"\n") || after.starts_with(b"\r\n") {
            return true;
        }
        from += at + 1;
    }
    false
}

/// What a head at the start of some bytes means for the connection.
enum Verdict {
    /// Not a whole head yet.
    Incomplete,
    /// It passes as it is: its first `used` bytes, then the connection is in state `next`.
    Pass { used: usize, next: State },
    /// Ambiguous framing: hyper gets this head instead, and nothing after it.
    Refuse(Vec<u8>),
    /// A head hyper refuses too; nothing after it can be followed.
    Unparseable,
}

/// Judges the head at the start of `head`, parsing it with `httparse` (the parser hyper uses).
fn judge(head: &[u8]) -> Verdict {
    // Left uninitialised: the parser writes the headers it finds (no 4 KiB memset per head).
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let used = match request.parse_with_uninit_headers(head, &mut headers) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Verdict::Incomplete,
        Err(_) => return Verdict::Unparseable,
    };
    let mut lengths = request
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"));
    let length = lengths.next();
    let more_lengths = lengths.next().is_some();
    let mut encodings = request
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
        .map(|h| h.value);
    let last_encoding = encodings.next_back();
    if more_lengths || (length.is_some() && last_encoding.is_some()) {
        return Verdict::Refuse(refused_head(&request));
    }
    let upgrade = request.method == Some("CONNECT")
        || request.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("connection")
                && h.value
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
        });
    let next = if let Some(last) = last_encoding {
        let chunked = last
            .rsplit(|&b| b == b',')
            .next()
            .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        if chunked && !upgrade {
            State::Chunked(Chunk::Size)
        } else {
            State::Aside
        }
    } else if let Some(length) = length {
        match std::str::from_utf8(length.value)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            _ if upgrade => State::Aside,
            Some(0) => State::Head,
            Some(n) => State::Body(n),
            None => State::Aside,
        }
    } else if upgrade {
        State::Aside
    } else {
        State::Head
    };
    Verdict::Pass { used, next }
}

/// The state after one chunk-size or trailer line.
fn next_chunk_state(chunk: Chunk, line: &[u8]) -> State {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match chunk {
        Chunk::Trailers if line.is_empty() => State::Head,
        Chunk::Trailers => State::Chunked(Chunk::Trailers),
        _ => {
            let size = line.split(|&b| b == b';').next().unwrap_or(b"");
            let size = std::str::from_utf8(size)
                .ok()
                .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
            match size {
                Some(0) => State::Chunked(Chunk::Trailers),
                // The data, then the CRLF that ends it.
                Some(n) => State::Chunked(Chunk::Data(n + 2)),
                None => State::Aside,
            }
        }
    }
}

/// The head hyper gets instead of a refused one: same request line and headers, no framing
/// headers, no body, and the marker.
fn refused_head(request: &httparse::Request<'_, '_>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(request.method.unwrap_or("GET").as_bytes());
    out.push(b' ');
    out.extend_from_slice(request.path.unwrap_or("/").as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case(MARKER)
        {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(header.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(MARKER.as_bytes());
    out.extend_from_slice(b": 1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    out
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.ready_from < this.ready.len() {
                this.drain(buf);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if this.gathering.is_empty() && this.state != State::Refused && buf.remaining() >= IN_PLACE_ROOM {
                // The usual case: read straight into hyper's buffer and judge the bytes there.
                let start = buf.filled().len();
                ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                let read = &buf.filled()[start..];
                if read.is_empty() {
                    this.eof = true;
                    return Poll::Ready(Ok(()));
                }
                let passed = this.verbatim(read);
                if passed == read.len() {
                    return Poll::Ready(Ok(()));
                }
                // An incomplete or refused head: hyper keeps what came before it, and the rest
                // goes the copying way.
                let rest = read[passed..].to_vec();
                buf.set_filled(start + passed);
                this.feed(&rest);
                if passed > 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // Uninitialised: the socket fills what it reads, and only `filled()` is looked at.
            let mut chunk = [MaybeUninit::<u8>::uninit(); 8192];
            let mut read = ReadBuf::uninit(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let filled = read.filled();
            if this.state == State::Refused {
                // What follows a refused head is discarded. Reporting the end of the stream
                // now would make hyper drop the connection before it answers (it does not
                // serve half-closed connections), so it sees the end only when the client
                // closes; the `Connection: close` answer ends the connection first.
                if filled.is_empty() {
                    this.eof = true;
                }
                continue;
            }
            if filled.is_empty() {
                // The client closed: whatever was gathered goes to hyper as it is.
                this.eof = true;
                let gathered = std::mem::take(&mut this.gathering);
                if this.state == State::Head {
                    this.ready.extend_from_slice(&gathered);
                }
                continue;
            }
            this.feed(filled);
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A connection that delivers its bytes in the given pieces, then ends.
    struct Pieces(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Pieces {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            if let Some(mut piece) = self.0.pop_front() {
                let n = piece.len().min(buf.remaining());
                buf.put_slice(&piece[..n]);
                if n < piece.len() {
                    let rest = piece.split_off(n);
                    self.0.push_front(rest);
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    /// What hyper reads, with a read buffer of `room` bytes, from a connection that delivers
    /// `input` in pieces of `step` bytes and then ends.
    fn read_through(input: &[u8], step: usize, room: usize) -> Vec<u8> {
        let pieces = input.chunks(step.max(1)).map(<[u8]>::to_vec).collect();
        let mut guard = Guarded::new(Pieces(pieces));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        loop {
            let mut space = vec![0u8; room];
            let mut buf = ReadBuf::new(&mut space);
            match Pin::new(&mut guard).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return out,
                Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
                other => panic!("a read that cannot block answered {other:?}"),
            }
        }
    }

    /// What hyper reads from `input` in pieces of `step` bytes, the same whether the guard
    /// judges the bytes in hyper's buffer (a roomy buffer) or copies them (a small one).
    fn through(input: &[u8], step: usize) -> Vec<u8> {
        let in_place = read_through(input, step, 8192);
        let copied = read_through(input, step, 16);
        assert_eq!(
            String::from_utf8_lossy(&in_place),
            String::from_utf8_lossy(&copied),
            "judged in place and copied, in pieces of {step}"
        );
        in_place
    }

    const GOOD: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
GET /b HTTP/1.1\r\nHost: x\r\n\r\n\
POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n\
GET /d HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn well_framed_requests_pass_byte_for_byte_however_they_are_split() {
        for step in [1, 2, 3, 7, 64, GOOD.len()] {
            assert_eq!(through(GOOD, step), GOOD, "pieces of {step}");
        }
    }

    #[test]
    fn ambiguous_framing_is_rewritten_and_what_follows_is_dropped() {
        let cases: &[&[u8]] = &[
            b"POST /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhelloGET /s HTTP/1.1\r\n\r\n",
        ];
        let expected =
            b"POST /x HTTP/1.1\r\nx-portcullis-framing-refused: 1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        for case in cases {
            for step in [1, 5, case.len()] {
                assert_eq!(
                    String::from_utf8_lossy(&through(case, step)),
                    String::from_utf8_lossy(expected),
                    "{:?} in pieces of {step}",
                    String::from_utf8_lossy(case)
                );
            }
        }
        // The second request of a keep-alive connection is judged too.
        let mut pipelined = GOOD.to_vec();
        pipelined.extend_from_slice(cases[0]);
        for step in [3, pipelined.len()] {
            let out = through(&pipelined, step);
            assert!(out.starts_with(GOOD), "pieces of {step}");
            assert_eq!(&out[GOOD.len()..], expected, "pieces of {step}");
        }
    }

    #[test]
    fn a_head_ends_at_the_first_empty_line_wherever_it_is() {
        for (bytes, expected) in [
            (&b"GET / HTTP/1.1\r\n\r\n"[..], true),
            (b"GET / HTTP/1.1\n\n", true),
            (b"GET / HTTP/1.1\r\n\r\nGET /next", true),
            (b"GET / HTTP/1.1\n\nGET /next", true),
            (b"GET / HTTP/1.1\r\nHost: x\r\n", false),
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r", false),
            (b"\n", false),
            (b"", false),
        ] {
            assert_eq!(has_head_end(bytes), expected, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn a_client_sent_marker_is_kept_so_the_request_is_refused() {
        let input = b"GET / HTTP/1.1\r\nX-Portcullis-Framing-Refused: 0\r\n\r\n";
        assert_eq!(through(input, 4), input);
    }

    /// One well-framed request: no body, a `Content-Length` body, or a chunked body (with
    /// chunk extensions and a trailer).
    fn request(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = b"POST /p HTTP/1.1\r\nHost: x\r\n".to_vec();
        match kind % 3 {
            0 => out.extend_from_slice(b"\r\n"),
            1 => {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
            }
            _ => {
                out.extend_from_slice(b"Transfer-Encoding: gzip, chunked\r\n\r\n");
                for piece in body.chunks(7) {
                    out.extend_from_slice(format!("{:x};e=1\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\nX-Trailer: 1\r\n\r\n");
            }
        }
        out
    }

    proptest! {
        #[test]
        fn well_framed_keep_alive_streams_pass_unchanged(
            requests in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40)), 1..8),
            step in 1usize..97,
        ) {
            let input: Vec<u8> = requests.iter().flat_map(|(kind, body)| request(*kind, body)).collect();
            prop_assert_eq!(through(&input, step), input);
        }

        #[test]
        fn bytes_without_ambiguous_framing_pass_unchanged(
            input in proptest::collection::vec(any::<u8>(), 0..512),
            step in 1usize..64,
        ) {
            let lower = String::from_utf8_lossy(&input).to_ascii_lowercase();
            prop_assume!(!lower.contains("content-length") && !lower.contains("transfer-encoding"));
            // Nothing is rewritten: hyper reads what was sent (a head still being gathered
            // when the connection ends goes to hyper as it is).
            prop_assert_eq!(through(&input, step), input);
        }
    }
}
