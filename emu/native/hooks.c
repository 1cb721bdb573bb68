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
