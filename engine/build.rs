//! Links the `weft` binary as a fixed-address (non-PIE) executable on Linux with the GNU toolchain.
//!
//! A position-independent `weft` carries ~62,000 relative relocations (wasmtime, Cranelift and the rest
//! hold tables of pointers); the dynamic loader writes every one at start-up, copying ~230 pages of
//! read-only-after-relocation data, which cost ~1.4 ms of every command (`weft --version` 3.4 ms, 1.8 ms
//! fixed-address; `scripts/bench-run start` 7.3 ms, 5.7 ms). A fixed-address executable needs none. What
//! is given up is the randomised load address of the executable itself; shared libraries, heap, stacks and
//! the instance pool stay randomised, and guests address only their own linear memory.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
