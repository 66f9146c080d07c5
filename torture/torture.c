/* The torture guest: tasks that fill their shadow-stack frames with canaries and
 * check every one of them after every await (torture/README.md; `cargo xtask torture`).
 *
 * A task is a chain of recursive `level` calls, each with a local array of bytes (a
 * VLA) and a `frame` record that links it to its caller's:
 *
 *     shadow stack, high addresses first
 *     | level 0: frame {up = 0}, bytes[size]          |  <- the task's first frame
 *     | level 1: frame {up = level 0}, bytes[size+8]  |
 *     | ...                                           |
 *     | level depth-1                                 |  <- the task's stack pointer
 *
 * Every byte of every array holds canary(id, level, index), so bytes of another task,
 * of another level or a shifted range all differ. After each await the task walks the
 * chain from the deepest frame up and checks each record and each byte; the first
 * difference fails the task with a message naming task, level, byte, expected and
 * found values. The value each await returns is checked too.
 *
 * `bare` is a task with no frame at all. Besides tasks, the host makes plain calls:
 * `scribble` and `deep` (deep frames, which may trap at the bottom or run off the
 * bottom of the shadow stack), `spawner` (starts a task from inside itself), `misuse`
 * (the library's hooks called with ids they must refuse) and `plan` (makes a task
 * start a child task after one of its awaits).
 *
 * The schedule (which tasks, in which order, what settles when) comes from the host's
 * scenario; this module only reacts to its arguments, so a schedule is replayable. */
#include "jspi_host.h"

/* Fails the calling task (or call) with a message: the guest library's own import. */
JSPI_IMPORT("jspi", "fail") void jspi_fail(const char *message, int32_t len);

/* The host's hooks (the library's exports), called here from guest code, which they
 * must refuse or shrug off (`misuse`, faults 5 and 6); and the running task's id. */
void jspi_task_leave(uint32_t id);
void jspi_task_done(uint32_t id);
uint32_t jspi_task_current(void);

#define MAGIC 0x7a3b9c1du
#define MAX_DEPTH 8
/* Task ids (`T<id>`) index the tables below modulo this. */
#define MAX_IDS 256
/* A made-up library id: generation 0x7fff, which a task record reaches only after
 * 32,766 reuses (an instance here enters a few dozen tasks). */
#define BOGUS_ID(id) (0x7fff0000u | ((uint32_t)(id)&0xffffu))

/* The library's id of task T<i> (jspi_task_current at its start), 0 before. In
 * static memory, never on the shadow stack. */
static uint32_t task_ids[MAX_IDS];

/* plans[i]: a child task for T<i> to start through the host (`env.start`) right after
 * its await number `after` (from 0), with the arguments of `task`; args[0] (the
 * child's id) is 0 for none, and is cleared when the child starts. */
static struct plan {
    int32_t after;
    int32_t args[8];
} plans[MAX_IDS];

/* One level's record, on the shadow stack next to its bytes. */
struct frame {
    struct frame *up;   /* the caller's frame, 0 at level 0 */
    uint8_t *bytes;     /* this level's array */
    uint32_t size;      /* its length */
    uint32_t level;
    uint32_t id;
    uint32_t magic;     /* MAGIC ^ id ^ level */
};

/* What a task was asked to do and how far it got; lives in the task's first frame. */
struct ctx {
    uint32_t id, depth, size, awaits, delays, churn, fault, io;
    uint32_t awaited;   /* awaits done so far */
    int32_t sum;        /* of the values awaited */
};

static uint8_t canary(uint32_t id, uint32_t level, uint32_t i) {
    uint32_t x = id * 0x9e3779b1u ^ (level + 1) * 0x85ebca77u ^ (i + 1) * 0xc2b2ae3du;
    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    x ^= x >> 12;
    return (uint8_t)x;
}

/* Appends `s` at `out`; returns the end. */
static char *put(char *out, const char *s) {
    while (*s) *out++ = *s++;
    return out;
}

