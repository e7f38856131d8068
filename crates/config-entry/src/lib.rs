//! skein-config-entry.
