/*
 * switch.S - context switch for x86-64 (System V ABI).
 *
 * A saved context (goro__ctx_t) is one word: the stack pointer of the
 * stack that was left.  Everything else the callee must preserve is pushed
 * on that stack, so a switch costs a few pushes and pops:
 *
 *	saved sp ->  +0   MXCSR (4 bytes)      control/status of SSE
 *	             +4   x87 control word (2 bytes, padded)
 *	             +8   r15
 *	             +16  r14
 *	             +24  r13
 *	             +32  r12
 *	             +40  rbx
 *	             +48  rbp
 *	             +56  return address (where the context resumes)
 *
 * Caller-saved registers are dead across a call by the ABI, so they are
 * not saved; the asynchronous-preemption trampoline (preempt.S) saves them
 * itself before it calls into the scheduler.
 * goro__ctx_make builds this layout for a new G (CTX_FRAME below).
 */
#define CTX_FRAME 64

	.text
	.globl goro__switch_text_start
	.hidden goro__switch_text_start
goro__switch_text_start:		/* preempt.c: never interrupt in here */

/* void goro__ctx_switch(goro__ctx_t *from (rdi), goro__ctx_t *to (rsi)) */
	.globl goro__ctx_switch
	.hidden goro__ctx_switch
	.type goro__ctx_switch, @function
	.p2align 4
goro__ctx_switch:
	.cfi_startproc
	pushq %rbp			/* callee-saved registers ... */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq %rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq %r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq %r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq %r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq %r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq $8, %rsp			/* ... and the FP control words */
	.cfi_adjust_cfa_offset 8
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)		/* from->sp */
	movq (%rsi), %rsp		/* to->sp: now on the other stack */
	.cfi_endproc
	/* fall through: the restore half is shared with goro__ctx_jump */
	.size goro__ctx_switch, .-goro__ctx_switch

	.type ctx_restore, @function
ctx_restore:
	.cfi_startproc
	.cfi_def_cfa_offset 64
	.cfi_offset %rbp, -16
	.cfi_offset %rbx, -24
	.cfi_offset %r12, -32
	.cfi_offset %r13, -40
	.cfi_offset %r14, -48
	.cfi_offset %r15, -56
	ldmxcsr (%rsp)
	fldcw 4(%rsp)
	addq $8, %rsp
	.cfi_adjust_cfa_offset -8
	popq %r15
	.cfi_adjust_cfa_offset -8
	popq %r14
	.cfi_adjust_cfa_offset -8
	popq %r13
	.cfi_adjust_cfa_offset -8
	popq %r12
	.cfi_adjust_cfa_offset -8
	popq %rbx
	.cfi_adjust_cfa_offset -8
	popq %rbp
	.cfi_adjust_cfa_offset -8
	ret				/* into the resumed context */
	.cfi_endproc
	.size ctx_restore, .-ctx_restore

/* void goro__ctx_jump(goro__ctx_t *to (rdi)) -- never returns */
	.globl goro__ctx_jump
	.hidden goro__ctx_jump
	.type goro__ctx_jump, @function
	.p2align 4
goro__ctx_jump:
	.cfi_startproc
	movq (%rdi), %rsp		/* abandon this stack */
	jmp ctx_restore
	.cfi_endproc
	.size goro__ctx_jump, .-goro__ctx_jump

/*
 * void goro__mcall(goro__ctx_t *from (rdi), void *g0sp (rsi),
 *                  void (*fn)(g_t *) (rdx), g_t *g (rcx))
 * Save the G's context in *from, switch to the scheduler stack at g0sp
 * (16-byte aligned) and call fn(g).  fn never returns; the G resumes when
 * someone restores *from.  Go's mcall.
 */
	.globl goro__mcall
	.hidden goro__mcall
	.type goro__mcall, @function
	.p2align 4
goro__mcall:
	.cfi_startproc
	pushq %rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq %rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq %r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq %r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq %r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq %r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq $8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)		/* from->sp */
	movq %rsi, %rsp			/* the scheduler stack */
	.cfi_undefined %rip		/* unwinding stops here on g0 */
	xorl %ebp, %ebp
	movq %rcx, %rdi			/* fn(g) */
	call *%rdx
	ud2				/* fn returned: impossible */
	.cfi_endproc
	.size goro__mcall, .-goro__mcall

/*
 * void goro__ctx_make(goro__ctx_t *ctx (rdi), void *hi (rsi), void (*entry)(void) (rdx))
 * Build a context on the stack below hi that, when resumed, enters
 * entry() with a zero return address above it (the outermost frame:
 * unwinders stop there) and default FP control words.
 */
	.globl goro__ctx_make
	.hidden goro__ctx_make
	.type goro__ctx_make, @function
	.p2align 4
goro__ctx_make:
	.cfi_startproc
	andq $-16, %rsi			/* top, 16-aligned */
	movq $0, -8(%rsi)		/* entry's return address: none */
	leaq -8-CTX_FRAME(%rsi), %rax	/* saved sp; entry sees rsp = top-8 */
	movq %rdx, 56(%rax)		/* return address: entry */
	movq $0, 48(%rax)		/* rbp */
	movq $0, 40(%rax)		/* rbx */
	movq $0, 32(%rax)		/* r12 */
	movq $0, 24(%rax)		/* r13 */
	movq $0, 16(%rax)		/* r14 */
	movq $0, 8(%rax)		/* r15 */
	movl $0x1f80, (%rax)		/* MXCSR: all exceptions masked, RN */
	movl $0x037f, 4(%rax)		/* x87 CW: all masked, 64-bit, RN */
	movq %rax, (%rdi)
	ret
	.cfi_endproc
	.size goro__ctx_make, .-goro__ctx_make

	.globl goro__switch_text_end
	.hidden goro__switch_text_end
goro__switch_text_end:

	.section .note.GNU-stack,"",@progbits
