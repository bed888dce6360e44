/*
 * xsave.h - the x86-64 preemption trampolines (preempt.S) and the
 * extended-state parameters they use (xsave.c).
 *
 * Included by preempt.S (with __ASSEMBLER__ defined: the offsets only) and
 * by the C code that rewrites a signal context (preempt.c).
 *
 * The trampolines save the interrupted code's whole register state on the
 * G's own stack, below what the interrupted code was using:
 *
 *   goro_async_preempt, entered through a context rewritten by the SIGURG
 *   handler (GORO_PREEMPT_SKIP below the interrupted rsp):
 *
 *	original rsp ->	+264	(the interrupted code's stack)
 *			+136	red zone, 128 bytes, left untouched
 *			+128	interrupted PC (pushed by the handler)
 *			+120	rflags
 *			+0	r15 r14 ... rax (struct goro__preempt_frame)
 *	frame base = rbp ...	padding to a 64-byte boundary
 *			-size	XSAVEC/XSAVE/FXSAVE area (goro__xsave_size,
 *				rounded up to 64), then the call into C
 *
 *   goro__redirect_tramp, entered by a `ret` whose return address the
 *   handler replaced: the same frame without the red zone; the PC slot is
 *   the popped return-address slot itself and receives the original
 *   return address, and `ret` leaves rsp as the unsafe function's `ret`
 *   would have.
 */
#ifndef GORO_ARCH_X86_64_XSAVE_H
#define GORO_ARCH_X86_64_XSAVE_H

/* goro__xsave_kind: which instruction saves the extended state. */
#define GORO_XSAVE_FXSAVE	0	/* no XSAVE: x87, MXCSR, XMM0-15 */
#define GORO_XSAVE_XSAVE	1	/* standard format */
#define GORO_XSAVE_XSAVEC	2	/* compacted format, init state skipped */

/* The handler moves rsp down by this much: red zone plus the PC slot. */
#define GORO_PREEMPT_REDZONE	128
#define GORO_PREEMPT_SKIP	136

/* Offsets in the register frame, from its base (rbp in the trampolines). */
#define PF_R15		0
#define PF_R14		8
#define PF_R13		16
#define PF_R12		24
#define PF_R11		32
#define PF_R10		40
#define PF_R9		48
#define PF_R8		56
#define PF_RBP		64
#define PF_RDI		72
#define PF_RSI		80
#define PF_RDX		88
#define PF_RCX		96
#define PF_RBX		104
#define PF_RAX		112
#define PF_RFLAGS	120
#define PF_RIP		128
#define PF_SIZE		136	/* up to and including the PC slot */

/* The CFA (the interrupted rsp) is this far above the frame base. */
#define PF_CFA_ASYNC	(PF_SIZE + GORO_PREEMPT_REDZONE)	/* 264 */
#define PF_CFA_REDIRECT	PF_SIZE					/* 136 */

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#define GORO__HIDDEN __attribute__((visibility("hidden")))

enum goro__xsave_kind {
	GORO__XSAVE_FXSAVE = GORO_XSAVE_FXSAVE,
	GORO__XSAVE_XSAVE = GORO_XSAVE_XSAVE,
	GORO__XSAVE_XSAVEC = GORO_XSAVE_XSAVEC,
};

/*
 * The register frame both trampolines build; the C mirror of PF_*.  A
 * preempted G parked in goro__async_preempt2 has it at the trampoline's
 * rbp; tracebacks and debuggers find it through the CFI instead.
 */
struct goro__preempt_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t rflags;
	uint64_t rip;		/* interrupted PC / original return address */
};

_Static_assert(offsetof(struct goro__preempt_frame, r15) == PF_R15, "PF_R15");
_Static_assert(offsetof(struct goro__preempt_frame, r8) == PF_R8, "PF_R8");
_Static_assert(offsetof(struct goro__preempt_frame, rbp) == PF_RBP, "PF_RBP");
_Static_assert(offsetof(struct goro__preempt_frame, rdi) == PF_RDI, "PF_RDI");
_Static_assert(offsetof(struct goro__preempt_frame, rdx) == PF_RDX, "PF_RDX");
_Static_assert(offsetof(struct goro__preempt_frame, rax) == PF_RAX, "PF_RAX");
_Static_assert(offsetof(struct goro__preempt_frame, rflags) == PF_RFLAGS,
    "PF_RFLAGS");
_Static_assert(offsetof(struct goro__preempt_frame, rip) == PF_RIP, "PF_RIP");
_Static_assert(sizeof(struct goro__preempt_frame) == PF_SIZE, "PF_SIZE");

/*
 * Extended-state parameters, set once by goro__xsave_init() before any G
 * runs and read-only afterwards (the trampolines read them on every
 * preemption).  Until then they describe FXSAVE, which is always safe.
 */
extern GORO__HIDDEN uint64_t goro__xsave_mask;	/* XSAVE* requested-feature bitmap */
extern GORO__HIDDEN uint32_t goro__xsave_size;	/* bytes of the save area */
extern GORO__HIDDEN int goro__xsave_kind;	/* GORO_XSAVE_* */

/*
 * Compute the parameters from CPUID and XCR0: every user state component
 * the OS enabled, except AMX tile data unless the process holds the
 * permission (arch_prctl ARCH_REQ_XCOMP_PERM) when this runs — call it
 * again if the application asks for AMX later.  Not async-signal-safe
 * (one system call); call once at start-up.
 */
GORO__HIDDEN void goro__xsave_init(void);

/*
 * Bytes goro_async_preempt needs on the G's stack below the interrupted
 * rsp: red zone, PC slot, register frame, worst-case alignment, the save
 * area and the return address of its call.  What goro__async_preempt2
 * itself uses comes on top.  goro__redirect_tramp needs less.
 */
GORO__HIDDEN uint32_t goro__preempt_frame_size(void);

/* ---- preempt.S ---------------------------------------------------------- */

/*
 * Not functions to call: the SIGURG handler makes the interrupted context
 * "call" goro_async_preempt (rsp -= GORO_PREEMPT_SKIP, the PC stored at
 * the new rsp, rip = goro_async_preempt); goro__redirect_tramp replaces a
 * return address on the G's stack.
 */
GORO__HIDDEN void goro_async_preempt(void);
GORO__HIDDEN void goro__redirect_tramp(void);

/* [start, end) holds both trampolines: a signal landing there just returns. */
extern GORO__HIDDEN const char goro__preempt_text_start[];
extern GORO__HIDDEN const char goro__preempt_text_end[];

/* ---- called by the trampolines (preempt.c) ------------------------------ */

/*
 * Called from goro_async_preempt on the G's stack with all interrupted
 * state saved and the FPU in its default state (x87 empty, MXCSR 0x1f80,
 * DF clear, AVX upper halves zeroed): park the G; return when it is
 * resumed, on whatever M.
 */
GORO__HIDDEN void goro__async_preempt2(void);
/*
 * Called from goro__redirect_tramp likewise: return the original return
 * address (after parking the G, when the preemption is still wanted).
 */
GORO__HIDDEN uintptr_t goro__redirect_taken(void);
/*
 * Called from goro__redirect_tramp before goro__redirect_taken (xsave.c):
 * the calling G's pending redirect address (g->redirect_ret), so the
 * trampoline's frame can show it to unwinders while the G is parked.
 * 0 if none.
 */
GORO__HIDDEN uintptr_t goro__redirect_peek(void);

#endif /* !__ASSEMBLER__ */

#endif /* GORO_ARCH_X86_64_XSAVE_H */
