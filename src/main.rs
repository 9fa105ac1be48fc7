#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    ged::cli::run()
}
