//! Identities shown in file names.

use std::fmt;

/// A container's identity (its UUID as two words). `Display` gives the name
/// of the container's files and directories in a store and its targets:
/// `c-` and 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContainerId(pub [u64; 2]);

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c-{:016x}{:016x}", self.0[0], self.0[1])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn displays_as_the_file_name() {
        assert_eq!(super::ContainerId([1, 0xab]).to_string(), "c-000000000000000100000000000000ab");
    }
}
