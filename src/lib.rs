//! consentry: reads who is depicted in photos and videos and checks their consent.
//!
//! The modules, inner to outer (a module uses only modules of its own or an inner group):
//!
//! - Leaves and pure logic: [`i18n`] (the output's language: Fluent messages, dates), [`model`] (register types, scopes, dates, name normalisation),
//!   [`paths`] (lexical path arithmetic), [`own`] (the files consentry itself writes and how they
//!   are created), [`xmp`] (parsing XMP packets; the namespace table), [`written`] (consentry's
//!   own fields as recorded in a file's XMP), [`people`] (the depicted persons in parsed XMP),
//!   [`consent`] (a file's effective consent against a register, and its account person by person).
//! - Reading: [`media`] (one layout walker per container; metadata located with bounded reads),
//!   `walk` (the walk with sidecar pairing), [`config`] (archives and their `consentry.toml`),
//!   [`scan`] (reading every file and its sidecars in parallel, typed read errors),
//!   [`register`] (loading, editing and exporting registers), [`state`] (the cache of earlier
//!   runs and their changes).
//! - Results: [`report`] (typed report rows per kind), [`output`] (printers into any writer),
//!   [`thumbnail`] and [`html`] (the HTML report), [`writeback`] (writing results into XMP
//!   safely).
//! - [`engine`]: the archive commands' pipeline (archives, scan into a sink, evaluation, runs,
//!   `apply`); the `consentry` binary's command line only calls it and prints.
//!
//! Public for an embedding program: `media`, `xmp`, `people`, `consent`, `model`, `register`,
//! `engine`, and what their types carry. The rest is public only where the binary, the
//! integration tests, the fuzz targets or the benches need it (each says why below).
pub mod config; // the binary: `register` and the register-editing commands discover archives
pub mod consent;
pub mod engine;
pub(crate) mod error; // printing an error with its causes
pub mod html; // the binary: `report --format html`
pub mod i18n; // the binary: `--lang`; the printers and the HTML report show its words
pub mod media;
pub mod model;
pub mod output; // the binary: printing records and reports
pub mod own; // the binary (`-o` temporary files) and the tests: consentry's own file names
pub mod paths; // the binary: paths named on the command line made absolute (register edits)
pub mod people;
pub mod register;
pub mod report;
pub mod results; // the binary: `scan --results` writes a shard's results, `merge` reads a set // the binary: report tables; `engine` hands evaluated files over in them
pub mod scan; // `engine` hands scan records over; the benches and fuzz targets read bytes with it
pub mod state; // the binary: `report changes` reads a state
pub mod thumbnail; // the fuzz target and its regression test: finding previews in any bytes
pub(crate) mod walk;
pub mod writeback; // `engine::apply`'s errors carry its errors
pub mod written; // `scan::FileRecord` carries what a previous `apply` wrote
pub mod xmp;