/* Fails the task: "corrupt: task ID level L WHAT: expected E, found F". */
static void __attribute__((noreturn))
corrupt(uint32_t id, uint32_t level, const char *what, uint32_t index, uint32_t expected,
        uint32_t found) {
    char message[160];
    char *p = put(message, "corrupt: task ");
    p = jspi_format_u64(p, id);
    p = put(p, " level ");
    p = jspi_format_u64(p, level);
    p = put(p, " ");
    p = put(p, what);
    if (index != (uint32_t)-1) p = jspi_format_u64(p, index);
    p = put(p, ": expected ");
    p = jspi_format_u64(p, expected);
    p = put(p, ", found ");
    p = jspi_format_u64(p, found);
    jspi_fail(message, (int32_t)(p - message));
    __builtin_unreachable();
}

/* Checks the record at `f` and every record and byte above it; `deepest` is the level
 * `f` must be at. A corrupted `up` link is caught before it is followed. */
static void check_chain(const struct ctx *cx, const struct frame *f, uint32_t deepest) {
    uint32_t memory_end = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
    for (uint32_t level = deepest + 1; level-- > 0;) {
        if ((uintptr_t)f == 0 || (uintptr_t)f > memory_end - sizeof *f) {
            corrupt(cx->id, level, "frame link", (uint32_t)-1, 1, (uint32_t)(uintptr_t)f);
        }
        if (f->magic != (MAGIC ^ cx->id ^ level)) {
            corrupt(cx->id, level, "frame record", (uint32_t)-1, MAGIC ^ cx->id ^ level,
                    f->magic);
        }
        if (f->size != cx->size + 8 * level ||
            (uintptr_t)f->bytes > memory_end - f->size) {
            corrupt(cx->id, level, "frame size", (uint32_t)-1, cx->size + 8 * level, f->size);
        }
        for (uint32_t i = 0; i < f->size; i++) {
            uint8_t want = canary(cx->id, level, i);
            if (f->bytes[i] != want) corrupt(cx->id, level, "byte ", i, want, f->bytes[i]);
        }
        f = f->up;
    }
    if (f != 0) corrupt(cx->id, 0, "frame link above level 0", (uint32_t)-1, 0,
                        (uint32_t)(uintptr_t)f);
}

/* Whether the guest library was built with strategy none. */
static int none_strategy(void) {
    const char *name = jspi_strategy();
    return name[0] == 'n';
}

/* An await that brings bytes into a slice of `target`'s array (this level's, or the
 * task's first): through jspi_await_bytes (`how` 1) or the host writing into the
 * suspended task through its library's task memory (`how` 2, 3). The slice is first
 * set to the complement of what must arrive, then checked, then given its canaries
 * back; its offset and length (1-4096 bytes) vary with the task and the await, so
 * slices straddle bytes in place and bytes saved. */
static void io_await(struct ctx *cx, const struct frame *f, const struct frame *target,
                     uint32_t n, int32_t ms, uint32_t how) {
    uint32_t h = canary(cx->id, n, 77) | (uint32_t)canary(cx->id, n, 78) << 8 |
                 (uint32_t)canary(cx->id, n, 79) << 16;
    uint32_t offset = h % target->size;
    uint32_t len = 1 + (h >> 8) % (target->size - offset);
    if (len > 4096) len = 4096;
    int32_t seed = (int32_t)(cx->id * 31 + n);
    uint8_t *dst = target->bytes + offset;
    for (uint32_t i = 0; i < len; i++) dst[i] = (uint8_t)~jspi_host_pattern(seed, (int32_t)i);
    int32_t got = how == 1 ? jspi_await_bytes(bytes_after((int32_t)len, seed, ms), dst, len)
                           : jspi_await_int(read_into(dst, (int32_t)len, seed, ms));
    if (got != (int32_t)len) corrupt(cx->id, target->level, "io length", n, len, (uint32_t)got);
    for (uint32_t i = 0; i < len; i++) {
        uint8_t want = jspi_host_pattern(seed, (int32_t)i);
        if (dst[i] != want) corrupt(cx->id, target->level, "io byte ", offset + i, want, dst[i]);
        dst[i] = canary(cx->id, target->level, offset + i);
    }
    cx->sum += got;
    check_chain(cx, f, f->level);
}

