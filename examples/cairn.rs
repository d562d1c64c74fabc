//! The `cairn` binary: `cargo run --example cairn -- --help`.

fn main() -> std::process::ExitCode {
    cairn_cli::run(
        std::env::args(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        cairn_cli::Terminal::detect(),
    )
}
