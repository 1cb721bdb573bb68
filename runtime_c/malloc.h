/*
 * Go 1.0's memory allocator (malloc.h, malloc.goc, msize.c, mcache.c,
 * mcentral.c, mheap.c, mfixalloc.c at 89b075cc), in goemu's own words.
 *
 *   MCache    per-M lists of free objects, one per size class, no lock
 *   MCentral  per class: spans with free objects (nonempty) and without (empty)
 *   MHeap     page runs: free lists by page count (1..255) and `large`, a
 *             page->span map, the arena, and the GC bitmap below it
 *   FixAlloc  fixed-size slots carved from 128 KiB SysAlloc chunks: MSpans,
 *             MCaches and FixedStack stack segments
 *
 * Objects up to MaxSmallSize come from their size class through MCache;
 * bigger ones are whole page runs straight from MHeap.  The bitmap (4 bits
 * per heap word, below arena_start, Go's layout) says which words start an
 * allocated object; emu/heap.py reads it to find objects and the sweep there
 * writes it.  Where the model differs from Go 1.0 (no OS, one M, counters
 * folded into mstats at once), README says so.
 */
#ifndef GOEMU_MALLOC_H
#define GOEMU_MALLOC_H

#include "runtime.h"

enum {
	PageShift = 12,
	PageSize = 1 << PageShift,
	PageMask = PageSize - 1,
	NumSizeClasses = 61,
	MaxSmallSize = 32 << 10,
	FixAllocChunk = 128 << 10,
	MaxMCacheListLen = 256,
	MaxMCacheSize = 2 << 20,
	MaxMHeapList = 1 << (20 - PageShift),
	HeapAllocChunk = 1 << 20,
	/* goemu: the page->span map covers the arena the emulator maps (64 MiB at most) */
	MaxArenaPages = (64 << 20) >> PageShift,
	/* goemu: never-used pages at the bottom of the SysAlloc region, so that a NOSPLIT
	 * overrun of the lowest stack segment lands in mapped memory */
	SysUnderflowPages = 4,
};

enum { FlagNoPointers = 1 << 0, FlagNoProfiling = 1 << 1, FlagNoGC = 1 << 2 };

enum { MSpanInUse = 0, MSpanFree, MSpanListHead, MSpanDead };

/* mgc0.c's bitmap: wordsPerBitmapWord heap words per bitmap word, 4 bits each,
 * grouped by kind. */
#if defined(__x86_64__)
enum { WordsPerBitmapWord = 16 };
#else
enum { WordsPerBitmapWord = 8 };
#endif
enum {
	BitShiftAllocated = 0,
	BitShiftBlockBoundary = WordsPerBitmapWord,   /* = bitNoPointers when allocated */
	BitShiftMarked = 2 * WordsPerBitmapWord,
	BitShiftSpecial = 3 * WordsPerBitmapWord,
};
#define bitAllocated ((uintptr)1 << BitShiftAllocated)
#define bitNoPointers ((uintptr)1 << BitShiftBlockBoundary)
#define bitBlockBoundary ((uintptr)1 << BitShiftBlockBoundary)
#define bitMarked ((uintptr)1 << BitShiftMarked)
#define bitSpecial ((uintptr)1 << BitShiftSpecial)
#define bitMask (bitBlockBoundary | bitAllocated | bitMarked | bitSpecial)

typedef struct MLink MLink;
typedef struct MSpan MSpan;
typedef struct MCentral MCentral;
typedef struct MCacheList MCacheList;
typedef struct MHeap MHeap;
typedef struct MStats MStats;

struct MLink {
	MLink *next;
};

struct FixAlloc {
	uintptr size;
	void (*first)(void *arg, uint8 *p);   /* run on every newly carved slot */
	void *arg;
	MLink *list;
	uint8 *chunk;
	uint32 nchunk;
	uintptr inuse;
	uintptr sys;
};

struct MSpan {
	MSpan *next;
	MSpan *prev;
	MSpan *allnext;
	uintptr start;          /* first page number: address >> PageShift */
	uintptr npages;
	MLink *freelist;
	uint32 ref;             /* objects handed out (to MCaches or in use) */
	uint32 sizeclass;       /* 0: one large object */
	uint32 state;
	int64 unusedsince;
	uintptr npreleased;
	uint8 *limit;           /* end of the last whole object */
};

struct MCentral {
	uintptr lock;
	int32 sizeclass;
	MSpan nonempty;
	MSpan empty;
	int32 nfree;
};

struct MCacheList {
	MLink *list;
	uint32 nlist;
	uint32 nlistmin;
};

struct MCache {
	MCacheList list[NumSizeClasses];
	uintptr size;           /* bytes on all lists */
};