/* The task's planned child (`plan`), if it is due after await `n`: started through
 * the host from this resumed segment, so it runs on top of this task's live frames
 * until it first suspends; then this task checks its whole chain again. */
static void start_planned(struct ctx *cx, const struct frame *f, uint32_t n) {
    struct plan *p = &plans[cx->id % MAX_IDS];
    if (p->args[0] == 0 || (uint32_t)p->after != n) return;
    int32_t args[8];
    for (int i = 0; i < 8; i++) args[i] = p->args[i];
    p->args[0] = 0; /* once */
    char name[16] = "T";
    *jspi_format_u64(name + 1, (uint32_t)args[0]) = 0;
    jspi_host_start(name, "task", args, 8);
    check_chain(cx, f, f->level);
}

/* One await: a promise of a known int that settles after 0-3 ms (two bits of
 * `delays` per await, reused after 16), then the whole chain is checked; or, as two
 * bits of `io` per await say (1 await_bytes, 2 a host write into this level, 3 one
 * into the first level), bytes brought into a slice of a frame (`io_await`). */
static void await_and_check(struct ctx *cx, const struct frame *f) {
    uint32_t n = cx->awaited++;
    int32_t ms = (int32_t)((cx->delays >> (2 * (n % 16))) & 3);
    // Under strategy none frames are corrupted freely, and a write steered by a
    // corrupted frame can land anywhere (and has hung the guest): none awaits ints.
    uint32_t how = none_strategy() ? 0 : (cx->io >> (2 * (n % 16))) & 3;
    const struct frame *target = f;
    if (how == 3) {
        while (target->up != 0) target = target->up;
    }
    if (how != 0) {
        // Frames corrupted already (as under strategy none) must not steer a write:
        // check them all before bytes go into one.
        check_chain(cx, f, f->level);
    }
    if (how != 0 && target->size > 0) {
        io_await(cx, f, target, n, ms, how);
    } else {
        int32_t want = (int32_t)(cx->id * 1000 + n);
        int32_t got = jspi_await_int(delayed_int(want, ms));
        if (got != want) corrupt(cx->id, f->level, "await value", n, (uint32_t)want, (uint32_t)got);
        cx->sum += got;
        check_chain(cx, f, f->level);
    }
    start_planned(cx, f, n);
}

/* A synchronous call inside a task: recursion that writes its own locals below the
 * task's frames and leaves nothing behind. */
static uint32_t __attribute__((noinline)) churn(uint32_t n, uint32_t seed) {
    volatile uint8_t scratch[200];
    for (uint32_t i = 0; i < sizeof scratch; i++) scratch[i] = (uint8_t)(seed + i);
    escape((void *)scratch);
    return n == 0 ? scratch[7] : churn(n - 1, seed * 31 + 1) + scratch[n % 200];
}

/* Recursion of 16 KiB frames, each filled, with no bottom but the shadow stack's:
 * the frame that passes address 0 wraps the stack pointer, and its first store traps
 * ("memory access out of bounds", with --stack-first). Everything below the caller
 * is free space under eager and lazy (no live byte lies below running code), so this
 * corrupts nothing there; under none it runs over the suspended tasks below. */
static uint32_t __attribute__((noinline)) overrun(uint32_t n) {
    uint32_t block[4096];
    for (uint32_t i = 0; i < 4096; i++) block[i] = n * 4096 + i;
    escape(block);
    // A bound the 1 MiB shadow stack never lets it reach (4096 x 16 KiB is 64 MiB).
    return n == 4096 ? block[1] : overrun(n + 1) + block[n % 4096];
}

/* The fault a task was asked to fail with, at its deepest level, with every frame
 * live: 1 a rejected promise (fails with "rejected with code ID"), 2 a trap
 * ("trap: unreachable"), 3 a host import that throws ("host import failed with code
 * ID"), 4 a synchronous call that runs off the bottom of the shadow stack ("trap:
 * memory access out of bounds"), 5 after an await, the host's `jspi_task_leave` with
 * its own id (refused: "jspi_task_leave: task ID is running a resumed segment ..."),
 * 6 the host's `jspi_task_done` with a made-up id (refused: "jspi_task_done: ID names
 * no task of this instance ..."); 0 none. The guest library must drop the task's
 * state; other tasks go on. */
