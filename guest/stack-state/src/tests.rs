//! Unit tests of the stack state: placement, eviction, limits and the hooks' checks.

use super::*;

fn state(strategy: Strategy) -> StackState<VecMemory, 16> {
    let config = Config {
        stack_low: 0,
        stack_high: 4096,
        min_task_stack: 512,
        max_tasks: 8,
        heap: HeapSource::Grow,
    };
    StackState::new(VecMemory::new(4096, 1 << 20), strategy, config)
}

#[test]
fn lifo_lazy_copies_nothing_and_places_tasks_below_each_other() {
    let mut s = state(Strategy::Lazy);
    let (a, a_sp) = s.enter(4096).unwrap();
    assert_eq!(a_sp, 4096);
    let (_, parked) = s.suspend(4000).unwrap();
    assert_eq!(parked, 4000, "the host runs below A's live bytes");
    let (b, b_sp) = s.enter(parked).unwrap();
    assert_eq!(b_sp, 4000, "B is placed below A");
    let (_, parked) = s.suspend(3900).unwrap();
    assert_eq!(parked, 3900);
    // LIFO: B resumes and ends, then A.
    assert_eq!(s.resume(b, parked).unwrap(), 3900);
    s.done(b).unwrap();
    assert_eq!(s.resume(a, 4000).unwrap(), 4000);
    assert_eq!(
        s.done(a).unwrap(),
        Some(4096),
        "with nothing live the host is back at the top"
    );
    let st = s.stats();
    assert_eq!(
        (st.bytes_saved, st.bytes_restored, st.live_tasks),
        (0, 0, 0)
    );
}

#[test]
fn fifo_lazy_evicts_exactly_the_overlapped_task() {
    let mut s = state(Strategy::Lazy);
    let (a, _) = s.enter(4096).unwrap();
    let (_, p) = s.suspend(4000).unwrap();
    let (b, _) = s.enter(p).unwrap();
    let (_, p) = s.suspend(3900).unwrap();
    // A resumes first: B (below A's stop) must be saved, 100 bytes.
    assert_eq!(s.resume(a, p).unwrap(), 4000);
    assert_eq!(s.stats().bytes_saved, 100);
    s.done(a).unwrap();
    assert_eq!(s.resume(b, 4096).unwrap(), 3900);
    assert_eq!(s.stats().bytes_restored, 100);
    s.done(b).unwrap();
    assert_eq!(s.heap_in_use(), 0, "saved bytes are freed when tasks end");
}

#[test]
fn lazy_evicts_only_the_part_below_a_straddled_stop() {
    let mut s = state(Strategy::Lazy);
    let (a, _) = s.enter(4096).unwrap();
    let (_, p) = s.suspend(4000).unwrap();
    let (b, b_stop) = s.enter(p).unwrap();
    assert_eq!(b_stop, 4000);
    let (_, p) = s.suspend(3800).unwrap();
    // A resumes and suspends deeper, over B's old range: B is saved whole (200).
    s.resume(a, p).unwrap();
    let (_, p) = s.suspend(3950).unwrap();
    assert_eq!(p, 3950);
    assert_eq!(s.stats().bytes_saved, 200);
    // B resumes: only A's bytes below B's stop, [3950, 4000), are in its way.
    assert_eq!(s.resume(b, p).unwrap(), 3800);
    let st = s.stats();
    assert_eq!((st.bytes_saved, st.bytes_restored), (250, 200));
    assert_eq!(
        s.done(b).unwrap(),
        Some(4000),
        "A's upper part is still live above 4000"
    );
    assert_eq!(s.resume(a, 4000).unwrap(), 3950);
    assert_eq!(
        s.stats().bytes_restored,
        250,
        "only A's evicted 50 bytes come back"
    );
    s.done(a).unwrap();
    assert_eq!(s.stats().saved_bytes, 0);
}

