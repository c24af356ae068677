//! Writes the deterministic fixture archive (every format, person source and RDF style, with
//! its oracle `EXPECTED.json`) into the directory given as the only argument.
//!
//! ```text
//! cargo run --example make_fixtures -- DIR
//! ```
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: make_fixtures DIR");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    match consentry_synth::write_fixture_archive(&dir) {
        Ok(()) => {
            println!("wrote fixture archive to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make_fixtures: {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
