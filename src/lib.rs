//! consentry: reads who is depicted in photos and videos and checks their consent.
//!
//! The modules, inner to outer (a module uses only those above it in its group or in an
//! inner group):
//!
//! - Pure: [`model`] (registers, consents, scopes, dates, usage vocabulary), [`xmp`] (parsing
//!   XMP packets; the namespace table), [`people`] (the depicted persons in parsed XMP),
//!   [`consent`] (evaluating a file's persons against a register), `written` (consentry's own
//!   fields as recorded in a file's XMP).
//! - Reading: [`media`] (locating metadata inside containers with bounded reads), `walk`
//!   (pairing media files with sidecars), [`scan`] (the parallel read pipeline), [`config`]
//!   (archives and their `consentry.toml`), [`register`] (loading and editing registers),
//!   `state` (the cache of earlier runs and their changes), `own` (the names of the files
//!   consentry itself writes).
//! - Results: [`report`] (report tables), [`output`] (table, CSV, JSON Lines printers),
//!   `html` and `thumbnail` (the HTML report and its thumbnails), [`writeback`] (writing
//!   results into XMP safely).
//! - [`engine`]: the archive commands' pipeline (archives, scan into a sink, evaluation, runs,
//!   `apply`); the `consentry` binary's command line only calls it and prints.
//!
//! Public for an embedding program: `media`, `xmp`, `people`, `consent`, `model`, `register`,
//! `engine`, and what their types carry. The rest is public only where the binary, the
//! integration tests or the benches need it (each says why below).
pub mod config; // the binary: `register` and the register-editing commands discover archives
pub mod consent;
pub mod engine;
pub(crate) mod error; // printing an error with its causes
pub mod html; // the binary: `report --format html`
pub mod media;
pub mod model;
pub mod output; // the binary: printing records and reports
pub mod own; // the binary (`-o` temporary files) and the tests: consentry's own file names
pub mod paths; // the binary: paths named on the command line made absolute (register edits)
pub mod people;
pub mod register;
pub mod report; // the binary: report tables; `engine` hands evaluated files over in them
pub mod scan; // `engine` hands scan records over; the benches and fuzz targets read bytes with it
pub mod state; // the binary: `report changes` reads a state
pub mod thumbnail; // the fuzz target and its regression test: finding previews in any bytes
pub(crate) mod walk;
pub mod writeback; // `engine::apply`'s errors carry its errors
pub mod written; // `scan::FileRecord` carries what a previous `apply` wrote
pub mod xmp;
