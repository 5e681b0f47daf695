//! Failer: misbehaves on purpose (business error, trap, endless loop, endless allocation, spoofed engine
//! event, floods of events, huge data or state, reaching for files and sockets it was not granted) to test
//! error routing and containment; `count` shows the step still works afterwards.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// Successful invocations of `count` (a failed invocation must leave this unchanged).
#[derive(Default, Serialize, Deserialize)]
pub struct Failer {
    attempts: u32,
    /// Filler that `bloat` grows the state with.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    padding: String,
}

#[step]
impl Failer {
    /// Always fail with `reason` (after bumping `attempts`, which the engine must discard).
    #[kernel_function]
    fn explode(&mut self, ctx: &Context, reason: String) -> Result<(), Error> {
        self.attempts += 1;
        ctx.emit_public("Exploding", &reason)?;
        Err(Error::new(reason))
    }

    /// Trap (a Rust panic inside the component).
    #[kernel_function]
    fn crash(&mut self, reason: String) {
        self.attempts += 1;
        panic!("{reason}");
    }

    /// Loop forever.
    #[kernel_function]
    fn spin(&mut self) -> u64 {
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
            if n == u64::MAX {
                return n;
            }
        }
    }

    /// Allocate until memory runs out.
    #[kernel_function]
    fn hog(&mut self) -> usize {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            blocks.push(vec![1u8; 16 << 20]);
            if blocks.len() == usize::MAX {
                return blocks.len();
            }
        }
    }

    /// Emit an event named like the engine's own automatic events.
    #[kernel_function]
    fn spoof(&mut self, ctx: &Context) -> Result<(), Error> {
        ctx.emit("explode.OnResult", &"forged")?;
        Ok(())
    }

    /// Emit `count` events.
    #[kernel_function]
    fn flood(&mut self, ctx: &Context, count: u32) -> Result<(), Error> {
        for i in 0..count {
            ctx.emit("Drop", &i)?;
        }
        Ok(())
    }

    /// Emit one event of `megabytes` MB of data (a JSON string of that many bytes).
    #[kernel_function]
    fn huge(&mut self, ctx: &Context, megabytes: u32) -> Result<(), Error> {
        ctx.emit("Huge", &"x".repeat(megabytes as usize * 1_000_000))?;
        Ok(())
    }

    /// Keep a state of `megabytes` MB.
    #[kernel_function]
    fn bloat(&mut self, megabytes: u32) {
        self.padding = "x".repeat(megabytes as usize * 1_000_000);
    }

    /// Read a file of the host's (WASI grants no directories, so this fails).
    #[kernel_function]
    fn read_file(&mut self, path: String) -> Result<String, Error> {
        std::fs::read_to_string(&path).map_err(|e| Error::new(format!("cannot read {path}: {e}")))
    }

    /// Open a TCP connection to `address` (WASI grants no network, so this fails).
    #[kernel_function]
    fn connect(&mut self, address: String) -> Result<(), Error> {
        std::net::TcpStream::connect(&address)
            .map(|_| ())
            .map_err(|e| Error::new(format!("cannot connect to {address}: {e}")))
    }

    /// Count one successful invocation; returns the count.
    #[kernel_function]
    fn count(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }
}