#[test]
fn eager_copies_the_whole_range_every_time() {
    let mut s = state(Strategy::Eager);
    let (a, _) = s.enter(4096).unwrap();
    let (_, p) = s.suspend(4000).unwrap();
    assert_eq!(p, 4096, "eager gives the range back at once");
    assert_eq!(s.resume(a, p).unwrap(), 4000);
    let st = s.stats();
    assert_eq!((st.bytes_saved, st.bytes_restored), (96, 96));
}

#[test]
fn suspending_outside_a_task_names_the_fix() {
    let mut s = state(Strategy::Lazy);
    let err = s.suspend(4096).unwrap_err();
    assert_eq!(err, Error::NotInTask);
    let text = alloc::format!("{err}");
    assert!(text.contains("WebAssembly.promising"), "{text}");
    assert!(!s.can_suspend());
}

#[test]
fn limits_give_errors_and_leave_state_usable() {
    let mut s = state(Strategy::Lazy);
    let mut ids = alloc::vec::Vec::new();
    let mut sp = 4096;
    for _ in 0..8 {
        let (id, at) = s.enter(sp).unwrap();
        ids.push(id);
        sp = s.suspend(at - 16).unwrap().1;
    }
    assert_eq!(s.enter(sp), Err(Error::TooManyTasks { limit: 8 }));
    s.done(ids.pop().unwrap()).unwrap();
    // A synchronous call running deep in the stack cannot fit a nested task.
    s.resume(ids[6], 4096).unwrap();
    assert_eq!(
        s.enter(100),
        Err(Error::CannotFit {
            needed: 512,
            available: 100
        })
    );
    for id in ids {
        s.done(id).unwrap();
    }
    assert_eq!(s.stats().live_tasks, 0);
    assert!(
        s.enter(4096).is_ok(),
        "a fresh task starts after the errors"
    );
}

#[test]
fn a_task_that_dies_in_its_first_segment_leaves_nothing() {
    let mut s = state(Strategy::Lazy);
    let (a, _) = s.enter(4096).unwrap();
    // It traps with the stack pointer deep down; the host's leave restores it.
    assert_eq!(s.leave(a), Ok(Some(4096)));
    assert!(!s.can_suspend());
    assert_eq!(s.stats().live_tasks, 0);
    assert_eq!(s.done(a), Ok(Some(4096)), "done after leave is harmless");
}

#[test]
fn configuration_is_checked_and_a_region_heap_runs_out_cleanly() {
    let mut s = state(Strategy::Eager);
    let bad = Config {
        min_task_stack: 1 << 20,
        ..*s.config()
    };
    assert!(s.configure(bad).is_err());
    let overlapping = Config {
        heap: HeapSource::Region { start: 16, end: 64 },
        ..*s.config()
    };
    assert!(s.configure(overlapping).is_err());
    // 4 KiB of stack, saved bytes in a 128-byte region beyond it.
    s.memory_mut().grow(256).unwrap();
    let region = Config {
        heap: HeapSource::Region {
            start: 4096,
            end: 4224,
        },
        ..*s.config()
    };
    s.configure(region).unwrap();
    let (a, _) = s.enter(4096).unwrap();
    assert!(
        s.configure(region).is_err(),
        "no reconfiguration with a task alive"
    );
    s.suspend(4000).unwrap();
    s.resume(a, 4096).unwrap();
    // 200 bytes do not fit in the region: a clear error, and the task is not kept.
    assert_eq!(s.suspend(3896), Err(Error::OutOfMemory { bytes: 200 }));
    s.done(a).unwrap();
    assert_eq!((s.stats().live_tasks, s.heap_in_use()), (0, 0));
    let (b, _) = s.enter(4096).unwrap();
    assert!(s.suspend(4032).is_ok(), "a fresh task afterwards works");
    s.done(b).unwrap();
}

