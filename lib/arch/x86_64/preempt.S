/*
 * preempt.S - the asynchronous-preemption trampolines for x86-64.
 *
 * Neither is called: the SIGURG handler (preempt.c) rewrites the
 * interrupted context so that the G "calls" one of them when the kernel
 * resumes it.  They run on the G's own stack, save every bit of state the
 * interrupted code may be using, call into the scheduler, and restore it
 * all on whichever M resumes the G.  The handler itself never switches
 * stacks (see DESIGN.md, "Asynchronous preemption").
 *
 * goro_async_preempt -- entered with the context rewritten as
 *	rsp = interrupted rsp - GORO_PREEMPT_SKIP (136), [rsp] = interrupted
 *	PC, rip = goro_async_preempt:
 *
 *	CFA = interrupted rsp ->
 *		CFA-128 .. CFA-1	red zone of the interrupted code: untouched
 *		CFA-136			interrupted PC (handler)       = PF_RIP
 *		CFA-144			rflags (DF included)           = PF_RFLAGS
 *		CFA-264 = rbp		r15 ... rax (PF_* in xsave.h)  = frame base
 *		...			padding down to a 64-byte boundary
 *		rsp			XSAVEC/XSAVE/FXSAVE area, goro__xsave_size
 *					rounded up to 64 (header zeroed first)
 *
 *	Then, with DF clear, the x87 stack empty, default control words and
 *	AVX upper halves zeroed (the C code may use any of them, and the
 *	interrupted code may have left exceptions unmasked), it calls
 *	void goro__async_preempt2(void), which parks the G and returns when
 *	the G runs again.  Everything is restored and `ret $128` pops the PC
 *	and the red zone skip: rsp is the interrupted rsp again.
 *
 * goro__redirect_tramp -- entered by the `ret` of an unsafe function whose
 *	return address the handler replaced, so rsp is the caller's, just
 *	past the popped slot.  It takes the slot back (sub 8) for the PC,
 *	builds the same frame (CFA = caller's rsp = rbp + 136, no red zone: a
 *	caller's red zone is dead across a call), fetches the original return
 *	address with goro__redirect_peek (so unwinders see the caller while
 *	the G is parked), calls uintptr_t goro__redirect_taken(void) (parks
 *	the G if still wanted, returns the original address), stores that in
 *	the slot, restores everything -- rax, rdx, xmm0, xmm1, st0, st1 carry
 *	return values -- and returns there with the caller's rsp.
 *
 * Both frames carry CFI for every saved general register and the return
 * PC, so gdb, perf and libunwind walk through them to the interrupted
 * frames.  Not for rflags (DWARF register 49): libunwind 1.6 rejects a
 * frame whose CFI names a register beyond rip (-UNW_EBADREG), and
 * the walk would stop here.  goro_async_preempt is a signal frame (its return
 * address is the exact interrupted instruction, not a call's return).
 * goro__preempt_text_start/_end bracket both: a signal landing in them is
 * left alone.
 */
#include "xsave.h"

	.hidden goro__xsave_mask
	.hidden goro__xsave_size
	.hidden goro__xsave_kind

/* Store the 15 general registers at the frame base (rsp); CFA = rsp + cfa. */
.macro SAVE_GPRS cfa
	movq %rax, PF_RAX(%rsp)
	.cfi_offset %rax, PF_RAX-\cfa
	movq %rbx, PF_RBX(%rsp)
	.cfi_offset %rbx, PF_RBX-\cfa
	movq %rcx, PF_RCX(%rsp)
	.cfi_offset %rcx, PF_RCX-\cfa
	movq %rdx, PF_RDX(%rsp)
	.cfi_offset %rdx, PF_RDX-\cfa
	movq %rsi, PF_RSI(%rsp)
	.cfi_offset %rsi, PF_RSI-\cfa
	movq %rdi, PF_RDI(%rsp)
	.cfi_offset %rdi, PF_RDI-\cfa
	movq %rbp, PF_RBP(%rsp)
	.cfi_offset %rbp, PF_RBP-\cfa
	movq %r8, PF_R8(%rsp)
	.cfi_offset %r8, PF_R8-\cfa
	movq %r9, PF_R9(%rsp)
	.cfi_offset %r9, PF_R9-\cfa
	movq %r10, PF_R10(%rsp)
	.cfi_offset %r10, PF_R10-\cfa
	movq %r11, PF_R11(%rsp)
	.cfi_offset %r11, PF_R11-\cfa
	movq %r12, PF_R12(%rsp)
	.cfi_offset %r12, PF_R12-\cfa
	movq %r13, PF_R13(%rsp)
	.cfi_offset %r13, PF_R13-\cfa
	movq %r14, PF_R14(%rsp)
	.cfi_offset %r14, PF_R14-\cfa
	movq %r15, PF_R15(%rsp)
	.cfi_offset %r15, PF_R15-\cfa
