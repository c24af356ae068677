//! Writing consentry's XMP back into media files. [`splice`] replaces the XMP packet of the
//! formats consentry writes itself (JPEG, TIFF/DNG, PSD, PNG), copying every other byte; it plans
//! each splice through the layout walkers of [`crate::media`], the ones the scan reads with.
pub mod splice;

pub use splice::*;
