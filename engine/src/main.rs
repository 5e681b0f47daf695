//! The `weft` command: see `weft --help`.

fn main() -> std::process::ExitCode {
    weft_engine::cli::main()
}
