/* goemu's native hooks, registered with uc_hook_add on Unicorn's engine.
 *
 * Built for the host by zig's clang (emu/native/__init__.py), loaded with
 * ctypes.  Nothing here links against Unicorn: the one Unicorn entry point it
 * calls (uc_emu_stop) is handed over as a function pointer.
 *
 * Safety by construction: every table is a fixed-size array inside the
 * state structure and is indexed through a mask; no pointer handed in from
 * Python is written through except the state itself.
 */
#include <stdint.h>

#define GOEMU_NATIVE_ABI 1

/* ---- instruction counting and exact positions ------------------------------
 * A UC_HOOK_BLOCK callback.  The number of instructions of a translated block
 * (address, size) comes from a direct-mapped table; on a miss the Python side
 * (Capstone, once per block) is asked through ``miss`` and the answer stored.
 * A miss callback that fails returns a negative number: the hook then stops
 * the emulation and counts nothing (Python re-raises the error).
 *
 * The budget of a run without Unicorn's own count (emu/engine.py): with
 * ``limit`` set, a block that would end past it is counted and the emulation
 * stopped before it executes (Unicorn calls block hooks before the block's
 * exit-request check), ``limit_hit`` saying so.  Every executed block goes
 * through this hook and counts at least one instruction, so no run goes past
 * its limit by more than the rest of one block, which Python then runs with
 * Unicorn's exact count. */

#define COUNT_SLOTS 16384u            /* power of two */

typedef int32_t (*goemu_miss_fn)(uint64_t addr, uint32_t size);
typedef int (*goemu_stop_fn)(void *uc);

typedef struct {
    uint64_t icount;                  /* instructions of every block entered (whole blocks) */
    uint64_t blk_base;                /* icount before the current block */
    uint64_t blk_addr;                /* the current block */
    uint32_t blk_size;
    uint32_t blk_n;
    uint64_t misses;                  /* table misses (Python asked) */
    uint64_t blocks;                  /* blocks entered */
    goemu_miss_fn miss;
    goemu_stop_fn stop;
    uint64_t key_addr[COUNT_SLOTS];
    uint32_t key_size[COUNT_SLOTS];   /* 0: empty (Unicorn never reports a 0-byte block we count) */
    uint32_t count[COUNT_SLOTS];
    uint64_t limit;                   /* nonzero: stop before a block that would end past it */
    uint32_t limit_hit;               /* the last stop was the limit's */
    uint32_t pad_limit;
} goemu_counter;

uint32_t goemu_abi(void) { return GOEMU_NATIVE_ABI; }
uint32_t goemu_counter_size(void) { return (uint32_t)sizeof(goemu_counter); }
uint32_t goemu_counter_slots(void) { return COUNT_SLOTS; }

static inline uint32_t slot_of(uint64_t addr, uint32_t size) {
    uint64_t h = (addr ^ ((uint64_t)size << 40)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 50) & (COUNT_SLOTS - 1);
}

void goemu_counter_forget(goemu_counter *c) {
    for (uint32_t i = 0; i < COUNT_SLOTS; i++) c->key_size[i] = 0;
}

void goemu_count_block(void *uc, uint64_t addr, uint32_t size, void *user_data) {
    goemu_counter *c = (goemu_counter *)user_data;
    uint32_t s = slot_of(addr, size);
    uint32_t n;
    if (c->key_size[s] == size && c->key_addr[s] == addr && size != 0) {
        n = c->count[s];
    } else {
        int32_t r = c->miss ? c->miss(addr, size) : -1;
        c->misses++;
        if (r < 0) {
            if (c->stop) c->stop(uc);
            return;
        }
        n = (uint32_t)r;
        c->key_addr[s] = addr;
        c->key_size[s] = size;
        c->count[s] = n;
    }
    c->blk_base = c->icount;
    c->blk_addr = addr;
    c->blk_size = size;
    c->blk_n = n;
    c->icount += n;
    c->blocks++;
    if (c->limit && c->icount > c->limit) {
        c->limit_hit = 1;
        if (c->stop) c->stop(uc);
    }
}

/* ---- runtime events at fixed addresses -------------------------------------
 * A UC_HOOK_CODE callback on each event address (newstack, oldstack,
 * lessstack).  It copies what the event reports -- a window of the M struct
 * (m found in a register or a memory word), optionally a word reached
 * through a pointer in that window (curg->stackbase), optionally one
 * register -- plus the counter's current block into a fixed ring.  Python
 * turns the ring into Event objects when anyone looks at the events (or when
 * the ring is full: ``drain`` is called before a record would not fit). */

#define EV_SLOTS 4096u               /* drained in bulk: fewer, larger numpy passes */
#define EV_WIN 64u
#define EV_SPECS 8u

typedef int (*goemu_reg_read_fn)(void *uc, int regid, void *value);
typedef int (*goemu_mem_read_fn)(void *uc, uint64_t addr, void *buf, uint64_t size);
typedef void (*goemu_drain_fn)(void);

typedef struct {
    uint64_t pc;                      /* the event's address */
    uint64_t m_addr;                  /* memory word holding m (when m_reg < 0) */
    int32_t kind;                     /* reported back as is */
    int32_t reg_id;                   /* register to capture, -1: none */
    int32_t m_reg;                    /* register holding m, -1: m is in memory at m_addr */
    uint32_t win_lo, win_len;         /* bytes [m + win_lo, m + win_lo + win_len) */
    int32_t deref_off;                /* offset in the window of a pointer to follow, -1: none */
    uint32_t deref_add, deref_size;   /* read deref_size bytes at pointer + deref_add (0 if the pointer is 0) */
} goemu_event_spec;

typedef struct {
    int32_t kind;
    uint32_t status;                  /* bit 0: m unreadable, 1: window, 2: register, 3: deref */
    uint64_t blk_base, blk_addr;
    uint32_t blk_size, blk_n;
    uint64_t pc, m, reg, deref;
    uint8_t win[EV_WIN];
} goemu_event;

typedef struct {
    goemu_counter *counter;
    uint32_t n;                       /* records in the ring */
    uint32_t nspecs;
    uint32_t ptrsize;
    uint32_t pad;
    uint64_t drains;
    goemu_reg_read_fn reg_read;
    goemu_mem_read_fn mem_read;
    goemu_drain_fn drain;
    goemu_event_spec specs[EV_SPECS];
    goemu_event ring[EV_SLOTS];
} goemu_events;

uint32_t goemu_events_size(void) { return (uint32_t)sizeof(goemu_events); }
uint32_t goemu_event_size(void) { return (uint32_t)sizeof(goemu_event); }
uint32_t goemu_events_slots(void) { return EV_SLOTS; }

