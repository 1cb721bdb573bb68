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
 * the emulation and counts nothing (Python re-raises the error). */

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
}

/* ---- runtime events at fixed addresses -------------------------------------
 * A UC_HOOK_CODE callback on each event address (newstack, oldstack,
 * lessstack).  It copies what the event reports -- a window of the M struct
 * (m found in a register or a memory word), optionally a word reached
 * through a pointer in that window (curg->stackbase), optionally one
 * register -- plus the counter's current block into a fixed ring.  Python
 * turns the ring into Event objects when anyone looks at the events (or when
 * the ring is full: ``drain`` is called before a record would not fit). */

#define EV_SLOTS 256u
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
