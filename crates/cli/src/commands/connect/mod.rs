//! `connect` commands: today only the Connect CA's configuration.

pub(crate) mod ca;
