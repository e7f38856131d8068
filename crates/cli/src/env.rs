//! Environment lookups, injected so tests never touch process variables.

/// A view of the environment; empty values count as unset (as Go's `os.Getenv`).
pub(crate) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

// === impl Env ===

impl<'a> Env<'a> {
    /// Wraps a lookup function.
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// The non-empty value of `name`, if any.
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }
}
