//! skein-intention.
