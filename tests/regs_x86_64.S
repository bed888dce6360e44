/*
 * regs_x86_64.S - leaf loops that hold patterns in every register for
 * check_preempt_regs: whatever interrupts them must give every bit back.
 *
 * uint64_t regs_loop_gpr(struct regs_arg *a)	     general registers, red
 *							     zone, flags, DF, x87
 *							     stack and control
 *							     word, MXCSR
 * uint64_t regs_loop_sse(struct regs_arg *a)	     ... and XMM0-15
 * uint64_t regs_loop_avx(struct regs_arg *a)	     ... YMM0-15 (AVX)
 * uint64_t regs_loop_avx512(struct regs_arg *a)    ... ZMM0-31 and k0-k7
 *							     (AVX512F + BW)
 *
 *	struct regs_arg {			offset
 *		uint64_t max_iters;		0	stop after this many
 *		const volatile int *stop;	8	or when *stop != 0
 *		uint64_t iters;			16	out: iterations done
 *		uint64_t errs;			24	out: mismatches
 *		uint64_t errmask;		32	out: ERR_* bits seen
 *	};
 *
 * System V ABI; the return value is errs.  Each iteration derives a fresh
 * pattern from the iteration number, loads it into every register (rsp
 * aside), the 128-byte red zone below rsp, the x87 stack, MXCSR and the
 * x87 control word (a rounding mode that varies), sets the arithmetic
 * flags and, on odd iterations, DF; spins a while with all of it live
 * (PAUSE changes nothing), then checks everything.  No calls, no system
 * calls: a preemption can land on any instruction.
 *
 * Frame (rsp-relative, below the six callee-saved registers):
 *	F_ARG 0, F_ITER 8, F_ERRS 16, F_MASK 24, F_FLAGS 32, F_MXCSR 40
 *	(expected, then 44 seen), F_FCW 48 (52 seen), F_ZERO 56, F_MIN 64
 *	(0x80000000), F_EXP 128: 80 expected values (E_* indices),
 *	F_BUF 768: 64 bytes to store a vector register into.
 */

#define A_MAX		0
#define A_STOP		8
#define A_ITERS		16
#define A_ERRS		24
#define A_MASK		32

#define F_ARG		0
#define F_ITER		8
#define F_ERRS		16
#define F_MASK		24
#define F_FLAGS		32
#define F_MXCSR		40
#define F_MXCSR_GOT	44
#define F_FCW		48
#define F_FCW_GOT	52
#define F_ZERO		56
#define F_MIN		64
#define F_EXP		128
#define F_BUF		768
#define FRAME		840		/* rsp 16-aligned after 6 pushes */

#define E_GPR		0		/* 15 general registers */
#define E_RZ		16		/* 16 red-zone quadwords */
#define E_VEC		32		/* 32 vector registers */
#define E_K		64		/* 8 opmask registers */
#define E_X87		72		/* 8 x87 registers (as doubles) */
#define E_N		80

/* errmask bits (tests/check_preempt_regs.c prints them) */
#define ERR_FLAGS	0x1
#define ERR_DF		0x2
#define ERR_MXCSR	0x4
#define ERR_FCW		0x8
#define ERR_X87		0x10
#define ERR_REDZONE	0x20
#define ERR_VEC		0x40
#define ERR_K		0x80
#define ERR_GPR		0x10000		/* << register index (E_GPR order) */

#define EXP(i)		F_EXP+8*(i)(%rsp)

/* Count a mismatch unless a == b (quadwords; b a register). */
.macro CHECK a, b, bit
	cmpq \a, \b
	je 9f
	incq F_ERRS(%rsp)
	orq $\bit, F_MASK(%rsp)
9:
.endm

.macro HOLD
	.rept 24
	pause				/* ~tens of cycles, touches nothing */
	.endr
.endm

/* Vector register k: load pattern E_VEC+k, lanes made distinct. */
.macro VLOAD level, k
.if \level == 1
	movq EXP(E_VEC+\k), %xmm\k
	punpcklqdq %xmm\k, %xmm\k
	pxor lanes(%rip), %xmm\k
.elseif \level == 2
	vbroadcastsd EXP(E_VEC+\k), %ymm\k	/* AVX1 has no integer broadcast */
	vxorpd lanes(%rip), %ymm\k, %ymm\k
.else
	vpbroadcastq EXP(E_VEC+\k), %zmm\k
	vpxorq lanes(%rip), %zmm\k, %zmm\k
.endif
.endm

/* Vector register k: compare every lane with its pattern (clobbers rax). */
.macro VCHECK level, k
.if \level == 1
	movdqu %xmm\k, F_BUF(%rsp)
	.Lnl = 2
.elseif \level == 2
	vmovdqu %ymm\k, F_BUF(%rsp)
	.Lnl = 4
