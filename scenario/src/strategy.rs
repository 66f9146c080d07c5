//! The guest library's strategies: how it keeps suspended tasks' shadow stacks. One
//! list for scenarios (`"strategies"`), xtask's flags, the guest's cargo features and
//! the file names of expected transcripts; xtask's tidy test holds the other copies
//! (the guest's features, jspi.h, the Node runner's `STRATEGIES`) to [`Strategy::ALL`].

/// How the guest library keeps suspended tasks' shadow stacks (a cargo feature of
/// `guest/jspi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Does nothing: shows the bug.
    None,
    /// Copies a task's whole range out at every suspend and back at every resume.
    Eager,
    /// Copies another task's bytes only when they are about to be overwritten.
    Lazy,
    /// Lazy while tasks resume newest-first, saving at suspend once they do not.
    Adaptive,
}

impl Strategy {
    /// Every strategy, in the order runs and files use.
    pub const ALL: [Strategy; 4] = [
        Strategy::None,
        Strategy::Eager,
        Strategy::Lazy,
        Strategy::Adaptive,
    ];

    /// The name used in scenarios, flags, features and file names.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::None => "none",
            Strategy::Eager => "eager",
            Strategy::Lazy => "lazy",
            Strategy::Adaptive => "adaptive",
        }
    }

    /// The strategy called `name`, if any.
    pub fn parse(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }

    /// `none, eager, lazy, adaptive`, for messages.
    pub fn names() -> String {
        Strategy::ALL.map(Strategy::name).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        assert_eq!(Strategy::names(), "none, eager, lazy, adaptive");
        for strategy in Strategy::ALL {
            assert_eq!(Strategy::parse(strategy.name()), Some(strategy));
        }
        assert_eq!(Strategy::parse("greedy"), None);
        // `ALL` is in `Ord` order: xtask sorts a scenario's strategies by it.
        assert!(Strategy::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