#[test]
fn stale_ids_are_rejected() {
    let mut s = state(Strategy::Eager);
    let (a, _) = s.enter(4096).unwrap();
    s.suspend(4000).unwrap();
    s.done(a).unwrap();
    assert_eq!(s.resume(a, 4096), Err(Error::TaskEnded(a)));
    let (b, _) = s.enter(4096).unwrap();
    assert_ne!(a, b, "a reused record gets a new generation");
}

#[test]
fn hooks_refuse_made_up_ids_and_change_nothing() {
    let mut s = state(Strategy::Lazy);
    let (a, sp) = s.enter(4096).unwrap();
    let (_, parked) = s.suspend(sp - 64).unwrap();
    let before = s.stats();
    // Index 5 was never used: generation 3 was never handed out for it.
    let bogus = 0x30005;
    assert_eq!(s.done(bogus), Err(Error::UnknownTask(bogus)));
    assert_eq!(s.leave(bogus), Err(Error::UnknownTask(bogus)));
    for id in [0, a & 0xffff, (a & 0xffff_0000) | 0xfff0] {
        assert_eq!(s.done(id), Err(Error::UnknownTask(id)), "{id:#x}");
    }
    assert_eq!(s.stats(), before);
    assert_eq!(
        alloc::format!("jspi_task_done: {}", Error::UnknownTask(bogus)),
        "jspi_task_done: 0x30005 names no task of this instance (a stale or made-up id; \
         pass the id jspi_task_enter returned)"
    );
    assert_eq!(s.resume(a, parked), Ok(sp - 64), "the task is untouched");
    s.done(a).unwrap();
}

#[test]
fn done_after_leave_is_accepted_even_once_the_record_is_reused() {
    let mut s = StackState::<VecMemory, 2>::new(
        VecMemory::new(4096, 1 << 20),
        Strategy::Lazy,
        Config {
            max_tasks: 2,
            ..*state(Strategy::Lazy).config()
        },
    );
    // Three tasks return in their first segments before any `done` comes: with two
    // records, the third reuses the first one's.
    let ids: alloc::vec::Vec<TaskId> = (0..3)
        .map(|_| {
            let (id, _) = s.enter(4096).unwrap();
            assert_eq!(s.leave(id), Ok(Some(4096)));
            id
        })
        .collect();
    assert_eq!(ids[2] & 0xffff, ids[0] & 0xffff, "the record was reused");
    for &id in &ids {
        assert_eq!(s.done(id), Ok(Some(4096)), "{id:#x}");
    }
    assert_eq!(s.done(ids[2]), Ok(Some(4096)), "a second done is harmless");
    // The first task's done came: a later one for its id is stale.
    assert_eq!(s.done(ids[0]), Err(Error::UnknownTask(ids[0])));
}

#[test]
fn leave_from_inside_a_resumed_task_is_refused() {
    let mut s = state(Strategy::Lazy);
    let (a, sp) = s.enter(4096).unwrap();
    let (_, parked) = s.suspend(sp - 32).unwrap();
    assert_eq!(
        s.leave(a),
        Ok(None),
        "the host's own leave, after a suspend"
    );
    s.resume(a, parked).unwrap();
    assert_eq!(s.leave(a), Err(Error::LeaveInsideTask(a)));
    assert!(s.can_suspend(), "the task still runs");
    s.suspend(sp - 48).unwrap();
    s.done(a).unwrap();
}

#[test]
fn a_task_past_the_bottom_of_its_room_is_named() {
    let mut s = state(Strategy::Lazy);
    let (_, sp) = s.enter(4096).unwrap();
    // A frame larger than the room wrapped the stack pointer past address 0.
    let wrapped = 0u32.wrapping_sub(0x100);
    let err = s.suspend(wrapped).unwrap_err();
    assert_eq!(
        err,
        Error::OutsideRoom {
            sp: wrapped,
            stop: sp,
            stack_low: 0,
            min_task_stack: 512
        }
    );
    let text = alloc::format!("{err}");
    assert!(
        text.contains("min_task_stack = 512") && text.contains("JSPI_MIN_TASK_STACK"),
        "{text}"
    );
    // The host starts another task while the dead one's pointer is still wrapped.
    assert_eq!(
        s.enter(wrapped),
        Err(Error::StackPointerOutside {
            sp: wrapped,
            stack_low: 0,
            stack_high: 4096
        })
    );
}

