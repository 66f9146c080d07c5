//! The counters a host reads through `jspi_stat`.

/// Counters for hosts and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Stats {
    /// Bytes copied from the stack into saved blocks.
    pub bytes_saved: u64,
    /// Bytes copied from saved blocks back to the stack.
    pub bytes_restored: u64,
    /// Times another task's bytes were evicted (lazy) or a whole range saved (eager).
    pub evictions: u64,
    /// Tasks alive now.
    pub live_tasks: u64,
    /// Most saved bytes held at once.
    pub peak_saved_bytes: u64,
    /// Saved bytes held now.
    pub saved_bytes: u64,
    /// Suspends so far.
    pub suspends: u64,
    /// Resumes so far.
    pub resumes: u64,
    /// Tasks entered so far.
    pub tasks_entered: u64,
    /// Most tasks alive at once.
    pub peak_live_tasks: u64,
    /// Bytes the allocator obtained from memory growth or its region.
    pub heap_reserved_bytes: u64,
}

impl Stats {
    pub(crate) const ZERO: Stats = Stats {
        bytes_saved: 0,
        bytes_restored: 0,
        evictions: 0,
        live_tasks: 0,
        peak_saved_bytes: 0,
        saved_bytes: 0,
        suspends: 0,
        resumes: 0,
        tasks_entered: 0,
        peak_live_tasks: 0,
        heap_reserved_bytes: 0,
    };

    /// The counter numbered `which` in field order (the order `jspi_stat` uses), or
    /// `None` past the last.
    pub fn get(&self, which: u32) -> Option<u64> {
        let mut copy = *self;
        copy.get_mut(which).map(|counter| *counter)
    }

    /// The counter numbered `which`, to set: how a host fills a `Stats` from
    /// `jspi_stat(0)`, `jspi_stat(1)`, ... until this gives `None`. The one place that
    /// lists the fields in `jspi_stat` order.
    pub fn get_mut(&mut self, which: u32) -> Option<&mut u64> {
        Some(match which {
            0 => &mut self.bytes_saved,
            1 => &mut self.bytes_restored,
            2 => &mut self.evictions,
            3 => &mut self.live_tasks,
            4 => &mut self.peak_saved_bytes,
            5 => &mut self.saved_bytes,
            6 => &mut self.suspends,
            7 => &mut self.resumes,
            8 => &mut self.tasks_entered,
            9 => &mut self.peak_live_tasks,
            10 => &mut self.heap_reserved_bytes,
            _ => return None,
        })
    }
}
