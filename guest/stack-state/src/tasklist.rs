//! An intrusive doubly linked list of task indices, used twice: the lazy strategies'
//! *live list* (the suspended tasks that still have bytes at their own addresses,
//! ordered by address, highest first) and the adaptive strategy's *suspend order* (every
//! suspended task, the one that suspended last at the bottom).
//!
//! Each record knows its neighbours, so a task leaves a list in constant time wherever
//! it is (a task that resumes, a task that is dropped) and a list never needs a search.
//! On the live list, tasks whose ranges are empty sit at the same address as their
//! neighbours; their order among themselves does not matter, since they hold no bytes,
//! but each one is on the list at most once.
//!
//! ```text
//!   top ──► A ◄──► B ◄──► C ◄── bottom        A.start >= B.stop, B.start >= C.stop
//!           │      │      └ the lowest live bytes: where the host runs (`parked`)
//!           └ the highest
//! ```
//!
//! Links hold an index plus one, so that 0 is "no task" and an empty list is all zero
//! bytes: a guest's state in a `static` then costs nothing in the module's data.

/// No task: the end of the list in either direction.
const NIL: u16 = 0;

/// The link to task `index`.
const fn link(index: u16) -> u16 {
    index + 1
}

/// The task a link names, if any.
const fn target(link: u16) -> Option<u16> {
    link.checked_sub(1)
}

/// The links of up to `N` tasks (indices below `N`, which is below `u16::MAX`).
pub(crate) struct TaskList<const N: usize> {
    /// Toward the top (higher addresses, or earlier suspends); `NIL` for the top.
    above: [u16; N],
    /// Toward the bottom; `NIL` for the bottom.
    below: [u16; N],
    /// Whether each task is on the list.
    linked: [bool; N],
    top: u16,
    bottom: u16,
    len: usize,
}

impl<const N: usize> TaskList<N> {
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

    /// The task at the bottom (the lowest live bytes; the last to suspend), if any.
    pub(crate) fn bottom(&self) -> Option<u16> {
        target(self.bottom)
    }

    /// Whether task `index` is on the list.
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn contains(&self, index: u16) -> bool {
        self.linked[index as usize]
    }

    /// Puts task `index`, which must not be on the list yet, below every other entry.
    pub(crate) fn push_bottom(&mut self, index: u16) {
        let i = index as usize;
        debug_assert!(!self.linked[i], "a task is on a list at most once");
        self.linked[i] = true;
        self.above[i] = self.bottom;
        self.below[i] = NIL;
        match target(self.bottom) {
            None => self.top = link(index),
            Some(old) => self.below[old as usize] = link(index),
        }
        self.bottom = link(index);
        self.len += 1;
    }

    /// Takes task `index` off the list if it is on it; constant time.
    pub(crate) fn remove(&mut self, index: u16) {
        let i = index as usize;
        if !self.linked[i] {
            return;
        }
        let (above, below) = (self.above[i], self.below[i]);
        match target(above) {
            None => self.top = below,
            Some(a) => self.below[a as usize] = below,
        }
        match target(below) {
            None => self.bottom = above,
            Some(b) => self.above[b as usize] = above,
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
            let here = target(at)?;
            at = self.below[here as usize];
            Some(here)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn entries<const N: usize>(list: &TaskList<N>) -> Vec<u16> {
        list.iter().collect()
    }

    #[test]
    fn entries_leave_from_anywhere_and_the_ends_follow() {
        let mut list = TaskList::<8>::new();
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
