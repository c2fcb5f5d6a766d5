use clap::Parser;

fn main() -> std::process::ExitCode {
    xnonce::cli::run(xnonce::cli::Cli::parse())
}