void goemu_event_hook(void *uc, uint64_t addr, uint32_t size, void *user_data) {
    (void)size;
    goemu_events *e = (goemu_events *)user_data;
    uint32_t ns = e->nspecs < EV_SPECS ? e->nspecs : EV_SPECS;
    const goemu_event_spec *sp = 0;
    for (uint32_t i = 0; i < ns; i++)
        if (e->specs[i].pc == addr) { sp = &e->specs[i]; break; }
    if (!sp) return;
    if (e->n >= EV_SLOTS && e->drain) { e->drain(); e->drains++; }
    if (e->n >= EV_SLOTS) return;     /* a drain that did not empty the ring: drop, never overflow */
    goemu_event *r = &e->ring[e->n];
    uint32_t ps = e->ptrsize <= 8 ? e->ptrsize : 8;
    r->kind = sp->kind;
    r->status = 0;
    r->pc = addr;
    goemu_counter *c = e->counter;
    r->blk_base = c ? c->blk_base : 0;
    r->blk_addr = c ? c->blk_addr : 0;
    r->blk_size = c ? c->blk_size : 0;
    r->blk_n = c ? c->blk_n : 0;
    r->m = 0; r->reg = 0; r->deref = 0;
    for (uint32_t i = 0; i < EV_WIN; i++) r->win[i] = 0;
    if (sp->m_reg >= 0) {
        if (e->reg_read(uc, sp->m_reg, &r->m)) r->status |= 1;
    } else if (e->mem_read(uc, sp->m_addr, &r->m, ps)) {
        r->status |= 1;
    }
    uint32_t wl = sp->win_len <= EV_WIN ? sp->win_len : EV_WIN;
    if (wl && !(r->status & 1) && e->mem_read(uc, r->m + sp->win_lo, r->win, wl)) r->status |= 2;
    if (sp->reg_id >= 0 && e->reg_read(uc, sp->reg_id, &r->reg)) r->status |= 4;
    if (sp->deref_off >= 0 && (uint32_t)sp->deref_off + ps <= wl && !(r->status & 3)) {
        uint64_t p = 0;
        for (uint32_t i = 0; i < ps; i++) p |= (uint64_t)r->win[sp->deref_off + i] << (8 * i);
        uint32_t ds = sp->deref_size <= 8 ? sp->deref_size : 8;
        if (p && e->mem_read(uc, p + sp->deref_add, &r->deref, ds)) r->status |= 8;
    }
    e->n++;
}

/* ---- the cycle account (emu/cycles/account.py's per-block work) -------------
 * A UC_HOOK_BLOCK callback that does what CycleAccount._on_block does, on
 * plain tables: the block's static facts come from a direct-mapped
 * table filled by Python once per translated block (``cmiss`` writes the
 * ``stage`` area; C copies it into the table and a segment pool), the branch
 * predictor (bimodal counters, BTB, return stack), the L1I/L1D/L2 LRU caches,
 * the per-phase sums and the open split/unsplit record run here.  Closed
 * records go to a ring that Python drains.  Phases are indices of
 * account.PHASES, branch kinds indices of flow.KINDS.  Every table has a
 * fixed maximum size and is indexed modulo its configured (checked) size. */

#define NPH 10u
#define NKIND 7u
#define CB_SLOTS 8192u                /* block table, power of two */
#define SEG_POOL 32768u
#define STAGE_SEGS 2048u
#define BHT_MAX 65536u
#define BTB_MAX 16384u
#define RAS_MAX 64u
#define L1_MAX 4096u                  /* lines (sets x ways) */
#define L2_MAX 65536u
#define REC_SLOTS 64u
#define OP_POOL 131072u               /* instruction descriptions (emu/cycles/pipeline.py Op) */
#define STAGE_OPS 8192u
#define PORT_RING 512u                /* pipeline.py PORT_RING, MAX_PORTS, MAX_REGS, MAX_WINDOW */
#define MAX_PORTS 8u
#define MAX_REGS 32u
#define MAX_WINDOW 256u
#define QUEUE_BIT (MAX_REGS - 1u)     /* pipeline.py QUEUE_BIT: ready[] of the in-order AGU (last issue) */
enum { OPF_LOAD = 1, OPF_STORE = 2, OPF_CONTROL = 4, OPF_FAST_DST = 8, OPF_STACK_ENGINE = 16,
       OPF_NAMES_RSP = 32, OPF_FAST_SRC = 64, OPF_CTL_RESULT = 128 };

enum { K_NONE, K_COND, K_JUMP, K_CALL, K_RET, K_IJ, K_IC };
enum { P_MORESTACK = 1, P_GOGOCALL = 3, P_LESSSTACK = 5, P_GOGO = 7 };

typedef struct {
    uint32_t kind;                    /* 0 split, 1 unsplit */
    uint32_t index;
    uint64_t icount, cycles, cache_misses;
    uint64_t phases[NPH];
    uint64_t mis[NKIND];
    int8_t order[NPH];                /* phases in the order first charged */
    int8_t morder[NKIND];             /* mispredict kinds in the order first seen */
    uint8_t norder, nmorder, complete, pad[5];
} goemu_crec;

/* one instruction as the pipeline sees it (pipeline.py Op) */
typedef struct {
    uint32_t reads, addr, writes, base;
    uint8_t slots, flags, latency, nops;
    uint8_t op_ports[3], op_occ[3];
    uint8_t load_ports, load_occ, load_lat, load_fast;
    uint8_t sa_ports, sa_occ, sd_ports, agu_ports, agu_occ, pad[1];
} goemu_op;

/* the pipeline's carried state (pipeline.py Pipeline) */
typedef struct {
    uint64_t slot, k, stack_offset, high;
    uint64_t ready[MAX_REGS], fast[MAX_REGS];
    uint64_t retire[MAX_WINDOW], issued[MAX_WINDOW];
    uint64_t ring[MAX_PORTS][PORT_RING];       /* slot c % PORT_RING holds c + 1 while cycle c is taken */
} goemu_pipe;

typedef struct {
    uint64_t key_addr, flow_pc, fallthrough, target, end, line0;
    uint32_t key_size, n, seg0, nseg, nlines, op0;
    int8_t first;                     /* static phase of the first segment, -1: inherit */
    uint8_t kind, taken, has_target;
} goemu_cblock;

typedef struct {
    uint32_t nsets, ways;
    uint64_t hits, misses;
    uint32_t cnt[L2_MAX];             /* lines held per set (only nsets used) */
    uint64_t line[L2_MAX];            /* set s: line[s*ways .. s*ways+cnt[s]), MRU last */
} goemu_lru_big;

typedef struct {
    uint32_t nsets, ways;
    uint64_t hits, misses;
    uint32_t cnt[L1_MAX];
    uint64_t line[L1_MAX];
} goemu_lru;

typedef int32_t (*goemu_cmiss_fn)(uint64_t addr, uint32_t size);

/* ---- (added for the trace recorder) the per-instruction view of the current block ----------
 * What account.py's insn_start/take_late give the Python recorder, kept in C when the
 * account's ``tap`` points here (the trace recorder's state owns it, saves it and sets
 * the pointer; NULL: nothing below runs).  cycles_body fills it per charged block:
 * each instruction's pipeline cycles, the penalties of arriving (the first
 * instruction's), the phase segments with the split/unsplit each belongs to;
 * ``late`` collects what the instruction being executed owes once it has run (its
 * branch's mispredict when not charged to the landing phase, its data-cache misses). */
typedef struct {
    uint64_t base;                    /* position of the block's first instruction */
    uint64_t pen;                     /* penalties of arriving, charged to the first instruction */
    uint64_t late;                    /* owed by the instruction just executed (take_late) */
    uint32_t n, nseg;                 /* per[] and seg_*[] used */
    uint32_t phase;                   /* phase of the instruction being executed (0xFF: the mode) */
    uint32_t valid;                   /* a block was charged */
    uint32_t seg_end[STAGE_SEGS];     /* segment i: instructions [seg_end[i-1], seg_end[i]) */
    uint32_t seg_within[STAGE_SEGS];  /* 0, or 1 + the index of the split/unsplit open after it */
    uint8_t seg_phase[STAGE_SEGS];
    uint32_t per[STAGE_OPS];          /* each instruction's pipeline cycles */
} goemu_ctap;

