/*
 * Size classes (msize.c).  Go 1.0 computed the class table at start-up; its
 * algorithm needs divisions, and 5c's ARM targets had none in hardware, so
 * goemu tabulates the result once here (tests/alloc re-derive it with
 * InitSizes' algorithm and compare), lookup tables included: start-up runs
 * no table building.
 */
#include "malloc.h"

int32 class_to_size[NumSizeClasses] = {
	0, 8, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
	352, 384, 448, 512, 576, 640, 704, 768, 832, 1024, 1152, 1280, 1408, 1536, 1664, 2048,
	2304, 2560, 3072, 3328, 4096, 4352, 4608, 5120, 6144, 6656, 6912, 8192, 8704, 10240,
	10496, 12288, 14080, 16384, 17664, 20480, 21248, 24576, 24832, 28672, 32768,
};
int32 class_to_allocnpages[NumSizeClasses] = {
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2,
	1, 3, 2, 3, 1, 3, 2, 3, 5, 1, 6, 5, 4, 3, 5, 7, 2, 7, 5, 8, 3, 7, 4, 9, 5, 11, 6, 13, 7, 8,
};

/* size_to_class8[(n+7)>>3] for n <= 1016, size_to_class128[(n-1024+127)>>7] above:
 * the smallest class that holds n.  Go filled them at init with one cursor over
 * the classes; goemu keeps the result (tests/alloc/test_size_classes.py
 * rebuilds them from class_to_size and compares). */
uint8 size_to_class8[1024 / 8 + 1] = {
	1, 1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15,
	16, 16, 17, 17, 18, 18, 18, 18, 19, 19, 19, 19, 20, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22, 22,
	22, 22, 22, 22, 23, 23, 23, 23, 23, 23, 23, 23, 24, 24, 24, 24, 24, 24, 24, 24, 25, 25, 25, 25,
	25, 25, 25, 25, 26, 26, 26, 26, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27, 27, 27, 28, 28, 28, 28,
	28, 28, 28, 28, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29,
	29, 29, 29, 0,
};
uint8 size_to_class128[(MaxSmallSize - 1024) / 128 + 1] = {
	29, 30, 31, 32, 33, 34, 35, 35, 35, 36, 36, 37, 37, 38, 38, 38, 38, 39, 39, 40, 40, 40, 40, 40,
	40, 41, 41, 42, 42, 43, 43, 43, 43, 44, 44, 44, 44, 44, 44, 44, 44, 45, 45, 45, 45, 46, 46, 47,
	47, 47, 47, 47, 47, 47, 47, 47, 47, 48, 48, 48, 48, 49, 49, 49, 49, 49, 49, 49, 49, 49, 49, 49,
	49, 50, 50, 51, 51, 51, 51, 51, 51, 51, 51, 51, 51, 51, 51, 51, 51, 52, 52, 52, 52, 52, 52, 52,
	52, 52, 52, 52, 52, 52, 52, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53,
	53, 54, 54, 54, 54, 54, 54, 54, 54, 54, 54, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55,
	55, 55, 55, 55, 55, 55, 55, 55, 55, 56, 56, 56, 56, 56, 56, 57, 57, 57, 57, 57, 57, 57, 57, 57,
	57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 57, 58, 58, 59, 59, 59, 59, 59,
	59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59, 59,
	59, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60,
	60, 60, 60, 60, 60, 60, 60, 60, 60,
};

void InitSizes(void) {
	int32 i;
	for (i = 0; i < NumSizeClasses; i++)
		mstats.by_size[i].size = (uint32)class_to_size[i];
}

int32 SizeToClass(int32 size) {
	if (size > MaxSmallSize)
		throw("SizeToClass - invalid size");
	if (size > 1024 - 8)
		return size_to_class128[(size - 1024 + 127) >> 7];
	return size_to_class8[(size + 7) >> 3];
}

/* How many objects MCache moves to or from MCentral at once: 64 KiB worth,
 * clamped to [2, 32].  Counted by addition: no division on ARM. */
int32 TransferCount(int32 size) {
	int32 n = 0, s;
	if (size <= 2048)
		return 32;
	for (s = size; s <= 64 << 10; s += size)
		n++;
	return n < 2 ? 2 : n;
}
