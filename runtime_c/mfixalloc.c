/*
 * FixAlloc (mfixalloc.c): fixed-size slots carved from 128 KiB chunks that
 * SysAlloc supplies, freed slots kept on a list and reused last-in first-out.
 * Nothing is zeroed: fresh chunks are zero, a reused slot keeps its contents
 * apart from the link word.
 *
 * SysAlloc is the model's mmap: a bump allocator over the region the emulator
 * maps for it (outside the arena, never scanned as heap), memory never given back.
 */
#include "malloc.h"

void *SysAlloc(uintptr n) {
	uint8 *p = mheap.sys_used;
	n = (n + PageMask) & ~(uintptr)PageMask;
	if (n > (uintptr)(mheap.sys_end - p))
		return nil;
	mheap.sys_used = p + n;
	mstats.sys += n;
	return p;
}

void FixAlloc_Init(FixAlloc *f, uintptr size, void (*first)(void *, uint8 *), void *arg) {
	f->size = size;
	f->first = first;
	f->arg = arg;
	f->list = nil;
	f->chunk = nil;
	f->nchunk = 0;
	f->inuse = 0;
	f->sys = 0;
}

void *FixAlloc_Alloc(FixAlloc *f) {
	void *v;
	if (f->list) {
		v = f->list;
		f->list = *(MLink **)v;
		f->inuse += f->size;
		return v;
	}
	if (f->nchunk < f->size) {
		f->sys += FixAllocChunk;
		f->chunk = SysAlloc(FixAllocChunk);
		if (f->chunk == nil)
			throw("out of memory (FixAlloc)");
		f->nchunk = FixAllocChunk;
	}
	v = f->chunk;
	if (f->first)
		f->first(f->arg, v);
	f->chunk += f->size;
	f->nchunk -= f->size;
	f->inuse += f->size;
	return v;
}

void FixAlloc_Free(FixAlloc *f, void *p) {
	f->inuse -= f->size;
	*(MLink **)p = f->list;
	f->list = p;
}