.else
	vmovdqu64 %zmm\k, F_BUF(%rsp)
	.Lnl = 8
.endif
	.Ll = 0
	.rept .Lnl
	movq F_BUF+8*.Ll(%rsp), %rax
	xorq lanes+8*.Ll(%rip), %rax
	CHECK EXP(E_VEC+\k), %rax, ERR_VEC
	.Ll = .Ll + 1
	.endr
.endm

.macro REGS_FN name, level
	.globl \name
	.type \name, @function
	.p2align 4
\name:
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
	subq $FRAME, %rsp
	.cfi_adjust_cfa_offset FRAME
	movq %rdi, F_ARG(%rsp)
	movq $0, F_ITER(%rsp)
	movq $0, F_ERRS(%rsp)
	movq $0, F_MASK(%rsp)
	movq $0, F_ZERO(%rsp)
	movq $0x80000000, %rax
	movq %rax, F_MIN(%rsp)
	fninit				/* the x87 stack must start empty */

1:	/* ---- one iteration: expected values from seed (iter+1)*golden */
	movq F_ITER(%rsp), %rax
	incq %rax
	movabsq $0x9e3779b97f4a7c15, %rcx
	imulq %rcx, %rax		/* rax = seed */
	xorl %ecx, %ecx
2:	movq %rax, %rdx
	rolq %cl, %rdx			/* exp[j] = rol(seed, j) ^ j ^ j << 56 */
	xorq %rcx, %rdx
	movq %rcx, %rsi
	shlq $56, %rsi
	xorq %rsi, %rdx
	movq %rdx, F_EXP(%rsp,%rcx,8)
	incl %ecx
	cmpl $E_N, %ecx
	jne 2b
	movabsq $0x000fffffffffffff, %rsi	/* x87 patterns: doubles in [1, 2) */
	movabsq $0x3ff0000000000000, %rdi
	movl $E_X87, %ecx
3:	movq F_EXP(%rsp,%rcx,8), %rdx
	andq %rsi, %rdx
	orq %rdi, %rdx
	movq %rdx, F_EXP(%rsp,%rcx,8)
	incl %ecx
	cmpl $E_N, %ecx
	jne 3b

	movl F_ITER(%rsp), %eax		/* rounding mode = iter % 4 */
	andl $3, %eax
	movl %eax, %edx
	shll $13, %eax
	orl $0x1f80, %eax
	movl %eax, F_MXCSR(%rsp)
	shll $10, %edx
	orl $0x037f, %edx
	movl %edx, F_FCW(%rsp)
	ldmxcsr F_MXCSR(%rsp)
	fldcw F_FCW(%rsp)

	.Li = 0				/* red zone */
	.rept 16
	movq EXP(E_RZ+.Li), %rax
	movq %rax, -128+8*.Li(%rsp)
	.Li = .Li + 1
	.endr

	.Li = 7				/* x87: st(i) = exp[E_X87 + i] */
	.rept 8
	fldl EXP(E_X87+.Li)
	.Li = .Li - 1
	.endr

.if \level > 0
	.irp k, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	VLOAD \level, \k
	.endr
.endif
.if \level == 3
	.irp k, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	VLOAD \level, \k
	.endr
	.irp k, 0,1,2,3,4,5,6,7
	kmovq EXP(E_K+\k), %k\k
	.endr
.endif

	movq EXP(E_GPR+0), %rax		/* general registers, rsp aside */
	movq EXP(E_GPR+1), %rbx
	movq EXP(E_GPR+2), %rcx
	movq EXP(E_GPR+3), %rdx
	movq EXP(E_GPR+4), %rsi
	movq EXP(E_GPR+5), %rdi
	movq EXP(E_GPR+6), %rbp
	movq EXP(E_GPR+7), %r8
	movq EXP(E_GPR+8), %r9
	movq EXP(E_GPR+9), %r10
	movq EXP(E_GPR+10), %r11
	movq EXP(E_GPR+11), %r12
	movq EXP(E_GPR+12), %r13
	movq EXP(E_GPR+13), %r14
	movq EXP(E_GPR+14), %r15

	testq $1, F_ITER(%rsp)		/* flags: two patterns, and DF */
	jnz 5f
	cmpl $1, F_ZERO(%rsp)		/* even: 0 - 1: CF SF PF, not ZF OF */
	HOLD
	jnc 6f
	js 4f
6:	incq F_ERRS(%rsp)
	orq $ERR_FLAGS, F_MASK(%rsp)
	jmp 7f
4:	jz 6b
	jo 6b
	jnp 6b
	jmp 7f
5:	std				/* odd: DF, and 0x80000000 - 1: OF PF */
	cmpl $1, F_MIN(%rsp)
	HOLD
	jc 6b
	jz 6b
	js 6b
	jno 6b
	jnp 6b
