/*
 * xsave.c - what the preemption trampolines save, sized from CPUID.
 *
 * A G stopped by a signal may be in the middle of anything: x87 code with
 * values on the register stack, AVX2 or AVX-512 loops with live YMM/ZMM
 * and opmask registers, code with an unusual MXCSR.  goro_async_preempt
 * (preempt.S) therefore saves the whole user-visible extended state with
 * one instruction, chosen here once at start-up:
 *
 *   XSAVEC  compacted format: only the enabled components take room, and
 *           components still in their initial state are not written (an
 *           AVX-512 area is 2,432-2,440 bytes, 130-160 ns for the pair
 *           XSAVEC + XRSTOR);
 *   XSAVE   standard format, when XSAVEC is absent (each component at its
 *           architectural offset);
 *   FXSAVE  when the OS has not enabled XSAVE (x87, MXCSR, XMM only --
 *           nothing else can be live then).
 *
 * The requested-feature mask is XCR0, every user component the kernel
 * enabled, so a later CPU's registers (APX's r16-r31 included) are saved
 * without a change here.  One exception: AMX tile data (8 KiB) is left
 * out unless the process holds the permission to use it
 * (ARCH_GET_XCOMP_PERM); without it no thread can have tile data live,
 * and the area stays small.  TILECFG goes with it: the two are only
 * meaningful together.
 *
 * Go saves only XMM0-15 in asyncPreempt; that corrupts C compiled for
 * AVX2 or AVX-512 (measured: see DESIGN.md), hence all this.
 */
#include "runtime.h"
#include "xsave.h"

#include <cpuid.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef ARCH_GET_XCOMP_PERM
#define ARCH_GET_XCOMP_PERM	0x1022
#endif

#define XFEATURE_TILECFG	17
#define XFEATURE_TILEDATA	18

#define XSAVE_LEGACY_SIZE	512	/* FXSAVE image */
#define XSAVE_HDR_SIZE		64	/* header following it */

/* Read-only after goro__xsave_init; FXSAVE until then (always valid). */
uint64_t goro__xsave_mask = 3;			/* x87 | SSE */
uint32_t goro__xsave_size = XSAVE_LEGACY_SIZE;
int goro__xsave_kind = GORO_XSAVE_FXSAVE;

static uint64_t xsave_xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

/* Size of the compacted (XSAVEC) area for mask: components in bit order,
 * each aligned to 64 bytes when CPUID 0xD.i ECX bit 1 says so. */
static uint32_t xsave_compacted_size(uint64_t mask)
{
	unsigned a, b, c, d;
	uint32_t off = XSAVE_LEGACY_SIZE + XSAVE_HDR_SIZE;

	for (unsigned i = 2; i < 63; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		if (c & 2)
			off = (off + 63) & ~63u;
		off += a;
	}
	return off;
}

/* Size of the standard-format (XSAVE) area for mask: the end of its last
 * component.  CPUID 0xD.0 EBX gives the same for mask == XCR0. */
static uint32_t xsave_standard_size(uint64_t mask)
{
	unsigned a, b, c, d;
	uint32_t end = XSAVE_LEGACY_SIZE + XSAVE_HDR_SIZE;

	for (unsigned i = 2; i < 63; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		if (b + a > end)
			end = b + a;
	}
	return end;
}

void goro__xsave_init(void)
{
	unsigned a, b, c, d;
	uint64_t mask;

	__cpuid(1, a, b, c, d);
	if (!(c & bit_XSAVE) || !(c & bit_OSXSAVE)) {
		goro__xsave_mask = 3;
		goro__xsave_size = XSAVE_LEGACY_SIZE;
		goro__xsave_kind = GORO_XSAVE_FXSAVE;
		return;
	}

	mask = xsave_xcr0();
	if (mask & (1ULL << XFEATURE_TILEDATA)) {
		unsigned long perm = 0;

		if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm) != 0 ||
		    !(perm & (1UL << XFEATURE_TILEDATA)))
			mask &= ~((1ULL << XFEATURE_TILEDATA) |
			    (1ULL << XFEATURE_TILECFG));
	}

	__cpuid_count(0xd, 1, a, b, c, d);
	if (a & 2) {			/* XSAVEC */
		goro__xsave_size = xsave_compacted_size(mask);
		goro__xsave_kind = GORO_XSAVE_XSAVEC;
	} else {
		goro__xsave_size = xsave_standard_size(mask);
		goro__xsave_kind = GORO_XSAVE_XSAVE;
	}
	goro__xsave_mask = mask;
}

uint32_t goro__preempt_frame_size(void)
{
	uint32_t area = (goro__xsave_size + 63) & ~63u;

	return GORO_PREEMPT_REDZONE	/* left to the interrupted code */
	    + PF_SIZE			/* PC slot, flags, 15 registers */
	    + 56			/* frame base is 8-aligned: down to 64 */
	    + area
	    + 8;			/* return address of the call into C */
}

/*
 * Runs on the G, inside goro__redirect_tramp, before the G parks: the
 * original return address the handler saved in the G, so the
 * trampoline's CFI can describe the caller while the G is parked
 * (debuggers, goro_traceback).  goro__redirect_taken's answer still
 * decides where the G returns.
 */
uintptr_t goro__redirect_peek(void)
{
	g_t *g = getg();

	return g ? g->redirect_ret : 0;
}
