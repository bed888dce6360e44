/*
 * check_preempt_regs.c - asynchronous preemption gives back every bit of
 * register state.
 *
 * The loops in regs_x86_64.S load a fresh pattern into every general
 * register, the 128-byte red zone below rsp, the x87 stack and control
 * word, MXCSR, the arithmetic flags and DF, and -- per variant -- XMM0-15,
 * YMM0-15 or ZMM0-31 and k0-k7, hold it a while and check all of it, every
 * iteration, with no call anywhere: a signal can land on any instruction.
 * Several of them share one P (or two, so that preempted Gs resume on
 * another M) under a 200 us quantum, so each is stopped by SIGURG and
 * resumed through goro_async_preempt thousands of times; not one bit may
 * change.  Variants the CPU (or the kernel) lacks are skipped, and only
 * those.
 *
 * A watchdog thread ends the loops if preemption never happens, so a
 * broken runtime fails the test instead of hanging it.  Only the main G
 * calls ck_assert (see check_preempt.c).
 */
#include <check.h>
#include <cpuid.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "goro.h"
#include "goro_test.h"

/* tests/regs_x86_64.S */
struct regs_arg {
	uint64_t max_iters;
	const volatile int *stop;
	uint64_t iters;		/* out */
	uint64_t errs;		/* out */
	uint64_t errmask;	/* out: ERR_* of regs_x86_64.S */
};
uint64_t regs_loop_gpr(struct regs_arg *a);
uint64_t regs_loop_sse(struct regs_arg *a);
uint64_t regs_loop_avx(struct regs_arg *a);
uint64_t regs_loop_avx512(struct regs_arg *a);

/* ---- what the CPU and the kernel support ------------------------------ */