/// Issue 12: two tasks that keep nothing on the shadow stack (empty ranges at the same
/// address) resume in turn. Each resume must take the resuming task off the live list
/// even though another empty task sits below it there; before the fix the entry stayed,
/// every suspend pushed it again, and the list overflowed its `N` slots (a panic).
#[test]
fn frameless_tasks_ping_pong_without_growing_the_live_list() {
    let mut s = state(Strategy::Lazy);
    let (a, a_sp) = s.enter(4096).unwrap();
    let (_, p) = s.suspend(a_sp).unwrap();
    let (b, b_sp) = s.enter(p).unwrap();
    assert_eq!(
        b_sp, a_sp,
        "an empty task leaves the next one at the same address"
    );
    let (_, mut p) = s.suspend(b_sp).unwrap();
    // Far more resumes than the list has slots (16).
    for round in 0..100 {
        for id in [a, b] {
            let sp = s.resume(id, p).unwrap();
            p = s.suspend(sp).unwrap().1;
            assert!(s.live_len() <= 2, "round {round}: {} entries", s.live_len());
        }
    }
    s.done(a).unwrap();
    s.done(b).unwrap();
    assert_eq!((s.live_len(), s.stats().live_tasks), (0, 0));
}

/// Found by the widened simulator: a plain export that keeps nothing on the shadow
/// stack starts a task (the host's `env.start`) with the stack pointer exactly at the
/// parked one. Taken for a top-level task, it would leave live bytes just above where
/// `jspi_call_leave` then puts the stack pointer back, and the next call would run over
/// them; told it is inside a plain call, the state nests it and keeps nothing live.
#[test]
fn a_task_started_inside_a_frameless_plain_call_is_nested() {
    let mut s = state(Strategy::Lazy);
    let token = 4096;
    let (a, sp) = s.enter_within(token, true).unwrap();
    assert_eq!(sp, token);
    let (_, after) = s.suspend(sp - 2).unwrap();
    assert_eq!(
        after, token,
        "a nested task gives the caller its stack pointer back"
    );
    assert_eq!(s.leave(a), Ok(None));
    assert_eq!(s.live_len(), 0, "nothing live above the token");
    assert_eq!(
        s.stats().bytes_saved,
        2,
        "the nested task saved its own bytes"
    );
    s.done(a).unwrap();
}

/// A resumed task that runs off the bottom dies with the stack pointer wrapped; the
/// host's next resume hands that pointer in. The resumed task must give the host the
/// parked pointer back at its suspend, not the wrapped one (found by the simulator).
#[test]
fn a_resume_after_a_dead_segment_gives_the_host_a_sane_stack_pointer() {
    for strategy in [Strategy::Eager, Strategy::Lazy, Strategy::Adaptive] {
        let mut s = state(strategy);
        let (a, sp) = s.enter(4096).unwrap();
        let (_, p) = s.suspend(sp - 16).unwrap();
        let (b, sp) = s.enter(p).unwrap();
        let (_, p) = s.suspend(sp - 16).unwrap();
        s.resume(a, p).unwrap();
        // A dies past the bottom; the host hears of it only later.
        let wrapped = 0u32.wrapping_sub(64);
        let b_sp = s.resume(b, wrapped).unwrap();
        let (_, host) = s.suspend(b_sp).unwrap();
        assert!(host <= 4096, "{strategy:?}: the host got {host:#x}");
        assert_eq!(
            s.stats().live_tasks,
            1,
            "{strategy:?}: the dead task was dropped"
        );
        s.done(a).unwrap();
        s.done(b).unwrap();
    }
}