static void inject(struct ctx *cx, const struct frame *f) {
    switch (cx->fault) {
    case 1:
        (void)jspi_await_int(rejecting((int32_t)cx->id, 1));
        break;
    case 2:
        __builtin_trap();
    case 3:
        failing((int32_t)cx->id);
        break;
    case 4:
        escape((void *)(uintptr_t)overrun(0));
        break;
    case 5:
        // An await first, so that this runs in a resumed segment: in the first one
        // the call cannot be told from the host's own (jspi.h) and ends the task.
        (void)jspi_await_int(delayed_int(0, 0));
        check_chain(cx, f, f->level);
        jspi_task_leave(jspi_task_current());
        break;
    case 6:
        jspi_task_done(BOGUS_ID(cx->id));
        break;
    default:
        break;
    }
}

static void __attribute__((noinline))
level(struct ctx *cx, struct frame *up, uint32_t k) {
    uint32_t size = cx->size + 8 * k;
    uint8_t bytes[size + 1]; /* + 1: a VLA may not be empty */
    struct frame f = {up, bytes, size, k, cx->id, MAGIC ^ cx->id ^ k};
    for (uint32_t i = 0; i < size; i++) bytes[i] = canary(cx->id, k, i);
    escape(&f);
    escape(bytes);

    if (cx->awaits >> (2 * k) & 1) await_and_check(cx, &f);
    if (cx->churn >> k & 1) {
        churn(8, cx->id);
        check_chain(cx, &f, k);
    }
    // MAX_DEPTH bounds the recursion even when `cx` is corrupted (strategy none): a
    // garbage depth would otherwise recurse, await and check for ever.
    if (k + 1 < cx->depth && k + 1 < MAX_DEPTH) {
        level(cx, &f, k + 1);
    } else {
        inject(cx, &f);
    }
    if (cx->awaits >> (2 * k + 1) & 1) await_and_check(cx, &f);
    check_chain(cx, &f, k);
}

/* A task: `depth` levels (1-8) of `size` + 8 * level bytes each (size 0-65536);
 * bit 2k of `awaits` awaits at level k before going deeper, bit 2k+1 after coming
 * back; bit k of `churn` makes a synchronous call at level k; `fault` (0-6, see
 * `inject`) fails the task at its deepest level; `io` (see `await_and_check`) makes
 * awaits bring bytes into its frames. Returns the sum of the values awaited (and of
 * the byte counts), so every host and strategy must print the same result. */
JSPI_EXPORT("task")
int32_t task(int32_t id, int32_t depth, int32_t size, int32_t awaits, int32_t delays,
             int32_t churn_mask, int32_t fault, int32_t io) {
    if (depth < 1 || depth > MAX_DEPTH || size < 0 || size > 65536 || fault < 0 ||
        fault > 6) {
        static const char message[] = "task: depth must be 1-8, size 0-65536, fault 0-6";
        jspi_fail(message, sizeof message - 1);
    }
    struct ctx cx = {
        .id = (uint32_t)id,
        .depth = (uint32_t)depth,
        .size = (uint32_t)size,
        .awaits = (uint32_t)awaits,
        .delays = (uint32_t)delays,
        .churn = (uint32_t)churn_mask,
        .fault = (uint32_t)fault,
        .io = (uint32_t)io,
    };
    escape(&cx);
    task_ids[(uint32_t)id % MAX_IDS] = jspi_task_current();
    level(&cx, 0, 0);
    return cx.sum;
}

/* A plain synchronous call that starts task `id` (named "T<id>", the other arguments
 * but the last as for `task`) from inside itself through the host (`env.start`): the task runs on top of
 * this call's frame, which holds `frame` bytes of canaries (0-65536) checked after the
 * task has suspended or ended. Returns the task's id. */