static uint64_t xcr0(void)
{
	unsigned a, b, c, d;
	uint32_t lo, hi;

	__cpuid(1, a, b, c, d);
	if (!(c & bit_OSXSAVE))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static int have_avx(void)
{
	unsigned a, b, c, d;

	__cpuid(1, a, b, c, d);
	return (c & bit_AVX) && (xcr0() & 6) == 6;
}

static int have_avx512(void)
{
	unsigned a, b, c, d;

	if (__get_cpuid_max(0, NULL) < 7)
		return 0;
	__cpuid_count(7, 0, a, b, c, d);
	return (b & bit_AVX512F) && (b & bit_AVX512BW) &&
	    (xcr0() & 0xe6) == 0xe6;
}

/* ---- the experiment ---------------------------------------------------- */

enum { V_GPR, V_SSE, V_AVX, V_AVX512, NVARIANT };

static const char *const vname[NVARIANT] = { "gpr", "sse", "avx", "avx512" };
static uint64_t (*const vfn[NVARIANT])(struct regs_arg *) = {
	regs_loop_gpr, regs_loop_sse, regs_loop_avx, regs_loop_avx512,
};

#define PER_VARIANT 2		/* Gs per variant */
#define MIN_PREEMPT 200		/* run until this many preemptions ... */
#define MAX_RUN (20 * 1000 * MS)	/* ... or this long */
#define MAXHOGS (NVARIANT * PER_VARIANT)

struct hog {
	int variant;
	struct regs_arg a;
	goro_wg_t *wg;
};

struct experiment {
	int procs;
	int64_t run_ns;		/* how long the loops run */
	unsigned variants;	/* bit per V_* to run */
	/* results */
	struct hog hogs[MAXHOGS];
	int nhogs;
	goro_stats_t before, after;
};

/* Read by the assembly loops as a plain int, so not goro_test.h's stop. */
static volatile int regs_stop;

/* Ends the loops if main never gets the CPU back (no preemption). */
static void *regs_watchdog(void *arg)
{
	struct timespec ts = { *(int *)arg, 0 };

	nanosleep(&ts, NULL);
	regs_stop = 1;
	return NULL;
}

static void hog_main(void *arg)
{
	struct hog *h = arg;

	vfn[h->variant](&h->a);
	goro_wg_done(h->wg);
}

static void experiment_main(void *arg)
{
	struct experiment *e = arg;
	goro_wg_t wg = GORO_WG_INIT;

	ck_assert_int_ge(goro_maxprocs(e->procs), 1);
	ck_assert_int_eq(goro_set_quantum(200000), 0);
	ck_assert_int_eq(goro_stats(&e->before), 0);
	for (int v = 0; v < NVARIANT; v++) {
		if (!(e->variants & (1u << v)))
			continue;
		for (int k = 0; k < PER_VARIANT; k++) {
			struct hog *h = &e->hogs[e->nhogs++];

			h->variant = v;
			h->a.max_iters = UINT64_MAX;
			h->a.stop = &regs_stop;
			h->wg = &wg;
			goro_wg_add(&wg, 1);
			ck_assert_int_gt(goro_go(hog_main, h), 0);
		}
	}
	/*
	 * The loops share the P(s) meanwhile.  At least run_ns, and longer
	 * (up to MAX_RUN) until there were MIN_PREEMPT preemptions: on a
	 * loaded machine the process may get little CPU.
	 */
	int64_t t0 = goro_now();
	for (;;) {
		goro_stats_t now;

		goro_sleep(100 * MS);
		ck_assert_int_eq(goro_stats(&now), 0);
		int64_t ran = goro_now() - t0;
		if (ran >= MAX_RUN || (ran >= e->run_ns &&
		    now.preempt_async - e->before.preempt_async >= MIN_PREEMPT))
			break;
	}
	regs_stop = 1;
	goro_wg_wait(&wg);
	ck_assert_int_eq(goro_stats(&e->after), 0);
}

static void run_experiment(int procs, unsigned variants)
{
	struct experiment e;
	pthread_t wd;
	int wd_s = 30;		/* > MAX_RUN: only if main never runs again */

	memset(&e, 0, sizeof e);
	e.procs = procs;
	e.run_ns = 1000 * MS;
	e.variants = variants;
	regs_stop = 0;
	ck_assert_int_eq(pthread_create(&wd, NULL, regs_watchdog, &wd_s), 0);
	pthread_detach(wd);
	ck_assert_int_eq(goro_run(experiment_main, &e), 0);

	uint64_t npre = e.after.preempt_async - e.before.preempt_async;
	for (int i = 0; i < e.nhogs; i++) {
		struct hog *h = &e.hogs[i];

		fprintf(stderr, "regs %s/%dP: G%d iters=%llu errs=%llu\n",
		    vname[h->variant], procs, i,
		    (unsigned long long)h->a.iters,
		    (unsigned long long)h->a.errs);
		ck_assert_msg(h->a.errs == 0,
		    "%s loop: %llu mismatches in %llu iterations "
		    "(errmask %#llx: 1 flags, 2 DF, 4 MXCSR, 8 x87 CW, "
		    "0x10 x87 stack, 0x20 red zone, 0x40 vector, 0x80 opmask, "
		    "0x10000<<n general register n)", vname[h->variant],
		    (unsigned long long)h->a.errs,
		    (unsigned long long)h->a.iters,
		    (unsigned long long)h->a.errmask);
		ck_assert_msg(h->a.iters > 0, "%s loop never ran",
		    vname[h->variant]);
	}
	fprintf(stderr, "regs %dP: preempt_async +%llu, switches +%llu\n",
	    procs, (unsigned long long)npre,
	    (unsigned long long)(e.after.switches - e.before.switches));
	ck_assert_msg(npre >= 20,
	    "only %llu asynchronous preemptions at a 200 us quantum",
	    (unsigned long long)npre);
}

static unsigned available(void)
{
	unsigned v = 1u << V_GPR | 1u << V_SSE;

	if (have_avx())
		v |= 1u << V_AVX;
	if (have_avx512())
		v |= 1u << V_AVX512;
	return v;
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(gpr_redzone_x87_flags)
{
	run_experiment(1, 1u << V_GPR);
}
END_TEST

START_TEST(sse)
{
	run_experiment(1, 1u << V_SSE);
}
END_TEST

START_TEST(avx)
{
	if (!have_avx()) {
		fprintf(stderr, "check_preempt_regs: no AVX, skipped\n");
		return;
	}
	run_experiment(1, 1u << V_AVX);
}
END_TEST

START_TEST(avx512)
{
	if (!have_avx512()) {
		fprintf(stderr, "check_preempt_regs: no AVX-512 F+BW, skipped\n");
		return;
	}
	run_experiment(1, 1u << V_AVX512);
}
END_TEST

/* All variants together on 1 P: each resumes after any other ran. */
START_TEST(mixed_1p)
{
	run_experiment(1, available());
}
END_TEST

/* On 2 Ps a preempted G goes to the global queue and often resumes on
 * the other M: its state must travel with it. */
START_TEST(mixed_2p_migration)
{
	run_experiment(2, available());
}
END_TEST

static Suite *preempt_regs_suite(void)
{
	Suite *s = suite_create("preempt_regs");

	ADD_TCASE(s, gpr_redzone_x87_flags, 60);
	ADD_TCASE(s, sse, 60);
	ADD_TCASE(s, avx, 60);
	ADD_TCASE(s, avx512, 60);
	ADD_TCASE(s, mixed_1p, 60);
	ADD_TCASE(s, mixed_2p_migration, 60);
	return s;
}

int main(void)
{
	return goro_test_main(preempt_regs_suite());
}