#[test]
fn stats_ids_name_every_field_once() {
    let mut stats = Stats::default();
    let mut which = 0;
    while let Some(counter) = stats.get_mut(which) {
        *counter = 100 + u64::from(which);
        which += 1;
    }
    assert_eq!(
        which as usize * 8,
        core::mem::size_of::<Stats>(),
        "every field has an id"
    );
    assert_eq!(stats.bytes_saved, 100);
    assert_eq!(stats.heap_reserved_bytes, 110);
    assert!((0..which).all(|i| stats.get(i) == Some(100 + u64::from(i))));
    assert_eq!(stats.get(which), None);
}

#[test]
fn locate_says_where_a_suspended_tasks_bytes_are() {
    for strategy in [Strategy::Eager, Strategy::Lazy, Strategy::Adaptive] {
        let mut s = state(strategy);
        let (a, _) = s.enter(4096).unwrap();
        let (_, p) = s.suspend(4000).unwrap();
        assert_eq!(
            s.locate(a, 3000).unwrap(),
            (3000, 1000),
            "below the range: in place"
        );
        assert_eq!(
            s.locate(a, 4096).unwrap().0,
            4096,
            "above the range: in place"
        );
        let (place, run) = s.locate(a, 4010).unwrap();
        match strategy {
            Strategy::Eager => {
                assert_ne!(place, 4010, "eager saved it: it is in the block");
                assert_eq!(run, 86);
            }
            _ => assert_eq!((place, run), (4010, 86), "lazy left it in place"),
        }
        // B runs over A's lower part under lazy: those bytes move to A's block.
        let (b, _) = s.enter(p).unwrap();
        s.suspend(3900).unwrap();
        if strategy.leaves_bytes_in_place() {
            s.resume(a, 3900).unwrap();
            s.suspend(3950).unwrap();
            // B's range [3900, 4000) lies below A's stop; A now runs from 3950 up.
            let (place, run) = s.locate(b, 3920).unwrap();
            assert_ne!(place, 3920, "B was evicted to make room for A");
            assert_eq!(run, 80);
        }
        assert_eq!(s.current(), None, "nothing runs at the top level");
        s.done(b).unwrap();
        assert_eq!(s.locate(b, 3920), Err(Error::TaskEnded(b)));
        s.done(a).unwrap();
    }
}

#[test]
fn task_locals_are_swapped_at_suspend_and_resume() {
    let mut s = state(Strategy::Lazy);
    s.memory_mut().grow(4096).unwrap();
    let local = 4096 + 64; // outside the shadow stack
    s.register_local(local, 4).unwrap();
    assert!(
        s.register_local(local + 2, 4).is_err(),
        "overlapping regions are refused"
    );
    assert!(
        s.register_local(100, 4).is_err(),
        "the shadow stack is not a local"
    );
    let write = |s: &mut StackState<VecMemory, 16>, v: u32| s.memory_mut().write_u32(local, v);
    let read = |s: &StackState<VecMemory, 16>| s.memory().read_u32(local);
    let (a, _) = s.enter(4096).unwrap();
    assert_eq!(s.current(), Some(a));
    write(&mut s, 1);
    let (_, p) = s.suspend(4000).unwrap();
    let (b, _) = s.enter(p).unwrap();
    write(&mut s, 2);
    s.suspend(3900).unwrap();
    write(&mut s, 3); // the host's own use of the region
    s.resume(a, 3900).unwrap();
    assert_eq!(read(&s), 1, "A sees its own value across its await");
    s.suspend(3990).unwrap();
    s.resume(b, 4096).unwrap();
    assert_eq!(read(&s), 2, "and B its own");
    s.done(b).unwrap();
    s.done(a).unwrap();
    assert_eq!(
        s.heap_in_use(),
        0,
        "the locals blocks are freed with their tasks"
    );
    assert!(
        s.register_local(local + 8, 4).is_ok(),
        "more regions once no task is alive"
    );
}