JSPI_EXPORT("spawner")
int32_t spawner(int32_t id, int32_t depth, int32_t size, int32_t awaits, int32_t delays,
                int32_t churn_mask, int32_t fault, int32_t io, int32_t frame) {
    if (frame < 0 || frame > 65536) {
        static const char message[] = "spawner: frame must be 0-65536";
        jspi_fail(message, sizeof message - 1);
    }
    uint32_t own = (uint32_t)id | 0x80000000u; /* canaries unlike any task's */
    uint8_t bytes[frame + 1];
    for (int32_t i = 0; i < frame; i++) bytes[i] = canary(own, 0, (uint32_t)i);
    escape(bytes);
    char name[16] = "T";
    *jspi_format_u64(name + 1, (uint32_t)id) = 0;
    int32_t args[8] = {id, depth, size, awaits, delays, churn_mask, fault, io};
    jspi_host_start(name, "task", args, 8);
    for (int32_t i = 0; i < frame; i++) {
        uint8_t want = canary(own, 0, (uint32_t)i);
        if (bytes[i] != want) corrupt((uint32_t)id, 0, "spawner byte ", (uint32_t)i, want, bytes[i]);
    }
    return id;
}

/* Before any task: place a new task only where `min_task_stack` bytes of shadow
 * stack are left (jspi_configure). A large value makes the library flush, evicting
 * every live byte, far more often. Returns 0, or -1 if refused. */
JSPI_EXPORT("configure")
int32_t configure(int32_t min_task_stack) {
    return jspi_configure((uint32_t)min_task_stack, 0, 0, 0);
}

/* A plain synchronous call from the host between awaits: fills `size` bytes of its
 * own frame (0-65536), which is where suspended tasks' frames are, without a strategy. */
JSPI_EXPORT("scribble")
int32_t scribble(int32_t seed, int32_t size) {
    if (size < 0 || size > 65536) {
        static const char message[] = "scribble: size must be 0-65536";
        jspi_fail(message, sizeof message - 1);
    }
    uint8_t bytes[size + 1];
    uint32_t x = (uint32_t)seed;
    for (int32_t i = 0; i < size; i++) {
        x = x * 1664525u + 1013904223u;
        bytes[i] = (uint8_t)(x >> 24);
    }
    escape(bytes);
    return (int32_t)(x >> 8);
}

/* A task that keeps nothing on the shadow stack (no frame of its own: its range is
 * empty, as an export that only awaits has), like a real guest's small async glue:
 * `awaits` (1-64) awaits of known ints, two bits of `delays` per await (reused after
 * 16) for how many ms each takes. Frameless tasks suspended at once share one
 * address; the library must keep them apart (issue 12: they once broke lazy's live
 * list). Returns the sum of the values awaited. */
JSPI_EXPORT("bare")
int32_t bare(int32_t id, int32_t awaits, int32_t delays) {
    if (awaits < 1 || awaits > 64) {
        static const char message[] = "bare: awaits must be 1-64";
        jspi_fail(message, sizeof message - 1);
    }
    task_ids[(uint32_t)id % MAX_IDS] = jspi_task_current(); /* for `misuse` */
    int32_t sum = 0;
    for (int32_t n = 0; n < awaits; n++) {
        int32_t want = id * 1000 + n;
        int32_t ms = (int32_t)(((uint32_t)delays >> (2 * (n % 16))) & 3);
        int32_t got = jspi_await_int(delayed_int(want, ms));
        if (got != want) {
            static const char message[] = "corrupt: a bare task's await value";
            jspi_fail(message, sizeof message - 1);
        }
        sum += got;
    }
    return sum;
}

/* Before its task starts: makes task `parent` start task `id` (named "T<id>", the
 * other arguments as for `task`) through the host (`env.start`) right after its await
 * number `after` (from 0), from inside that resumed segment, on top of its own live
 * frames. Once; a parent that never gets that far starts nothing. Returns 0. */