typedef struct {
    /* ---- saved state (everything up to ``end_of_state`` except pointers is copied by save_state) */
    uint64_t total, instructions;
    int64_t pos0;
    uint64_t starts_seen;
    uint64_t phase_cycles[NPH], phase_insns[NPH];
    uint64_t pen_mis, pen_icache, pen_dcache;
    uint64_t seen[NKIND], mispredicts[NKIND];
    uint64_t ras_underflows, ras_overflows;
    uint32_t mode, ras_n;
    uint32_t nsplits, nunsplits;      /* records opened so far, per kind */
    uint32_t rec_open, ghr;           /* ghr: the last conditional outcomes, newest in bit 0 */
    uint64_t rec_misses0;
    goemu_crec rec;
    uint32_t prev_valid;
    uint8_t prev_kind, prev_taken, prev_has_target, pad1;
    uint64_t prev_flow_pc, prev_ft, prev_target, prev_end, prev_addr;
    goemu_pipe pipe;
    uint64_t end_of_state;
    /* ---- configuration */
    goemu_counter *counter;
    const uint64_t *starts;           /* the engine's emu_start count */
    goemu_cmiss_fn cmiss;
    goemu_drain_fn drain;
    uint64_t penalty;
    uint32_t width, window, sync_ports, rsp_bit;   /* the pipeline's configuration (pipeline.py Config) */
    uint32_t rs, pad4;
    uint32_t shift, nbht, nbtb, nras, hist_mask, pad3;
    uint64_t line_size, l2pen_i, l2pen_d, mem_lat;
    uint32_t landing;                 /* bit p: a mispredict landing in phase p is charged there */
    uint32_t errors;                  /* a stage or ring that could not be used (run stopped) */
    uint64_t table_misses, flushes;
    uint64_t counted;                 /* the counter's ``blocks`` when this hook last ran */
    /* ---- tables */
    uint8_t bht[BHT_MAX];
    uint64_t btb_tag[BTB_MAX], btb_target[BTB_MAX];
    uint64_t ras[RAS_MAX];
    goemu_lru l1i, l1d;
    goemu_lru_big l2;
    uint32_t nrec, pool_used, ops_used, pad2;
    goemu_crec ring[REC_SLOTS];
    goemu_cblock stage;               /* filled by cmiss */
    int8_t stage_phase[STAGE_SEGS];
    uint32_t stage_n[STAGE_SEGS];
    goemu_op stage_ops[STAGE_OPS];
    goemu_cblock table[CB_SLOTS];
    int8_t seg_phase[SEG_POOL];
    uint32_t seg_n[SEG_POOL];
    goemu_op ops[OP_POOL];
    goemu_ctap *tap;                  /* (added for the trace recorder) NULL: no per-instruction view */
} goemu_cycles;

uint32_t goemu_cycles_size(void) { return (uint32_t)sizeof(goemu_cycles); }
uint32_t goemu_cycles_limits(uint32_t which) {
    switch (which) {
    case 0: return CB_SLOTS; case 1: return SEG_POOL; case 2: return STAGE_SEGS; case 3: return BHT_MAX;
    case 4: return BTB_MAX; case 5: return RAS_MAX; case 6: return L1_MAX; case 7: return L2_MAX;
    case 8: return REC_SLOTS; case 9: return OP_POOL; case 10: return STAGE_OPS; case 11: return PORT_RING;
    case 12: return MAX_PORTS; case 13: return MAX_REGS; case 14: return MAX_WINDOW; default: return 0;
    }
}

void goemu_cycles_forget(goemu_cycles *a) {
    for (uint32_t i = 0; i < CB_SLOTS; i++) a->table[i].key_size = 0;
    a->pool_used = 0;
    a->ops_used = 0;
}

/* ---- the pipeline: pipeline.py Pipeline._issue / drain / step, the same arithmetic */
static uint64_t pipe_issue_at(goemu_pipe *q, uint32_t ports, uint64_t t, uint32_t occ, int book) {
    /* ports in increasing order (ctz), the lowest-numbered port on a tie as in Python; a port's
       candidate cycle only grows while its ring is scanned, so the scan stops once it reaches the best
       cycle of a lower port (it cannot win) */
    uint64_t best_c = UINT64_MAX;
    uint32_t best_p = 0;
    for (uint32_t m = ports & ((1u << MAX_PORTS) - 1u); m; m &= m - 1) {
        uint32_t p = (uint32_t)__builtin_ctz(m);
        const uint64_t *ring = q->ring[p];
        uint64_t c = t;
        for (;;) {
            while (ring[c % PORT_RING] == c + 1) c++;
            if (c >= best_c) goto next;
            uint32_t k = 1;
            while (k < occ && ring[(c + k) % PORT_RING] != c + k + 1) k++;
            if (k >= occ) break;
            c += k;
        }
        best_c = c; best_p = p;
        if (c == t) break;                        /* no later port can start earlier */
    next:;
    }
    if (!book) return best_c;
    uint64_t *ring = q->ring[best_p];
    for (uint32_t k = 0; k < occ; k++) ring[(best_c + k) % PORT_RING] = best_c + k + 1;
    return best_c;
}

static inline uint64_t umax(uint64_t x, uint64_t y) { return x > y ? x : y; }

static inline uint64_t pipe_issue(goemu_pipe *q, uint32_t ports, uint64_t t, uint32_t occ) {
    return pipe_issue_at(q, ports, t, occ, 1);
}

static void pipe_drain(goemu_cycles *a) {
    uint64_t w = a->width;
    if (a->pipe.slot < a->pipe.high * w) a->pipe.slot = a->pipe.high * w;
}

