//! The node's UUID: from config, else persisted in the data dir, else new.

use std::path::Path;

use crate::{Error, Result};

/// Returns the configured id, or the one saved under `data_dir`, or a new
/// one (saved when there is a data dir).
pub(crate) fn node_id(configured: Option<&str>, data_dir: Option<&Path>) -> Result<String> {
    if let Some(id) = configured {
        return Ok(id.to_owned());
    }
    let Some(dir) = data_dir else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    let path = dir.join("node-id");
    let file_err = |source| Error::File {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(id) if uuid::Uuid::parse_str(id.trim()).is_ok() => return Ok(id.trim().to_owned()),
        _ => {}
    }
    std::fs::create_dir_all(dir).map_err(file_err)?;
    let id = uuid::Uuid::new_v4().to_string();
    std::fs::write(&path, &id).map_err(file_err)?;
    Ok(id)
}