#[test]
fn task_views_show_ranges_and_evicted_parts() {
    use alloc::vec::Vec;
    let mut s = state(Strategy::Lazy);
    let (a, _) = s.enter(4096).unwrap();
    s.suspend(4000).unwrap();
    let (b, b_sp) = s.enter(s.parked()).unwrap();
    assert_eq!(b_sp, 4000, "B goes below A's live bytes");
    let views: Vec<TaskView> = s.task_views().collect();
    assert_eq!(views.len(), 2);
    assert_eq!(
        (views[0].id, views[0].state, views[0].start, views[0].stop),
        (a, 2, 4000, 4096)
    );
    assert_eq!((views[1].id, views[1].state), (b, 1));
    s.suspend(3900).unwrap();
    s.resume(a, s.parked()).unwrap();
    let b_view = s.task_views().find(|v| v.id == b).unwrap();
    assert_eq!(
        (b_view.start, b_view.stop, b_view.evicted_hi),
        (3900, 4000, 4000)
    );
    assert_ne!(b_view.block, 0, "B's bytes went to a heap block");

    let mut none = state(Strategy::None);
    none.enter(4096).unwrap();
    none.suspend(4000).unwrap();
    let view = none.task_views().next().unwrap();
    assert_eq!(
        (view.start, view.stop, view.evicted_hi, view.block),
        (4000, 4096, 4000, 0)
    );
}

/// One round: three tasks of 100 bytes start (each at the host's stack pointer) and
/// suspend, then resume oldest first and end. Returns where each was placed.
fn fifo_round(s: &mut StackState<VecMemory, 16>) -> [u32; 3] {
    let mut sp = s.parked();
    let mut tasks = [(0, 0); 3];
    for task in &mut tasks {
        let (id, place) = s.enter(sp).unwrap();
        sp = s.suspend(place - 100).unwrap().1;
        *task = (id, place);
    }
    for (id, place) in tasks {
        assert_eq!(s.resume(id, sp).unwrap(), place - 100);
        sp = s.done(id).unwrap().unwrap_or(place);
    }
    tasks.map(|(_, place)| place)
}

#[test]
fn adaptive_learns_fifo_and_reuses_one_place() {
    let mut s = state(Strategy::Adaptive);
    // Fresh, it behaves like lazy: each task goes below the last.
    assert_eq!(fifo_round(&mut s), [4096, 3996, 3896]);
    assert_eq!(s.bytes_saved_at_suspend(), 0);
    assert_eq!(fifo_round(&mut s), [4096, 3996, 3896], "still learning");
    // Out-of-order resumes seen: the second and third tasks are saved as they suspend
    // (A's bytes are live above them), so the third goes where the second was.
    let before = s.stats();
    assert_eq!(fifo_round(&mut s), [4096, 3996, 3996]);
    let after = s.stats();
    assert_eq!(s.bytes_saved_at_suspend(), 200);
    assert_eq!(
        after.bytes_saved - before.bytes_saved,
        200,
        "what lazy copies too"
    );
    assert_eq!(after.bytes_restored - before.bytes_restored, 200);
    assert_eq!(s.heap_in_use(), 0);
}

#[test]
fn adaptive_in_lifo_is_lazy_and_copies_nothing() {
    let mut s = state(Strategy::Adaptive);
    for _ in 0..4 {
        let mut sp = s.parked();
        let mut tasks = [(0, 0); 3];
        for task in &mut tasks {
            let (id, place) = s.enter(sp).unwrap();
            sp = s.suspend(place - 100).unwrap().1;
            *task = (id, place);
        }
        assert_eq!(tasks.map(|(_, place)| place), [4096, 3996, 3896]);
        for (id, place) in tasks.into_iter().rev() {
            assert_eq!(s.resume(id, sp).unwrap(), place - 100);
            sp = s.done(id).unwrap().unwrap_or(place);
        }
    }
    let st = s.stats();
    assert_eq!((st.bytes_saved, st.bytes_restored), (0, 0));
}
