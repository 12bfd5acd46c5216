//! The `provledger` command line: parse arguments, call one library function per command,
//! render the result (text, or JSON with `--json`), pick the exit code (0 ok, 1 a check failed,
//! 2 usage, input or I/O error). Errors go to stderr as one line prefixed `provledger:`.
#![forbid(unsafe_code)]

mod cli;

/// Set when a panic came from redb reading a damaged file.
static DAMAGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn main() {
    // A reader that stops early (`provledger log | head`) closes the pipe: printing then
    // panics in Rust's `println!`, which is not an error of ours. redb trusts the file it reads
    // and may panic on one damaged outside it (its docs): reported as a damaged ledger, exit 1
    // (`verify` never meets one: it reads through redb's integrity check). Anything else that
    // panics is a bug, reported on one line.
    std::panic::set_hook(Box::new(|info| {
        let message = panic_message(info.payload()).replace('\n', " ");
        let in_redb = info.location().is_some_and(|l| l.file().contains("/redb-"));
        if in_redb {
            DAMAGED.store(true, std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "provledger: the ledger file is damaged (redb: {message}); run 'provledger verify'"
            );
        } else if !message.contains("Broken pipe") {
            eprintln!("provledger: internal error (a bug): {message}");
        }
    }));
    let code = match std::panic::catch_unwind(cli::run) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            let code = e
                .downcast_ref::<provledger::Error>()
                .map_or(2, provledger::Error::exit_code);
            let broken_pipe = e.chain().any(|c| c.to_string().contains("Broken pipe"));
            if !broken_pipe {
                eprintln!("provledger: {}", one_line(&e));
            }
            if broken_pipe { 0 } else { code }
        }
        Err(payload) if panic_message(payload.as_ref()).contains("Broken pipe") => 0,
        Err(_) if DAMAGED.load(std::sync::atomic::Ordering::Relaxed) => 1,
        Err(_) => 2,
    };
    std::process::exit(code);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
}

/// The error chain on one line: outermost context first.
fn one_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|c| c.to_string().replace('\n', " "))
        .collect();
    parts.join(": ")
}
