//! SQLite registers (SPEC.md 3.4). Being written.
use std::path::Path;

use super::{Loaded, RegisterErrors};
use crate::model::Vocabulary;

pub fn load(_path: &Path, _vocabulary: &Vocabulary) -> Result<Loaded, RegisterErrors> {
    Err(RegisterErrors(Vec::new()))
}