static uint64_t pipe_step(goemu_cycles *a, const goemu_op *op) {
    goemu_pipe *q = &a->pipe;
    uint64_t width = a->width, window = a->window;
    uint64_t d = q->slot / width;
    if (window && q->k >= window) {
        uint64_t r = q->retire[(q->k - window) % MAX_WINDOW];
        if (r > d) { d = r; q->slot = d * width; }
    }
    uint64_t rs = a->rs;
    if (rs && q->k >= rs) {                       /* the scheduler's entries, taken in order */
        uint64_t r = q->issued[(q->k - rs) % MAX_WINDOW];
        if (r > d) { d = r; q->slot = d * width; }
    }
    if (op->agu_ports) {                          /* the in-order AGU's one-entry buffer */
        uint64_t r = q->ready[QUEUE_BIT];
        if (r > d) { d = r; q->slot = d * width; }
    }
    uint32_t fl = op->flags, sync = 0;
    if (a->sync_ports) {
        if (fl & OPF_STACK_ENGINE) q->stack_offset = 1;
        else if (q->stack_offset && (fl & OPF_NAMES_RSP)) { q->stack_offset = 0; sync = 1; }
    }
    q->slot += op->slots + sync;
    if (sync) {
        uint32_t rb = a->rsp_bit;
        uint64_t t = pipe_issue(q, a->sync_ports, umax(d, q->ready[rb]), 1);
        q->ready[rb] = q->fast[rb] = t + 1;
    }
    uint64_t last = d, t_addr = d;
    for (uint32_t m = op->addr; m; m &= m - 1) { uint32_t r = (uint32_t)__builtin_ctz(m); if (q->ready[r] > t_addr) t_addr = q->ready[r]; }
    const uint64_t *src = (fl & OPF_FAST_DST) ? q->fast : q->ready;
    uint64_t t_regs = d;
    for (uint32_t m = op->reads; m; m &= m - 1) { uint32_t r = (uint32_t)__builtin_ctz(m); if (src[r] > t_regs) t_regs = src[r]; }
    if (op->agu_ports) {                          /* issues in order, every operand (a store's data) ready */
        uint64_t t_q = umax((fl & OPF_STORE) ? umax(t_addr, t_regs) : t_addr, q->ready[QUEUE_BIT]);
        uint32_t mp = (fl & OPF_LOAD) ? op->load_ports : op->sa_ports;
        uint32_t mo = (fl & OPF_LOAD) ? op->load_occ : op->sa_occ;
        for (;;) {                                /* with its load/store pipe cycle: both free */
            t_q = pipe_issue_at(q, op->agu_ports, t_q, op->agu_occ, 0);
            uint64_t t_m = pipe_issue_at(q, mp, t_q, mo, 0);
            if (t_m == t_q) break;
            t_q = t_m;
        }
        pipe_issue(q, op->agu_ports, t_q, op->agu_occ);
        q->ready[QUEUE_BIT] = t_q;
        if (t_q > last) last = t_q;
        t_addr = t_q;
    }
    int has_agu = 0;
    uint64_t agu = 0, load_done = 0, load_fast = 0;
    if (fl & OPF_LOAD) {
        agu = pipe_issue(q, op->load_ports, t_addr, op->load_occ);
        has_agu = 1;
        if (agu > last) last = agu;
        load_done = agu + op->load_lat;
        load_fast = (fl & OPF_FAST_SRC) ? agu + op->load_fast : load_done;
    }
    uint64_t t_data = t_regs;
    if ((fl & OPF_LOAD) && op->nops) {
        uint64_t ld = (fl & OPF_FAST_DST) ? load_fast : load_done;
        if (ld > t_data) t_data = ld;
    }
    int64_t first = -1;
    for (uint32_t i = 0; i < op->nops; i++) {
        uint64_t t = pipe_issue(q, op->op_ports[i], first < 0 ? t_data : (uint64_t)first, op->op_occ[i]);
        if (t > last) last = t;
        if (first < 0) first = (int64_t)t;
    }
    uint64_t result, result_fast;
    if (op->nops) result = result_fast = (uint64_t)first + op->latency;
    else if (fl & OPF_LOAD) { result = load_done; result_fast = load_fast; }
    else result = result_fast = t_data + op->latency;
    if (fl & OPF_STORE) {
        uint64_t t_sa = pipe_issue(q, op->sa_ports, t_addr, op->sa_occ);
        if (t_sa > last) last = t_sa;
        if (!has_agu) { agu = t_sa; has_agu = 1; }
        if (op->sd_ports) {
            uint64_t sv = op->nops ? result : t_data;
            uint64_t t_sd = pipe_issue(q, op->sd_ports, umax(d, sv), 1);
            if (t_sd > last) last = t_sd;
        } else {
            uint64_t sv = umax(t_data, op->nops ? result : t_data);
            if (sv > last) last = sv;
        }
    }
    for (uint32_t m = op->writes; m; m &= m - 1) { uint32_t r = (uint32_t)__builtin_ctz(m); q->ready[r] = result; q->fast[r] = result_fast; }
    if (op->base) {
        uint64_t tb = (has_agu ? agu : t_addr) + 1;
        for (uint32_t m = op->base; m; m &= m - 1) { uint32_t r = (uint32_t)__builtin_ctz(m); q->ready[r] = q->fast[r] = tb; }
    }
    uint64_t complete;
    if (fl & OPF_CONTROL) {
        complete = d + 1;
        if ((fl & OPF_CTL_RESULT) && result > complete) complete = result;
    } else {
        complete = umax(result, last + 1);
    }
    if (window) {
        uint64_t prev = q->k ? q->retire[(q->k - 1) % MAX_WINDOW] : 0;
        q->retire[q->k % MAX_WINDOW] = umax(complete, prev);
    }
    if (rs) q->issued[q->k % MAX_WINDOW] = last;
    q->k++;
    if (complete > q->high) {
        uint64_t add = complete - q->high;
        q->high = complete;
        return add;
    }
    return 0;
}

/* x % n, without a division when n is a power of two (every configured size so far); n >= 1
 * (emu/native/cycles.py fits() keeps a core with an empty table in Python) */
static inline uint64_t mod_n(uint64_t x, uint32_t n) {
    return (n & (n - 1)) ? x % n : x & (n - 1);
}

static inline int lru_touch(uint32_t nsets, uint32_t ways, uint64_t *hits, uint64_t *misses,
                            uint32_t *cnt, uint64_t *lines, uint64_t lineno) {
    uint32_t si = (uint32_t)mod_n(lineno, nsets);
    uint64_t *s = lines + (uint64_t)si * ways;
    uint32_t n = cnt[si];
    for (uint32_t i = 0; i < n; i++) {
        if (s[i] == lineno) {
            for (uint32_t j = i; j + 1 < n; j++) s[j] = s[j + 1];
            s[n - 1] = lineno;
            (*hits)++;
            return 1;
        }
    }
    if (n >= ways) {
        for (uint32_t j = 0; j + 1 < n; j++) s[j] = s[j + 1];
        s[n - 1] = lineno;
    } else {
        s[n] = lineno;
        cnt[si] = n + 1;
    }
    (*misses)++;
    return 0;
}

#define TOUCH(c, ln) lru_touch((c)->nsets, (c)->ways, &(c)->hits, &(c)->misses, (c)->cnt, (c)->line, (ln))

static uint64_t hier_lines(goemu_cycles *a, goemu_lru *l1, uint64_t l2pen, uint64_t first, uint64_t last) {
    uint64_t pen = 0;
    for (uint64_t n = first; n <= last; n++)
        if (!TOUCH(l1, n)) pen += TOUCH(&a->l2, n) ? l2pen : a->mem_lat;
    return pen;
}

static inline uint64_t total_misses(const goemu_cycles *a) {
    return a->l1i.misses + a->l1d.misses + a->l2.misses;
}

static inline void charge(goemu_cycles *a, uint32_t p, uint64_t n) {
    a->phase_cycles[p] += n;
    a->total += n;
    if (a->rec_open) {
        goemu_crec *r = &a->rec;
        r->cycles += n;
        int seen = 0;
        for (uint32_t i = 0; i < r->norder; i++) if ((uint32_t)r->order[i] == p) { seen = 1; break; }
        if (!seen && r->norder < NPH) r->order[r->norder++] = (int8_t)p;
        r->phases[p] += n;
    }
}

static void rec_open(goemu_cycles *a, uint32_t p) {
    if (a->rec_open) return;
    if (p != P_MORESTACK && p != P_LESSSTACK) return;
    goemu_crec *r = &a->rec;
    uint8_t *z = (uint8_t *)r;
    for (uint32_t i = 0; i < sizeof *r; i++) z[i] = 0;
    r->kind = p == P_MORESTACK ? 0 : 1;
    r->index = r->kind ? a->nunsplits++ : a->nsplits++;
    r->icount = a->instructions;
    a->rec_open = 1;
    a->rec_misses0 = total_misses(a);
}

static void rec_close(goemu_cycles *a, void *uc, uint32_t p) {
    if (!a->rec_open || p == a->mode) return;
    goemu_crec *r = &a->rec;
    if ((r->kind == 0 && a->mode == P_GOGOCALL) || (r->kind == 1 && a->mode == P_GOGO)) {
        r->complete = 1;
        r->cache_misses = total_misses(a) - a->rec_misses0;
        a->rec_open = 0;
        if (a->nrec >= REC_SLOTS && a->drain) a->drain();
        if (a->nrec >= REC_SLOTS) {       /* a drain that did not empty the ring: stop, never overflow */
            a->errors++;
            if (a->counter && a->counter->stop) a->counter->stop(uc);
            return;
        }
        a->ring[a->nrec++] = *r;
    }
}

static void ras_push(goemu_cycles *a, uint64_t v) {
    if (a->ras_n >= a->nras) {
        for (uint32_t i = 0; i + 1 < a->ras_n; i++) a->ras[i] = a->ras[i + 1];
        a->ras_n--;
        a->ras_overflows++;
    }
    a->ras[a->ras_n++] = v;
}

static int btb(goemu_cycles *a, uint64_t pc, uint64_t target) {
    uint32_t i = (uint32_t)mod_n(pc >> a->shift, a->nbtb);
    int hit = a->btb_tag[i] == pc && a->btb_target[i] == target;
    a->btb_tag[i] = pc;
    a->btb_target[i] = target;
    return !hit;
}