struct MHeap {
	uintptr lock;
	MSpan free[MaxMHeapList];   /* free[n]: free runs of exactly n pages */
	MSpan large;                /* free runs of MaxMHeapList pages or more */
	MSpan *allspans;
	MSpan *map[MaxArenaPages];  /* page (arena-relative) -> span */
	uint8 *bitmap;              /* lowest byte of the bitmap; it ends at arena_start */
	uintptr bitmap_mapped;
	uint8 *arena_start;
	uint8 *arena_used;
	uint8 *arena_end;
	MCentral central[NumSizeClasses];
	FixAlloc spanalloc;
	FixAlloc cachealloc;
	/* goemu: SysAlloc's memory, a bump over the region the emulator maps for it */
	uint8 *sys_start;
	uint8 *sys_used;
	uint8 *sys_end;
	/* goemu: large spans the collector freed, handed to MHeap_Free by
	 * stealcache at the allocator's next entry (linked through MSpan.next) */
	MSpan *reclaim;
	bool stealpending;          /* goemu: the collector swept; stealcache not yet run */
};

/* malloc.h's MStats, Go 1.0's field order; plus goemu's stack segment counts. */
struct MStats {
	uint64 alloc;
	uint64 total_alloc;
	uint64 sys;
	uint64 nlookup;
	uint64 nmalloc;
	uint64 nfree;
	uint64 heap_alloc;
	uint64 heap_sys;
	uint64 heap_idle;
	uint64 heap_inuse;
	uint64 heap_released;
	uint64 heap_objects;
	uint64 stacks_inuse;
	uint64 stacks_sys;
	uint64 mspan_inuse;
	uint64 mspan_sys;
	uint64 mcache_inuse;
	uint64 mcache_sys;
	uint64 buckhash_sys;
	uint64 next_gc;
	uint64 last_gc;
	uint64 pause_total_ns;
	uint64 pause_ns[256];
	uint32 numgc;
	bool enablegc;
	bool debuggc;
	struct {
		uint32 size;
		uint64 nmalloc;
		uint64 nfree;
	} by_size[NumSizeClasses];
	/* goemu */
	uint64 nstackalloc;          /* stack segments allocated, ever */
	uint64 nstackfree;
	uint64 ngc;                  /* collections run by the emulator's collector */
};

extern MHeap mheap;
extern MStats mstats;
extern FixAlloc stackfixalloc;
extern MCache *mcache0;

/* msize.c */
extern int32 class_to_size[NumSizeClasses];
extern int32 class_to_allocnpages[NumSizeClasses];
void InitSizes(void);
int32 SizeToClass(int32 size);
int32 TransferCount(int32 size);

/* mfixalloc.c */
void FixAlloc_Init(FixAlloc *f, uintptr size, void (*first)(void *, uint8 *), void *arg);
void *FixAlloc_Alloc(FixAlloc *f);
void FixAlloc_Free(FixAlloc *f, void *p);
void *SysAlloc(uintptr n);

/* mheap.c */
void MHeap_Init(MHeap *h, uintptr arena, uintptr arena_size, uintptr sys, uintptr sys_size);
MSpan *MHeap_Alloc(MHeap *h, uintptr npage, int32 sizeclass, int32 acct);
void MHeap_Free(MHeap *h, MSpan *s, int32 acct);
MSpan *MHeap_Lookup(MHeap *h, void *v);
MSpan *MHeap_LookupMaybe(MHeap *h, void *v);
void MSpanList_Init(MSpan *list);
bool MSpanList_IsEmpty(MSpan *list);
void MSpanList_Insert(MSpan *list, MSpan *span);
void MSpanList_Remove(MSpan *span);

/* mcentral.c */
void MCentral_Init(MCentral *c, int32 sizeclass);
int32 MCentral_AllocList(MCentral *c, int32 n, MLink **first);
void MCentral_FreeList(MCentral *c, int32 n, MLink *first);

/* mcache.c */
void *MCache_Alloc(MCache *c, int32 sizeclass, uintptr size, int32 zeroed);
void MCache_Free(MCache *c, void *p, int32 sizeclass, uintptr size);
void MCache_ReleaseAll(MCache *c);

/* malloc.c */
void mallocinit(uintptr arena, uintptr arena_size, uintptr sys, uintptr sys_size);
void *runtime_mallocgc(uintptr size, uint32 flag, int32 dogc, int32 zeroed);
void runtime_free(void *v);
void markspan(void *v, uintptr size, uintptr n, bool leftover);
void unmarkspan(void *v, uintptr size);
void markallocated(void *v, uintptr n, bool noptr);
void markfreed(void *v, uintptr n);
void memclr(void *v, uintptr n);
void outofmemory(uintptr n) __attribute__((noreturn));
void stealcache(void);

/* mgc0.c */
extern uint8 gcenv[16];
extern int32 gcpercent;
void runtime_gc(int32 force);

#endif
