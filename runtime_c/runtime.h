/*
 * goemu's model of the Go 1.0 runtime (commit 89b075cc and its parent).
 *
 * The structs below keep Go 1.0's field order and, per architecture, its exact
 * offsets (Plan 9 C alignment: on 32-bit ARM an 8-byte integer is aligned to 4).
 * This header is the single declaration of every layout and constant: the
 * assembler stubs and the Python side read them back from the DWARF of the
 * compiled objects (emu/layout.py), and tests pin them to offsets worked out by hand from Go 1.0's
 * src/pkg/runtime/runtime.h.
 */
#ifndef GOEMU_RUNTIME_H
#define GOEMU_RUNTIME_H

typedef unsigned char uint8;
typedef signed char int8;
typedef unsigned short uint16;
typedef short int16;
typedef unsigned int uint32;
typedef int int32;
typedef unsigned long uintptr;   /* 64 bits on x86-64, 32 on ARM */
typedef long intptr;
typedef uint8 bool;
#define true 1
#define false 0
#define nil ((void*)0)

#if defined(__arm__)
/* 5c aligns 8-byte integers to 4 only; a typedef may lower alignment. */
typedef unsigned long long uint64 __attribute__((aligned(4)));
typedef long long int64 __attribute__((aligned(4)));
#else
typedef unsigned long long uint64;
typedef long long int64;
#endif

typedef struct G G;
typedef struct M M;
typedef struct Gobuf Gobuf;
typedef struct Stktop Stktop;
typedef struct Defer Defer;
typedef struct Panic Panic;
typedef struct MCache MCache;
typedef struct FixAlloc FixAlloc;

/* Lock and Note are unions of a key and an M* in Go 1.0. */
typedef union Note { uint32 key; M *waitm; } Note;

struct Gobuf {
	uint8 *sp;
	uint8 *pc;
	G *g;
};

struct G {
	uint8 *stackguard;   /* segment bottom + StackGuard: the split check compares SP with this */
	uint8 *stackbase;    /* the Stktop at the top of the current segment */
	Defer *defer;
	Panic *panic;
	Gobuf sched;
	uint8 *gcstack;
	uint8 *gcsp;
	uint8 *gcguard;
	uint8 *stack0;
	uint8 *entry;
	G *alllink;
	void *param;
	int16 status;
	int32 goid;
	uint32 selgen;
	int8 *waitreason;
	G *schedlink;
	bool readyonstop;
	bool ispanic;
	M *m;
	M *lockedm;
	M *idlem;
	int32 sig;
	uintptr sigcode0;
	uintptr sigcode1;
	uintptr sigpc;
	uintptr gopc;
};

struct M {
	G *g0;
	void (*morepc)(void);
	void *moreargp;
	Gobuf morebuf;
	uint32 moreframesize;
	uint32 moreargsize;
	uintptr cret;        /* the word the February 2012 fix clears */
	uint64 procid;
	G *gsignal;
	uint32 tls[8];
	G *curg;
	int32 id;
	int32 mallocing;
	int32 gcing;
	int32 locks;
	int32 nomemprof;
	int32 waitnextg;
	int32 dying;
	int32 profilehz;
	int32 helpgc;
	uint32 fastrand;
	uint64 ncgocall;
	Note havenextg;
	G *nextg;
	M *alllink;
	M *schedlink;
	uint32 machport;
	MCache *mcache;
	FixAlloc *stackalloc;
	G *lockedg;
	G *idleg;
	uintptr createstack[32];
	uint32 freglo[16];
	uint32 freghi[16];
	uint32 fflag;
	M *nextwaitm;
	uintptr waitsema;
	uint32 waitsemacount;
	uint32 waitsemalock;
};

struct Stktop {
	/* The older segment's bounds, restored by oldstack. */
	uint8 *stackguard;
	uint8 *stackbase;
	Gobuf gobuf;         /* where to resume the caller: m->morebuf at the split */
	uint32 argsize;
	uint8 *argp;         /* where the arguments came from, and where results go back */
	uintptr free;        /* bytes to stackfree, 0 for the reflect fast path */
	bool panic;
};

/* src/pkg/runtime/stack.h at 89b075cc (StackSystem is 0 off Windows). */
enum {
	StackSystem = 0,
	StackExtra = 1024,
	StackMin = 4096,
	FixedStack = StackMin + StackSystem,
	StackBig = 4096,
	StackGuard = 256 + StackSystem,
	StackSmall = 128,
	StackLimit = StackGuard - StackSystem - StackSmall,
};

/* Hypercalls: how emulated code asks the emulator (Python) for a service. */
enum {
	HcExit = 1,        /* a0 = status */
	HcThrow = 2,       /* a0 = NUL-terminated message */
	HcPrintInt = 3,    /* a0 = signed value */
	HcPrintHex = 4,    /* a0 = value */
	HcPrintStr = 5,    /* a0 = NUL-terminated string */
	HcGC = 6,          /* a0 = SP of the calling goroutine */
	HcBoot = 7,        /* the runtime is initialised; a0 = the main goroutine */
};

/* Go's statuses, the few the model uses. */
enum { Gidle, Grunnable, Grunning, Gsyscall, Gwaiting, Gmoribund, Gdead };

/* What the emulator tells rt0 about the memory it mapped. */
typedef struct BootArgs BootArgs;
struct BootArgs {
	uintptr arena, arena_size;
	uintptr stacks, stacks_size;
	uintptr g0stack_lo, g0stack_hi;
	uintptr mainfn;
};
extern BootArgs bootargs;
void rt0(void) __attribute__((noreturn));

/* Reading m and g: per-architecture, see arch.h. */
#include "arch.h"

/* Globals (bss), as in Go 1.0: m0 and g0 are static, allm and allg link the rest. */
extern M m0;
extern G g0;
extern M *allm;
extern G *allg;
extern int32 gcount;

/* Stubs in asm/ that C calls: gosave, gogo and gogocall take their arguments
 * on the stack, as 6c/5c passed them, so C reaches them through arch.h's
 * go_gosave, go_gogo and go_gogocall, which lay the arguments out that way. */
void lessstack(void);
void goexit(void);

/* C runtime. */
void throw(const char *msg) __attribute__((noreturn));
void *memmove(void *dst, const void *src, uintptr n);
void *memcpy(void *dst, const void *src, uintptr n);
void *memset(void *dst, int c, uintptr n);
void *mallocgc(uintptr size);
uint8 *stackalloc(uintptr n);
void stackfree(uint8 *v, uintptr n);
G *malg(uintptr stacksize);
GO_NOSAVE void newstack(void) __attribute__((noreturn));
GO_NOSAVE void oldstack(void) __attribute__((noreturn));
void badmcall(void) __attribute__((noreturn));
void badmcall2(void) __attribute__((noreturn));

#endif