static int observe(goemu_cycles *a, uint32_t kind, uint64_t pc, uint64_t target, uint64_t ft) {
    int wrong = 0;
    switch (kind) {
    case K_COND: {
        uint32_t i = (uint32_t)mod_n((pc >> a->shift) ^ (uint64_t)a->ghr, a->nbht);
        uint8_t c = a->bht[i];
        int taken = target != ft;
        wrong = (c >= 2) != taken;
        a->bht[i] = taken ? (c < 3 ? c + 1 : 3) : (c > 0 ? c - 1 : 0);
        a->ghr = ((a->ghr << 1) | (uint32_t)taken) & a->hist_mask;
        break;
    }
    case K_RET:
        if (!a->ras_n) { a->ras_underflows++; wrong = 1; }
        else wrong = a->ras[--a->ras_n] != target;
        break;
    case K_CALL: ras_push(a, ft); break;
    case K_IC: ras_push(a, ft); wrong = btb(a, pc, target); break;
    case K_IJ: wrong = btb(a, pc, target); break;
    default: break;
    }
    a->seen[kind]++;
    if (wrong) a->mispredicts[kind]++;
    return wrong;
}

static void rec_mis(goemu_cycles *a, uint32_t k) {
    goemu_crec *r = &a->rec;
    int seen = 0;
    for (uint32_t i = 0; i < r->nmorder; i++) if ((uint32_t)r->morder[i] == k) { seen = 1; break; }
    if (!seen && r->nmorder < NKIND) r->morder[r->nmorder++] = (int8_t)k;
    r->mis[k]++;
}

static inline uint32_t cslot_of(uint64_t addr, uint32_t size) {
    uint64_t h = (addr ^ ((uint64_t)size << 40)) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 50) & (CB_SLOTS - 1);
}

static goemu_cblock *lookup(goemu_cycles *a, void *uc, uint64_t addr, uint32_t size) {
    uint32_t s = cslot_of(addr, size);
    goemu_cblock *b = &a->table[s];
    if (b->key_size == size && b->key_addr == addr && size != 0) return b;
    a->table_misses++;
    if (!a->cmiss || a->cmiss(addr, size) < 0) return 0;
    goemu_cblock *st = &a->stage;
    if (st->nseg > STAGE_SEGS || st->nseg == 0 || st->n > STAGE_OPS) { a->errors++; return 0; }
    uint64_t nops = 0;                            /* the segments run at most the block's instructions */
    for (uint32_t i = 0; i < st->nseg; i++) nops += a->stage_n[i];
    if (nops > st->n) { a->errors++; return 0; }
    if (a->pool_used + st->nseg > SEG_POOL || a->ops_used + st->n > OP_POOL) {   /* pools full: start again */
        goemu_cycles_forget(a);
        a->flushes++;
    }
    *b = *st;
    b->key_addr = addr;
    b->key_size = size;
    b->seg0 = a->pool_used;
    for (uint32_t i = 0; i < st->nseg; i++) {
        a->seg_phase[b->seg0 + i] = a->stage_phase[i];
        a->seg_n[b->seg0 + i] = a->stage_n[i];
    }
    a->pool_used += st->nseg;
    b->op0 = a->ops_used;
    for (uint32_t i = 0; i < st->n; i++) a->ops[b->op0 + i] = a->stage_ops[i];
    a->ops_used += st->n;
    (void)uc;
    return b;
}

static void cycles_body(goemu_cycles *a, goemu_counter *c, void *uc, uint64_t addr, uint32_t size);

/* (added for the trace recorder) the tap's share of cycles_body: a block is charged from
 * position ``base`` with ``pen`` cycles of arrival penalties; then each instruction's cycles;
 * then, after each segment's record open/close, its end, phase and split/unsplit. */
static void tap_block(goemu_ctap *t, uint64_t base, uint64_t pen) {
    t->base = base;
    t->pen = pen;
    t->n = 0;
    t->nseg = 0;
    t->valid = 1;
}

static inline uint64_t tap_step(goemu_ctap *t, uint64_t cyc) {
    if (t->n < STAGE_OPS) t->per[t->n++] = (uint32_t)cyc;
    return cyc;
}

static void tap_seg(goemu_cycles *a, uint32_t p) {
    goemu_ctap *t = a->tap;
    if (t->nseg >= STAGE_SEGS) return;
    t->seg_end[t->nseg] = t->n;
    t->seg_phase[t->nseg] = (uint8_t)p;
    t->seg_within[t->nseg] = a->rec_open ? a->rec.index + 1 : 0;
    t->nseg++;
}

/* Registered after the counter's own hook (Unicorn calls block hooks in the
 * order they were added), it reads the counter's current block.  (Folding
 * both into one hook would save one hook call per block: measured 0.148 s ->
 * 0.115 s on 169k blocks of amd64 hot-split; see docs/engine.md.) */
void goemu_cycles_after(void *uc, uint64_t addr, uint32_t size, void *user_data) {
    goemu_cycles *a = (goemu_cycles *)user_data;
    goemu_counter *c = a->counter;
    if (c->blocks == a->counted) return;          /* the counter did not count it: the run is stopping */
    a->counted = c->blocks;
    cycles_body(a, c, uc, addr, size);
}

static void cycles_body(goemu_cycles *a, goemu_counter *c, void *uc, uint64_t addr, uint32_t size) {
    uint64_t starts = *a->starts;
    if (a->prev_valid && a->starts_seen != starts &&
        (int64_t)a->instructions + a->pos0 > (int64_t)c->blk_base) {
        a->starts_seen = starts;                  /* resuming a block charged when it was entered */
        return;
    }
    a->starts_seen = starts;
    goemu_cblock *b = lookup(a, uc, addr, size);
    if (!b) { if (c->stop) c->stop(uc); return; }
    uint64_t tap_t0 = a->total, tap_l0 = a->tap ? a->tap->late : 0;     /* (trace tap) */
    uint32_t mode = a->mode;
    uint32_t first = b->first >= 0 ? (uint32_t)b->first : mode;
    if (first != mode) rec_open(a, first);
    if (a->prev_valid && a->prev_kind != K_NONE &&
        !(a->prev_addr < addr && addr < a->prev_end && !(a->prev_has_target && addr == a->prev_target))) {
        /* (a block starting inside the previous one is a resumption unless it is the branch's target) */
        uint32_t wrong[2], nw = 0;
        uint32_t k = a->prev_kind;
        if (k == K_COND) {
            if (observe(a, K_COND, a->prev_flow_pc, addr, a->prev_ft)) wrong[nw++] = K_COND;
            if (addr != a->prev_ft && a->prev_taken != K_JUMP &&
                observe(a, a->prev_taken, a->prev_flow_pc, addr, a->prev_ft))
                wrong[nw++] = a->prev_taken;
        } else if (observe(a, k, a->prev_flow_pc, addr, a->prev_ft)) {
            wrong[nw++] = k;
        }
        if (nw) {
            pipe_drain(a);
            a->pen_mis += a->penalty;
            charge(a, (a->landing >> first) & 1 ? first : mode, a->penalty);
            if (a->tap && !((a->landing >> first) & 1)) a->tap->late += a->penalty;  /* (trace tap): the branch's */
            if (a->rec_open) for (uint32_t i = 0; i < nw; i++) rec_mis(a, wrong[i]);
        }
    }
    if (first != mode) {
        rec_close(a, uc, first);
        a->mode = mode = first;
    }
    /* the I-cache */
    goemu_lru *l1i = &a->l1i;
    uint32_t si = (uint32_t)mod_n(b->line0, l1i->nsets);
    uint32_t cnt = l1i->cnt[si];
    if (b->nlines == 1 && cnt && l1i->line[(uint64_t)si * l1i->ways + cnt - 1] == b->line0) {
        l1i->hits++;
    } else {
        uint64_t pen = hier_lines(a, l1i, a->l2pen_i, b->line0, b->line0 + b->nlines - 1);
        if (pen) {
            a->pen_icache += pen;
            charge(a, first, pen);
        }
    }
    const goemu_op *op = &a->ops[b->op0];
    goemu_ctap *tap = a->tap;                                           /* (trace tap) */
    if (tap) tap_block(tap, c->blk_base, a->total - tap_t0 - (tap->late - tap_l0));
    for (uint32_t i = 0; i < b->nseg; i++) {
        uint32_t j = b->seg0 + i;
        uint64_t cyc = 0;
        for (uint32_t e = 0; e < a->seg_n[j]; e++) {
            uint64_t k = pipe_step(a, op++);
            cyc += k;
            if (tap) tap_step(tap, k);                                  /* (trace tap) */
        }
        int8_t ph = a->seg_phase[j];
        uint32_t p = ph >= 0 ? (uint32_t)ph : mode;
        if (p != mode) {
            rec_open(a, p);
            rec_close(a, uc, p);
            a->mode = mode = p;
        }
        charge(a, p, cyc);
        a->phase_insns[p] += a->seg_n[j];
        if (tap) tap_seg(a, p);                                         /* (trace tap) */
    }
    a->instructions += b->n;
    a->prev_valid = 1;
    a->prev_kind = b->kind;
    a->prev_taken = b->taken;
    a->prev_has_target = b->has_target;
    a->prev_flow_pc = b->flow_pc;
    a->prev_ft = b->fallthrough;
    a->prev_target = b->target;
    a->prev_end = b->end;
    a->prev_addr = addr;
}

/* UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE: every load and store through L1D/L2 */
void goemu_cycles_mem(void *uc, int type, uint64_t addr, int size, int64_t value, void *user_data) {
    (void)uc; (void)type; (void)value;
    goemu_cycles *a = (goemu_cycles *)user_data;
    uint64_t ls = a->line_size, end = addr + (uint64_t)(size > 1 ? size : 1) - 1;
    uint64_t first, last;
    if (ls && !(ls & (ls - 1))) {
        uint32_t sh = (uint32_t)__builtin_ctzll(ls);
        first = addr >> sh;
        last = end >> sh;
    } else {
        first = addr / ls;
        last = end / ls;
    }
    goemu_lru *l1d = &a->l1d;
    if (first == last) {                          /* the line already most recent in its set: a hit, nothing moves */
        uint32_t si = (uint32_t)mod_n(first, l1d->nsets);
        uint32_t n = l1d->cnt[si];
        if (n && l1d->line[(uint64_t)si * l1d->ways + n - 1] == first) {
            l1d->hits++;
            return;
        }
    }
    uint64_t pen = hier_lines(a, l1d, a->l2pen_d, first, last);
    if (pen && a->tap) {              /* (trace tap) the instruction's phase; it owes the cycles */
        a->pen_dcache += pen;
        charge(a, a->tap->phase < NPH ? a->tap->phase : a->mode, pen);
        a->tap->late += pen;
    } else if (pen) {
        a->pen_dcache += pen;
        charge(a, a->mode, pen);
    }
}

/* ---- trace recording (emu/trace/record.py's NativeRecorder) -----------------
 * A UC_HOOK_CODE callback (goemu_trace_code) and a UC_HOOK_MEM_READ |
 * UC_HOOK_MEM_WRITE callback (goemu_trace_mem) that build the columns of
 * goemu's native trace format (emu/trace/native.py) directly: a record is
 * completed at the next instruction's code hook, its registers read with one
 * uc_reg_read_batch call and compared with the previous record's (mask +
 * changed values), its memory accesses appended by the memory hook (reads:
 * the bytes before the load, read with uc_mem_read; writes: the value from
 * the hook's arguments).  Python drains the completed records in bulk
 * (``drain``) and compresses them; the pending record's accesses stay and are
 * moved to the front of the buffers (goemu_trace_consumed).
 *
 * Bounds: a record is only completed when the record, value and access
 * buffers have room (``rec_cap`` <= TR_RECS records, TR_VALS values, TR_META
 * accesses, TR_DATA bytes); otherwise ``drain`` is called first.  A drain
 * that leaves records behind, or one instruction with more accesses than the
 * buffers hold, sets ``errors`` and stops the emulation: never a write past
 * an end. */

#define TR_REGS 32u
#define TR_RECS 8192u
#define TR_VALS 65536u
#define TR_META 32768u                /* accesses (< 65536: a record's count is a u16) */
#define TR_DATA 262144u
#define TR_MM 10u                     /* u8 kind, u8 size, u64 addr */
#define TR_SEEN 65536u                /* pcs already recorded (open addressing; power of two) */
#define TR_NOPC (~0ull)               /* an empty slot */

enum { TR_ERR_DRAIN = 1, TR_ERR_FULL = 2, TR_ERR_REGS = 4, TR_ERR_MEM = 8 };
enum { TR_WHY_NONE, TR_WHY_MAX, TR_WHY_TO, TR_WHY_ERROR };

typedef int (*goemu_reg_batch_fn)(void *uc, int *ids, void **vals, int count);
typedef void (*goemu_halt_fn)(int32_t why);

typedef struct {
    /* ---- saved state (up to ``end_of_state``: emu/trace/record.py saves these bytes) */
    uint64_t count;                   /* records completed since recording began */
    uint64_t pending_pc;
    uint32_t active, done, why;       /* why: TR_WHY_* (the recorder stopped the run) */
    uint32_t have_prev, have_pending;
    uint32_t started;                 /* recording began (the start block below is valid) */
    uint64_t start_blk_base, start_blk_addr;
    uint32_t start_blk_size, pad0;
    uint64_t start_at;                /* the first recorded instruction's address */
    uint64_t prev[TR_REGS];
    uint64_t pend_cyc;                /* with cycles: the pending record's cycles (late ones excluded), */
    uint32_t pend_phase, pend_within; /* phase and split/unsplit (0, or 1 + its index) */
    uint64_t blk_seen;                /* the counter's ``blocks`` at the last code hook */
    uint64_t blk_k;                   /* instructions of that block before the current one */
    uint64_t end_of_state;
    /* ---- configuration */
    goemu_counter *counter;
    goemu_reg_batch_fn reg_batch;
    goemu_mem_read_fn mem_read;
    goemu_drain_fn drain;
    goemu_halt_fn halt;
    goemu_stop_fn stop;
    uint64_t max_records;             /* 0: no limit */
    uint64_t start_pc, stop_pc;
    uint32_t has_start, has_stop;
    uint32_t nregs, pc_idx;
    uint32_t rec_cap;                 /* complete at most this many records before a drain */
    uint32_t errors;
    uint64_t drains;
    uint32_t seen_cap;                /* slots of ``seen`` used (a power of two <= TR_SEEN; 0: all) */
    uint32_t seen_full;               /* the table took no more: Python finds new pcs itself */
    uint32_t nseen, nnew;             /* pcs in ``seen``; pcs in ``newpcs`` */
    int32_t ids[TR_REGS];             /* register i's Unicorn id */
    /* registers read in place: copied from ``env + doff[j]`` (``width`` bytes) into
     * cur[dslot[j]]; emu/trace/inplace.py located the fields and proved they follow
     * uc_reg_read/uc_reg_write.  The others (bslot) are read with reg_batch.  Both 0:
     * every register but the pc with reg_batch. */
    const uint8_t *env;
    uint32_t ndirect, nbatch, width, pad1;
    uint32_t dslot[TR_REGS], doff[TR_REGS], bslot[TR_REGS];
    int32_t bids[TR_REGS];            /* set by goemu_trace_init: ids[bslot[k]] */
    void *ptrs[TR_REGS];              /* -> cur[bslot[k]], set by goemu_trace_init */
    uint64_t cur[TR_REGS];
    goemu_cycles *acct;               /* records carry cycles (the account's tap is ``tap``); NULL: none */
    goemu_ctap tap;                   /* saved by record.py: its head and the used part of its arrays */
    /* ---- buffers: completed records, then the pending record's accesses */
    uint32_t nrec, nvals;
    uint32_t nmeta, ndata;            /* accesses and bytes, the pending record's included */
    uint32_t pend_meta, pend_data;    /* where the pending record's accesses begin */
    uint64_t pcs[TR_RECS];
    uint32_t masks[TR_RECS];
    uint16_t nmem[TR_RECS];
    uint64_t vals[TR_VALS];
    uint8_t meta[TR_META * TR_MM];
    uint8_t data[TR_DATA];
    uint32_t cyc[TR_RECS];            /* with cycles: the format's cycles, phase and within columns */
    uint8_t phase[TR_RECS];
    uint32_t within[TR_RECS];
    uint64_t newpcs[TR_RECS];         /* pcs recorded for the first time, in record order (drained) */
    uint64_t seen[TR_SEEN];
} goemu_trace;

