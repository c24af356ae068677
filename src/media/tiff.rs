//! TODO
use super::{MediaError, Metadata, ReadAt};
pub fn read(_src: &dyn ReadAt) -> Result<Metadata, MediaError> { Ok(Metadata::default()) }