.endm

/* Reload them from the frame base (rsp). */
.macro RESTORE_GPRS
	movq PF_R15(%rsp), %r15
	.cfi_restore %r15
	movq PF_R14(%rsp), %r14
	.cfi_restore %r14
	movq PF_R13(%rsp), %r13
	.cfi_restore %r13
	movq PF_R12(%rsp), %r12
	.cfi_restore %r12
	movq PF_R11(%rsp), %r11
	.cfi_restore %r11
	movq PF_R10(%rsp), %r10
	.cfi_restore %r10
	movq PF_R9(%rsp), %r9
	.cfi_restore %r9
	movq PF_R8(%rsp), %r8
	.cfi_restore %r8
	movq PF_RBP(%rsp), %rbp
	.cfi_restore %rbp
	movq PF_RDI(%rsp), %rdi
	.cfi_restore %rdi
	movq PF_RSI(%rsp), %rsi
	.cfi_restore %rsi
	movq PF_RDX(%rsp), %rdx
	.cfi_restore %rdx
	movq PF_RCX(%rsp), %rcx
	.cfi_restore %rcx
	movq PF_RBX(%rsp), %rbx
	.cfi_restore %rbx
	movq PF_RAX(%rsp), %rax
	.cfi_restore %rax
.endm

/*
 * Below the frame base (rsp = rbp), allocate the aligned save area, save
 * the extended state into it, and leave the FPU as a C function expects
 * it.  Clobbers rax, rcx, rdx and the flags (all saved already).
 */
.macro XSTATE_SAVE
	andq $-64, %rsp			/* XSAVE* want 64-byte alignment */
	movl goro__xsave_size(%rip), %eax
	addl $63, %eax
	andl $-64, %eax
	subq %rax, %rsp			/* area = [rsp, rsp + size) */
	movl goro__xsave_kind(%rip), %ecx
	cmpl $GORO_XSAVE_FXSAVE, %ecx
	je 3f
	xorl %eax, %eax			/* XSAVE header (area+512): XRSTOR */
	movq %rax, 512(%rsp)		/* faults unless the bytes no XSAVE* */
	movq %rax, 520(%rsp)		/* instruction writes are zero */
	movq %rax, 528(%rsp)
	movq %rax, 536(%rsp)
	movq %rax, 544(%rsp)
	movq %rax, 552(%rsp)
	movq %rax, 560(%rsp)
	movq %rax, 568(%rsp)
	movl goro__xsave_mask(%rip), %eax	/* edx:eax = requested features */
	movl goro__xsave_mask+4(%rip), %edx
	cmpl $GORO_XSAVE_XSAVEC, %ecx
	jne 1f
	xsavec64 (%rsp)			/* compacted, skips init components */
	jmp 4f
1:	xsave64 (%rsp)			/* standard format */
	jmp 4f
3:	fxsave64 (%rsp)			/* x87, MXCSR, XMM0-15 */
4:	fninit				/* x87: empty stack, CW 0x37f */
	ldmxcsr mxcsr_default(%rip)	/* SSE: exceptions masked, RN */
	testb $4, goro__xsave_mask(%rip)	/* AVX state enabled? */
	jz 5f
	vzeroupper			/* no AVX-SSE transition penalties */
5:
.endm

/* Reload the extended state from the area at rsp.  Clobbers rax, rdx, flags. */
.macro XSTATE_RESTORE
	movl goro__xsave_mask(%rip), %eax
	movl goro__xsave_mask+4(%rip), %edx
	cmpl $GORO_XSAVE_FXSAVE, goro__xsave_kind(%rip)
	je 1f
	xrstor64 (%rsp)			/* either format (XCOMP_BV bit 63) */
	jmp 2f
