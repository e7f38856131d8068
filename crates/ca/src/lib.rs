//! skein-ca.
