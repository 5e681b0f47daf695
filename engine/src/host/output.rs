//! A guest's WASI stdout and stderr, captured into the run's log instead of the host's terminal: what an
//! invocation printed is written as log lines (target `weft::step`, `stream = stdout|stderr`) when it ends,
//! at most [`MAX_OUTPUT`] bytes per invocation; the rest is dropped and counted, never refused (a guest's
//! `println!` must not fail).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::host::logging::LogContext;

/// Most bytes of stdout and stderr (together) kept from one invocation.
pub const MAX_OUTPUT: usize = 64 * 1024;

#[derive(Default)]
struct Buffer {
    /// `(stream, bytes)` in the order written; consecutive writes to one stream share an entry.
    chunks: Vec<(&'static str, Vec<u8>)>,
    kept: usize,
    dropped: usize,
}

/// One instance's captured output, shared by its stdout and stderr streams.
#[derive(Clone, Default)]
pub struct CapturedOutput(Arc<Mutex<Buffer>>);

impl CapturedOutput {
    /// The WASI stream for `stream` (`"stdout"` or `"stderr"`).
    pub fn stream(&self, stream: &'static str) -> Stream {
        Stream { name: stream, buffer: self.0.clone() }
    }

    /// Write what was captured since the last call to `log`, one line per line printed, then forget it.
    pub fn flush_to(&self, log: &LogContext) {
        let taken = {
            let mut buffer = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if buffer.chunks.is_empty() && buffer.dropped == 0 {
                return;
            }
            std::mem::take(&mut *buffer)
        };
        for (stream, bytes) in &taken.chunks {
            for line in String::from_utf8_lossy(bytes).lines() {
                log.output(stream, line);
            }
        }
        if taken.dropped > 0 {
            let message = format!(
                "{} more bytes of output dropped (at most {} per invocation are kept)",
                taken.dropped,
                weft_definitions::limits::human(MAX_OUTPUT as u64)
            );
            log.output("stderr", &message);
        }
    }
}

/// A guest's stdout or stderr.
#[derive(Clone)]
pub struct Stream {
    name: &'static str,
    buffer: Arc<Mutex<Buffer>>,
}

impl Stream {
    fn keep(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let room = MAX_OUTPUT.saturating_sub(buffer.kept);
        let (kept, dropped) = bytes.split_at(bytes.len().min(room));
        buffer.kept += kept.len();
        buffer.dropped += dropped.len();
        if kept.is_empty() {
            return;
        }
        match buffer.chunks.last_mut() {
            Some((name, chunk)) if *name == self.name => chunk.extend_from_slice(kept),
            _ => buffer.chunks.push((self.name, kept.to_vec())),
        }
    }
}

impl IsTerminal for Stream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Stream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Stream {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Stream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready: past the bound, writes are dropped, not refused.
        Ok(MAX_OUTPUT)
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