7:
	CHECK EXP(E_GPR+0), %rax, ERR_GPR<<0
	CHECK EXP(E_GPR+1), %rbx, ERR_GPR<<1
	CHECK EXP(E_GPR+2), %rcx, ERR_GPR<<2
	CHECK EXP(E_GPR+3), %rdx, ERR_GPR<<3
	CHECK EXP(E_GPR+4), %rsi, ERR_GPR<<4
	CHECK EXP(E_GPR+5), %rdi, ERR_GPR<<5
	CHECK EXP(E_GPR+6), %rbp, ERR_GPR<<6
	CHECK EXP(E_GPR+7), %r8, ERR_GPR<<7
	CHECK EXP(E_GPR+8), %r9, ERR_GPR<<8
	CHECK EXP(E_GPR+9), %r10, ERR_GPR<<9
	CHECK EXP(E_GPR+10), %r11, ERR_GPR<<10
	CHECK EXP(E_GPR+11), %r12, ERR_GPR<<11
	CHECK EXP(E_GPR+12), %r13, ERR_GPR<<12
	CHECK EXP(E_GPR+13), %r14, ERR_GPR<<13
	CHECK EXP(E_GPR+14), %r15, ERR_GPR<<14

	.Li = 0				/* red zone */
	.rept 16
	movq -128+8*.Li(%rsp), %rax
	CHECK EXP(E_RZ+.Li), %rax, ERR_REDZONE
	.Li = .Li + 1
	.endr

	pushfq				/* DF == iter & 1 (red zone is dead now) */
	popq F_FLAGS(%rsp)
	cld
	movq F_FLAGS(%rsp), %rax
	shrq $10, %rax
	andl $1, %eax
	movq F_ITER(%rsp), %rdx
	andl $1, %edx
	CHECK %rdx, %rax, ERR_DF

	stmxcsr F_MXCSR_GOT(%rsp)	/* control bits; status bits ignored */
	movl F_MXCSR_GOT(%rsp), %eax
	andl $~0x3f, %eax
	movl F_MXCSR(%rsp), %edx
	CHECK %rdx, %rax, ERR_MXCSR
	fnstcw F_FCW_GOT(%rsp)
	movzwl F_FCW_GOT(%rsp), %eax
	movzwl F_FCW(%rsp), %edx
	CHECK %rdx, %rax, ERR_FCW

	.Li = 0				/* x87, popping the stack empty */
	.rept 8
	fstpl F_BUF(%rsp)
	movq F_BUF(%rsp), %rax
	CHECK EXP(E_X87+.Li), %rax, ERR_X87
	.Li = .Li + 1
	.endr

.if \level > 0
	.irp k, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	VCHECK \level, \k
	.endr
.endif
.if \level == 3
	.irp k, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	VCHECK \level, \k
	.endr
	.irp k, 0,1,2,3,4,5,6,7
	kmovq %k\k, %rax
	CHECK EXP(E_K+\k), %rax, ERR_K
	.endr
.endif

	incq F_ITER(%rsp)		/* ---- next, unless done or told to stop */
	movq F_ITER(%rsp), %rax
	movq F_ARG(%rsp), %rdx
	cmpq A_MAX(%rdx), %rax
	jae 8f
	movq A_STOP(%rdx), %rcx
	testq %rcx, %rcx
	jz 1b
	cmpl $0, (%rcx)
	je 1b

8:	movq F_ARG(%rsp), %rdx
	movq F_ITER(%rsp), %rax
	movq %rax, A_ITERS(%rdx)
	movq F_MASK(%rsp), %rax
	movq %rax, A_MASK(%rdx)
	movq F_ERRS(%rsp), %rax
	movq %rax, A_ERRS(%rdx)
	movl $0x1f80, F_MXCSR(%rsp)	/* leave the ABI's defaults */
	ldmxcsr F_MXCSR(%rsp)
	movw $0x037f, F_FCW(%rsp)
	fldcw F_FCW(%rsp)
.if \level >= 2
	vzeroupper
.endif
	addq $FRAME, %rsp
	.cfi_adjust_cfa_offset -FRAME
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
	ret
	.cfi_endproc
	.size \name, .-\name
.endm

	.section .rodata
	.p2align 6
lanes:					/* xor-ed into lane l of every vector */
	.quad 0x0000000000000000, 0x1111111111111111
	.quad 0x2222222222222222, 0x3333333333333333
	.quad 0x4444444444444444, 0x5555555555555555
	.quad 0x6666666666666666, 0x7777777777777777

	.text
	.globl regs_text_start
regs_text_start:			/* the loops, for a test's own handler */
	REGS_FN regs_loop_gpr, 0
	REGS_FN regs_loop_sse, 1
	REGS_FN regs_loop_avx, 2
	REGS_FN regs_loop_avx512, 3
	.globl regs_text_end
regs_text_end:

	.section .note.GNU-stack,"",@progbits