uint32_t goemu_trace_size(void) { return (uint32_t)sizeof(goemu_trace); }
uint32_t goemu_trace_limits(uint32_t which) {
    switch (which) {
    case 0: return TR_REGS; case 1: return TR_RECS; case 2: return TR_VALS; case 3: return TR_META;
    case 4: return TR_DATA; case 5: return (uint32_t)__builtin_offsetof(goemu_trace, end_of_state);
    case 6: return (uint32_t)__builtin_offsetof(goemu_trace, pcs);
    case 7: return (uint32_t)__builtin_offsetof(goemu_trace, masks);
    case 8: return (uint32_t)__builtin_offsetof(goemu_trace, nmem);
    case 9: return (uint32_t)__builtin_offsetof(goemu_trace, vals);
    case 10: return (uint32_t)__builtin_offsetof(goemu_trace, meta);
    case 11: return (uint32_t)__builtin_offsetof(goemu_trace, data);
    case 12: return (uint32_t)sizeof(goemu_ctap);
    case 13: return (uint32_t)__builtin_offsetof(goemu_trace, tap);
    case 14: return (uint32_t)__builtin_offsetof(goemu_trace, cyc);
    case 15: return (uint32_t)__builtin_offsetof(goemu_trace, phase);
    case 16: return (uint32_t)__builtin_offsetof(goemu_trace, within);
    case 17: return (uint32_t)__builtin_offsetof(goemu_ctap, seg_end);
    case 18: return (uint32_t)__builtin_offsetof(goemu_ctap, seg_within);
    case 19: return (uint32_t)__builtin_offsetof(goemu_ctap, seg_phase);
    case 20: return (uint32_t)__builtin_offsetof(goemu_ctap, per);
    case 21: return TR_SEEN;
    case 22: return (uint32_t)__builtin_offsetof(goemu_trace, newpcs);
    case 23: return (uint32_t)__builtin_offsetof(goemu_trace, seen);
    default: return 0;
    }
}

static uint32_t tr_seen_cap(const goemu_trace *t) {
    uint32_t cap = t->seen_cap;
    return cap && cap <= TR_SEEN && !(cap & (cap - 1)) ? cap : TR_SEEN;
}

/* note ``pc`` as recorded; a pc recorded for the first time goes to ``newpcs``
 * (Python describes it: Capstone, symbol).  A table half full, or a full log, sets
 * ``seen_full``: from then on Python finds the new pcs in the pc column itself. */
