/*
 * arch.h - small architecture-specific inlines for x86-64.
 * An aarch64 port provides the same names in lib/arch/aarch64/arch.h.
 */
#ifndef GORO_ARCH_H
#define GORO_ARCH_H

#include <stdint.h>

/* The invariant TSC: cheap (~10 ns here), monotonic across CPUs. */
static inline uint64_t goro__cycles(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void goro__cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

#endif
