//! skein-chain.