static void tr_seen(goemu_trace *t, uint64_t pc) {
    uint32_t cap = tr_seen_cap(t), mask = cap - 1;
    uint32_t s = (uint32_t)((pc * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    for (uint32_t i = 0; i < cap; i++, s = (s + 1) & mask) {
        uint64_t k = t->seen[s];
        if (k == pc && pc != TR_NOPC) return;
        if (k == TR_NOPC) {
            if (pc == TR_NOPC || t->nseen + 1 > cap / 2 || t->nnew >= TR_RECS) { t->seen_full = 1; return; }
            t->seen[s] = pc;
            t->nseen++;
            t->newpcs[t->nnew++] = pc;
            return;
        }
    }
    t->seen_full = 1;
}

/* the pcs recorded so far are exactly ``pcs`` (a restored snapshot's) */
void goemu_trace_seen_reset(goemu_trace *t, const uint64_t *pcs, uint32_t n) {
    uint32_t cap = tr_seen_cap(t);
    for (uint32_t i = 0; i < cap; i++) t->seen[i] = TR_NOPC;
    t->nseen = 0;
    t->seen_full = 0;
    for (uint32_t i = 0; i < n && !t->seen_full; i++) {
        t->nnew = 0;
        tr_seen(t, pcs[i]);
    }
    t->nnew = 0;
}

/* point the batch-read pointers at the state's own value slots */
void goemu_trace_init(goemu_trace *t) {
    if (t->nregs > TR_REGS) t->nregs = TR_REGS;
    for (uint32_t i = 0; i < TR_REGS; i++) t->cur[i] = 0;
    if (!t->env || t->ndirect > TR_REGS || (t->width != 4 && t->width != 8)) { t->env = 0; t->ndirect = 0; }
    if (t->nbatch > TR_REGS) t->nbatch = TR_REGS;
    if (!t->ndirect && !t->nbatch) {  /* every register but the pc (never compared: the pc column holds it) */
        for (uint32_t i = 0; i < t->nregs; i++) if (i != t->pc_idx) t->bslot[t->nbatch++] = i;
    }
    for (uint32_t j = 0; j < t->ndirect; j++) {
        t->dslot[j] &= TR_REGS - 1;
        if (t->doff[j] > (1u << 20)) t->doff[j] = 0;
    }
    for (uint32_t k = 0; k < TR_REGS; k++) {
        uint32_t slot = k < t->nbatch ? t->bslot[k] & (TR_REGS - 1) : 0;
        t->bslot[k] = slot;
        t->bids[k] = t->ids[slot];
        t->ptrs[k] = &t->cur[slot];
    }
    t->blk_seen = ~0ull;
    goemu_trace_seen_reset(t, 0, 0);
    t->tap.phase = 0xFF;              /* no instruction started yet: data-cache misses go to the mode */
    if (t->rec_cap == 0 || t->rec_cap > TR_RECS) t->rec_cap = TR_RECS;
}

static void tr_copy(uint8_t *dst, const uint8_t *src, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) dst[i] = src[i];
}

/* Python has taken the completed records (and the accesses before the
 * pending record's): move the pending accesses to the front. */
void goemu_trace_consumed(goemu_trace *t) {
    uint32_t pm = t->pend_meta <= t->nmeta ? t->pend_meta : t->nmeta;
    uint32_t pd = t->pend_data <= t->ndata ? t->pend_data : t->ndata;
    tr_copy(t->meta, t->meta + (uint64_t)pm * TR_MM, (t->nmeta - pm) * TR_MM);
    tr_copy(t->data, t->data + pd, t->ndata - pd);
    t->nmeta -= pm;
    t->ndata -= pd;
    t->pend_meta = 0;
    t->pend_data = 0;
    t->nrec = 0;
    t->nvals = 0;
    t->nnew = 0;
}

static void tr_fail(goemu_trace *t, void *uc, uint32_t err) {
    t->errors |= err;
    t->active = 0;
    if (t->halt) t->halt(TR_WHY_ERROR);   /* Python ends the run with the error */
    else if (t->stop) t->stop(uc);
}

/* ask Python to take the completed records; 0 if it did */
static int tr_drain(goemu_trace *t, void *uc) {
    if (t->drain) { t->drain(); t->drains++; }
    if (t->nrec != 0 || t->nvals != 0 || t->pend_meta != 0) {
        tr_fail(t, uc, TR_ERR_DRAIN);
        return -1;
    }
    return 0;
}

/* complete the pending record; nonzero: the run is stopping */
static int tr_complete(goemu_trace *t, void *uc) {
    uint32_t nr = t->nregs <= TR_REGS ? t->nregs : TR_REGS;
    uint32_t cap = t->rec_cap && t->rec_cap <= TR_RECS ? t->rec_cap : TR_RECS;
    if ((t->nrec >= cap || t->nvals + nr > TR_VALS) && tr_drain(t, uc)) return 1;
    if (t->nrec >= TR_RECS || t->nvals + nr > TR_VALS) { tr_fail(t, uc, TR_ERR_DRAIN); return 1; }
    if (t->nbatch && t->reg_batch(uc, t->bids, t->ptrs, (int)t->nbatch)) {
        tr_fail(t, uc, TR_ERR_REGS);
        return 1;
    }
    if (t->env) {
        const uint8_t *env = t->env;
        if (t->width == 8) {
            for (uint32_t j = 0; j < t->ndirect; j++) __builtin_memcpy(&t->cur[t->dslot[j]], env + t->doff[j], 8);
        } else {
            for (uint32_t j = 0; j < t->ndirect; j++) {
                uint32_t v;
                __builtin_memcpy(&v, env + t->doff[j], 4);
                t->cur[t->dslot[j]] = v;
            }
        }
    }
    uint32_t mask = 0;
    for (uint32_t i = 0; i < nr; i++) {
        uint64_t v = t->cur[i];
        if (i != t->pc_idx && (!t->have_prev || v != t->prev[i])) {
            mask |= 1u << i;
            t->vals[t->nvals++] = v;
        }
        t->prev[i] = v;
    }
    uint32_t n = t->nrec;
    if (t->acct) {                    /* the instruction's cycles, plus what it owes now it has run */
        t->cyc[n] = (uint32_t)(t->pend_cyc + t->tap.late);
        t->tap.late = 0;
        t->phase[n] = (uint8_t)t->pend_phase;
        t->within[n] = t->pend_within;
    }
    t->pcs[n] = t->pending_pc;
    t->masks[n] = mask;
    if (!t->seen_full) tr_seen(t, t->pending_pc);
    t->nmem[n] = (uint16_t)(t->nmeta - t->pend_meta);
    t->nrec = n + 1;
    t->count++;
    t->have_prev = 1;
    t->have_pending = 0;
    t->pend_meta = t->nmeta;
    t->pend_data = t->ndata;
    if (t->max_records && t->count >= t->max_records) {
        t->active = 0;
        t->why = TR_WHY_MAX;
        if (t->halt) t->halt(TR_WHY_MAX);
        return 1;
    }
    return 0;
}

/* at the end of the run: complete the pending record (registers as they are now) */
void goemu_trace_finish(goemu_trace *t, void *uc) {
    goemu_halt_fn halt = t->halt;
    t->halt = 0;                      /* reaching max_records here ends nothing more */
    if (t->have_pending) tr_complete(t, uc);
    t->halt = halt;
}

/* with cycles: the instruction at position ``pos`` starts (account.py insn_start): its
 * cycles in the account's current block, its phase and split/unsplit */
static void tr_insn_start(goemu_trace *t, uint64_t pos) {
    goemu_ctap *tp = &t->tap;
    uint32_t mode = t->acct->mode;
    uint32_t n = tp->n <= STAGE_OPS ? tp->n : STAGE_OPS;
    uint32_t ns = tp->nseg <= STAGE_SEGS ? tp->nseg : STAGE_SEGS;
    t->pend_cyc = 0;
    t->pend_phase = mode;
    t->pend_within = 0;
    if (tp->valid && pos >= tp->base && pos - tp->base < n) {
        uint32_t i = (uint32_t)(pos - tp->base);
        t->pend_cyc = tp->per[i] + (i == 0 ? tp->pen : 0);
        for (uint32_t s = 0; s < ns; s++) {
            if (i < tp->seg_end[s]) {
                t->pend_phase = tp->seg_phase[s];
                t->pend_within = tp->seg_within[s];
                break;
            }
        }
    }
    tp->phase = t->pend_phase;        /* the account charges the instruction's data-cache misses there */
}

void goemu_trace_code(void *uc, uint64_t addr, uint32_t size, void *user_data) {
    (void)size;
    goemu_trace *t = (goemu_trace *)user_data;
    if (t->acct) {                    /* the position of this instruction in the counter's block */
        goemu_counter *c = t->counter;
        uint64_t b = c ? c->blocks : 0;
        if (b != t->blk_seen) { t->blk_seen = b; t->blk_k = 0; }
        else t->blk_k++;
    }
    if (!t->active) {
        if (t->done || t->errors || !t->has_start || addr != t->start_pc) return;
        t->active = 1;                /* --from: the first entry to the symbol is record 0 */
        t->tap.late = 0;              /* penalties of unrecorded instructions */
    } else if (t->has_stop && addr == t->stop_pc) {
        if (t->have_pending && tr_complete(t, uc)) return;
        t->active = 0;                /* --to: the symbol's entry is not recorded; the run ends */
        t->why = TR_WHY_TO;
        if (t->halt) t->halt(TR_WHY_TO);
        return;
    }
    if (!t->started) {
        goemu_counter *c = t->counter;
        t->started = 1;
        t->start_blk_base = c ? c->blk_base : 0;
        t->start_blk_addr = c ? c->blk_addr : 0;
        t->start_blk_size = c ? c->blk_size : 0;
        t->start_at = addr;
    }
    if (t->have_pending && tr_complete(t, uc)) return;
    t->pending_pc = addr;
    t->have_pending = 1;
    if (t->acct) tr_insn_start(t, (t->counter ? t->counter->blk_base : 0) + t->blk_k);
}

void goemu_trace_mem(void *uc, int type, uint64_t addr, int size, int64_t value, void *user_data) {
    goemu_trace *t = (goemu_trace *)user_data;
    if (!t->have_pending) return;
    uint32_t sz = size > 0 ? (uint32_t)size : 0;
    if (sz > 255) { tr_fail(t, uc, TR_ERR_FULL); return; }          /* a size the format cannot hold */
    if (t->nmeta >= TR_META || t->ndata + sz > TR_DATA) {
        if (t->nrec || t->pend_meta) {                               /* make room: drain what is complete */
            if (tr_drain(t, uc)) return;
        }
        if (t->nmeta >= TR_META || t->ndata + sz > TR_DATA) {      /* one instruction filled the buffers */
            tr_fail(t, uc, TR_ERR_FULL);
            return;
        }
    }
    uint8_t *m = t->meta + (uint64_t)t->nmeta * TR_MM;
    int write = type == 17;                                          /* UC_MEM_WRITE */
    int loaded = type == 25;                                         /* UC_MEM_READ_AFTER: the value loaded */
    m[0] = (uint8_t)(write ? 1 : 0);
    m[1] = (uint8_t)sz;
    for (uint32_t i = 0; i < 8; i++) m[2 + i] = (uint8_t)(addr >> (8 * i));
    uint8_t *d = t->data + t->ndata;
    if (write || (loaded && sz <= 8)) {
        uint64_t v = (uint64_t)value;
        for (uint32_t i = 0; i < sz; i++) d[i] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
    } else if (sz && t->mem_read(uc, addr, d, sz)) {
        tr_fail(t, uc, TR_ERR_MEM);
        return;
    }
    t->nmeta++;
    t->ndata += sz;
}
