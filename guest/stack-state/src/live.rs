//! The lazy strategy's live list: the suspended tasks that still have bytes at their
//! own addresses, ordered by address, highest first.
//!
//! It is an intrusive doubly linked list over task indices: each record knows its
//! neighbours, so a task leaves the list in constant time wherever it is (a task that
//! resumes, a task that is dropped) and the list never needs a search. Tasks whose
//! ranges are empty sit at the same address as their neighbours; their order among
//! themselves does not matter, since they hold no bytes, but each one is on the list
//! at most once.
//!
//! ```text
//!   top ──► A ◄──► B ◄──► C ◄── bottom        A.start >= B.stop, B.start >= C.stop
//!           │      │      └ the lowest live bytes: where the host runs (`parked`)
//!           └ the highest
//! ```

/// No task: the end of the list in either direction.
const NIL: u16 = u16::MAX;

/// The links of up to `N` tasks (indices below `N`, which is below `u16::MAX`).
pub(crate) struct LiveList<const N: usize> {
    /// Toward higher addresses; `NIL` for the top.
    above: [u16; N],
    /// Toward lower addresses; `NIL` for the bottom.
    below: [u16; N],
    /// Whether each task is on the list.
    linked: [bool; N],
    top: u16,
    bottom: u16,
    len: usize,
}

impl<const N: usize> LiveList<N> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self {
            above: [NIL; N],
            below: [NIL; N],
            linked: [false; N],
            top: NIL,
            bottom: NIL,
            len: 0,
        }
    }

    /// Entries on the list.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The task with the lowest live bytes, if any.
    pub(crate) fn bottom(&self) -> Option<u16> {
        (self.bottom != NIL).then_some(self.bottom)
    }

    /// Puts task `index`, which must not be on the list yet, below every other entry.
    pub(crate) fn push_bottom(&mut self, index: u16) {
        let i = index as usize;
        debug_assert!(!self.linked[i], "a task is on the live list at most once");
        self.linked[i] = true;
        self.above[i] = self.bottom;
        self.below[i] = NIL;
        match self.bottom {
            NIL => self.top = index,
            old => self.below[old as usize] = index,
        }
        self.bottom = index;
        self.len += 1;
    }

    /// Takes task `index` off the list if it is on it; constant time.
    pub(crate) fn remove(&mut self, index: u16) {
        let i = index as usize;
        if !self.linked[i] {
            return;
        }
        let (above, below) = (self.above[i], self.below[i]);
        match above {
            NIL => self.top = below,
            a => self.below[a as usize] = below,
        }
        match below {
            NIL => self.bottom = above,
            b => self.above[b as usize] = above,
        }
        self.linked[i] = false;
        self.above[i] = NIL;
        self.below[i] = NIL;
        self.len -= 1;
    }

    /// Every entry, top first (for consistency checks).
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        let mut at = self.top;
        core::iter::from_fn(move || {
            let here = at;
            (here != NIL).then(|| {
                at = self.below[here as usize];
                here
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn entries<const N: usize>(list: &LiveList<N>) -> Vec<u16> {
        list.iter().collect()
    }

    #[test]
    fn entries_leave_from_anywhere_and_the_ends_follow() {
        let mut list = LiveList::<8>::new();
        for i in [3, 1, 4, 0] {
            list.push_bottom(i);
        }
        assert_eq!(entries(&list), [3, 1, 4, 0]);
        list.remove(1);
        assert_eq!(entries(&list), [3, 4, 0]);
        list.remove(1);
        assert_eq!(list.len(), 3, "removing an absent entry does nothing");
        list.remove(3);
        assert_eq!(entries(&list), [4, 0]);
        assert_eq!(list.bottom(), Some(0));
        list.remove(0);
        assert_eq!(list.bottom(), Some(4));
        list.remove(4);
        assert_eq!(
            (list.len(), list.bottom(), entries(&list)),
            (0, None, Vec::new())
        );
        list.push_bottom(4);
        assert_eq!(entries(&list), [4]);
    }
}