1:	fxrstor64 (%rsp)
2:
.endm

	.section .rodata
	.p2align 2
mxcsr_default:
	.long 0x1f80

	.text
	.p2align 6
	.globl goro__preempt_text_start
	.hidden goro__preempt_text_start
goro__preempt_text_start:

/* void goro_async_preempt(void) -- entered by a rewritten signal context */
	.globl goro_async_preempt
	.hidden goro_async_preempt
	.type goro_async_preempt, @function
goro_async_preempt:
	.cfi_startproc
	.cfi_signal_frame
	.cfi_def_cfa_offset GORO_PREEMPT_SKIP	/* CFA = interrupted rsp */
	.cfi_offset %rip, -GORO_PREEMPT_SKIP	/* interrupted PC */
	pushfq				/* flags first: all else changes them */
	.cfi_adjust_cfa_offset 8
	leaq -PF_RFLAGS(%rsp), %rsp	/* room for 15 registers */
	.cfi_adjust_cfa_offset PF_RFLAGS
	SAVE_GPRS PF_CFA_ASYNC
	movq %rsp, %rbp			/* frame base; callee-saved by C */
	.cfi_def_cfa %rbp, PF_CFA_ASYNC
	cld				/* the ABI's DF = 0 for the C code */
	XSTATE_SAVE
	call goro__async_preempt2@PLT	/* park; back when the G runs again */
	XSTATE_RESTORE
	movq %rbp, %rsp
	.cfi_def_cfa %rsp, PF_CFA_ASYNC
	RESTORE_GPRS
	leaq PF_RFLAGS(%rsp), %rsp	/* lea: the flags are not restored yet */
	.cfi_adjust_cfa_offset -PF_RFLAGS
	popfq				/* DF and the arithmetic flags */
	.cfi_adjust_cfa_offset -8
	ret $GORO_PREEMPT_REDZONE	/* pop the PC, then skip the red zone */
	.cfi_endproc
	.size goro_async_preempt, .-goro_async_preempt

/* void goro__redirect_tramp(void) -- entered by a redirected `ret` */
	.globl goro__redirect_tramp
	.hidden goro__redirect_tramp
	.type goro__redirect_tramp, @function
	.p2align 4
goro__redirect_tramp:
	.cfi_startproc
	.cfi_def_cfa_offset 0		/* CFA = the caller's rsp */
	.cfi_undefined %rip		/* its return address: not known yet */
	leaq -8(%rsp), %rsp		/* take back the popped slot for it */
	.cfi_adjust_cfa_offset 8
	pushfq
	.cfi_adjust_cfa_offset 8
	leaq -PF_RFLAGS(%rsp), %rsp
	.cfi_adjust_cfa_offset PF_RFLAGS
	SAVE_GPRS PF_CFA_REDIRECT
	movq %rsp, %rbp			/* frame base */
	.cfi_def_cfa %rbp, PF_CFA_REDIRECT
	cld
	XSTATE_SAVE			/* return values live in xmm0/1, st0/1 */
	call goro__redirect_peek@PLT	/* the original return address ... */
	movq %rax, PF_RIP(%rbp)		/* ... into the slot (0: none known) */
	.cfi_offset %rip, PF_RIP-PF_CFA_REDIRECT	/* now an ordinary frame */
	call goro__redirect_taken@PLT	/* park; returns the address to use */
	movq %rax, PF_RIP(%rbp)
	XSTATE_RESTORE
	movq %rbp, %rsp
	.cfi_def_cfa %rsp, PF_CFA_REDIRECT
	RESTORE_GPRS
	leaq PF_RFLAGS(%rsp), %rsp
	.cfi_adjust_cfa_offset -PF_RFLAGS
	popfq
	.cfi_adjust_cfa_offset -8
	ret				/* to the caller, rsp as after its call */
	.cfi_endproc
	.size goro__redirect_tramp, .-goro__redirect_tramp

	.globl goro__preempt_text_end
	.hidden goro__preempt_text_end
goro__preempt_text_end:

	.section .note.GNU-stack,"",@progbits
