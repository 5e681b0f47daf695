//! Failer: misbehaves on purpose (business error, trap, endless loop, endless allocation, spoofed engine
//! event) to test error routing and containment; `count` shows the step still works afterwards.

use serde::{Deserialize, Serialize};
use weft_step_sdk::{Context, Error, step};

/// Successful invocations of `count` (a failed invocation must leave this unchanged).
#[derive(Default, Serialize, Deserialize)]
pub struct Failer {
    attempts: u32,
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

    /// Count one successful invocation; returns the count.
    #[kernel_function]
    fn count(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }
}
