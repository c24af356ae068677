//! How a library error is shown: its message followed by its causes, joined with `: ` as the
//! command line prints an error chain. Library error enums display their whole text this way
//! (and expose no further source), so that `{e}`, `{e:#}` and an `anyhow` chain all print the
//! same bytes.

use std::error::Error;

/// `e` and each of its sources, joined with `: `.
pub(crate) fn with_causes(e: &(dyn Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_follow_the_message() {
        let sqlite = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some("file is not a database".into()),
        );
        assert_eq!(with_causes(&sqlite), "file is not a database: Error code 11: database disk image is malformed");
        assert_eq!(with_causes(&std::io::Error::other("gone")), "gone");
    }
}
