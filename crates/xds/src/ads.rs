//! The Aggregated Discovery Service.
