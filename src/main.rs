//! The `jitterd` binary: see the library for everything it does.

fn main() -> std::process::ExitCode {
    jitterd::app::main(std::env::args_os())
}