JSPI_EXPORT("plan")
int32_t plan(int32_t parent, int32_t after, int32_t id, int32_t depth, int32_t size,
             int32_t awaits, int32_t delays, int32_t churn_mask, int32_t fault, int32_t io) {
    if (parent < 1 || parent >= MAX_IDS || id < 1 || after < 0) {
        static const char message[] = "plan: parent must be 1-255, id at least 1, after 0 or more";
        jspi_fail(message, sizeof message - 1);
    }
    struct plan *p = &plans[parent];
    p->after = after;
    int32_t args[8] = {id, depth, size, awaits, delays, churn_mask, fault, io};
    for (int i = 0; i < 8; i++) p->args[i] = args[i];
    return 0;
}

/* One level of `deep`: `size` bytes of canaries, checked after the levels below
 * return; at the bottom, `how` says what happens (see `deep`). */
static uint32_t __attribute__((noinline))
dig(uint32_t own, uint32_t k, uint32_t levels, uint32_t size, int32_t how, int32_t seed) {
    uint8_t bytes[size + 1];
    for (uint32_t i = 0; i < size; i++) bytes[i] = canary(own, k, i);
    escape(bytes);
    uint32_t sum = k;
    if (k + 1 < levels) {
        sum += dig(own, k + 1, levels, size, how, seed);
    } else if (how == 1) {
        __builtin_trap();
    } else if (how == 2) {
        failing(seed);
    } else if (how == 3) {
        sum += overrun(0);
    }
    for (uint32_t i = 0; i < size; i++) {
        uint8_t want = canary(own, k, i);
        if (bytes[i] != want) corrupt(own, k, "deep byte ", i, want, bytes[i]);
    }
    return sum + (size > 0 ? bytes[size / 2] : 0); /* bytes[0] is unset when size is 0 */
}

/* A plain call from the host between awaits, while tasks are suspended: `levels`
 * (1-64) levels of recursion, each with `size` bytes (0-4096) of canaries; at the
 * bottom, `how` 0 returns (the levels check their bytes on the way up), 1 traps
 * ("trap: unreachable"), 2 calls a host import that throws ("host import failed with
 * code SEED"), 3 goes on with 16 KiB frames until it runs off the bottom of the
 * shadow stack ("trap: memory access out of bounds"): far more than the room below
 * (jspi.h), which a plain call may rely on, but below the lowest live byte, so no
 * suspended task's bytes are in the way. The host puts the stack pointer back
 * (jspi_call_leave) however the call ends. */
JSPI_EXPORT("deep")
int32_t deep(int32_t seed, int32_t levels, int32_t size, int32_t how) {
    if (levels < 1 || levels > 64 || size < 0 || size > 4096 || how < 0 || how > 3) {
        static const char message[] = "deep: levels must be 1-64, size 0-4096, how 0-3";
        jspi_fail(message, sizeof message - 1);
    }
    uint32_t own = (uint32_t)seed | 0x40000000u; /* canaries unlike any task's */
    return (int32_t)dig(own, 0, (uint32_t)levels, (uint32_t)size, how, seed);
}

/* A plain call that misuses the host's hooks from guest code: `kind` 0
 * jspi_task_done with a made-up id, 1 jspi_task_leave with one, 2 jspi_task_done with
 * a stale id (T<target>'s with the next generation), 3 jspi_task_leave with
 * T<target>'s exact id: a repeated leave, which the library accepts and ignores (0
 * before T<target> started: an id that names no task). Each refusal fails the call
 * with the library's one line ("jspi_task_done: ID names no task of this instance
 * ..."); nothing changes either way, and the suspended tasks go on. Returns 0. */
JSPI_EXPORT("misuse")
int32_t misuse(int32_t kind, int32_t target) {
    if (kind < 0 || kind > 3 || target < 1 || target >= MAX_IDS) {
        static const char message[] = "misuse: kind must be 0-3, target 1-255";
        jspi_fail(message, sizeof message - 1);
    }
    uint32_t id = task_ids[target];
    switch (kind) {
    case 0:
        jspi_task_done(BOGUS_ID(target));
        break;
    case 1:
        jspi_task_leave(BOGUS_ID(target));
        break;
    case 2:
        jspi_task_done(id + 0x10000u);
        break;
    default:
        jspi_task_leave(id);
        break;
    }
    return 0;
}
