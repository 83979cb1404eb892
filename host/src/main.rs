//! `ml-connector`: the one binary operators run. Subcommands live in `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
