//! The `provledger` command line: parse arguments, call one library function per command,
//! render the result (text, or JSON with `--json`), pick the exit code (0 ok, 1 a check failed,
//! 2 usage, input or I/O error). Errors go to stderr as one line prefixed `provledger:`.
#![forbid(unsafe_code)]

mod cli;

fn main() {
    let code = match cli::run() {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .downcast_ref::<provledger::Error>()
                .map_or(2, provledger::Error::exit_code);
            eprintln!("provledger: {}", one_line(&e));
            code
        }
    };
    std::process::exit(code);
}

/// The error chain on one line: outermost context first.
fn one_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|c| c.to_string().replace('\n', " "))
        .collect();
    parts.join(": ")
}
