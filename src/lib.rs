//! consentry: reads who is depicted in photos and videos and checks their consent.
//!
//! Layers, inner to outer: [`xmp`] parses XMP packets and [`people`] finds depicted persons in
//! them (both pure); [`media`] locates metadata inside containers with bounded reads; [`walk`]
//! pairs media files with sidecars; [`scan`] runs the parallel pipeline; [`output`] renders
//! records; [`cli`] holds the command line.
pub mod apply;
pub mod cli;
pub mod config;
pub mod consent;
pub(crate) mod error;
pub mod html;
pub mod media;
pub mod model;
pub mod output;
pub mod own;
pub mod people;
pub mod register;
pub mod report;
pub mod scan;
pub mod state;
pub mod thumbnail;
pub mod walk;
pub mod writeback;
pub mod xmp;
