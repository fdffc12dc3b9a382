fn main() -> std::process::ExitCode {
    sedgate::cli::main()
}
