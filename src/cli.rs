//! Command-line interface: parses arguments and prints what library calls return.

pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
