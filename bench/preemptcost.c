/*
 * preemptcost: what preemption costs a CPU-bound program (maxprocs=1;
 * goro only, the peers have no equivalent).
 *
 * Three phases of about 2 s each, all with the hog loop of bench.h:
 *
 *  1. baseline: one hog alone, with signal preemption off.  The hog calls
 *     goro_preempt_off() before its loop, so sysmon's SIGURG never stops
 *     it, and goro_preempt_on() after.  Since nothing can then take the
 *     only P away from it, the main goroutine cannot end this phase; a
 *     plain pthread outside the runtime sleeps 2 s, reads the hog's count
 *     and sets the stop flag.
 *  2. four hogs at the default quantum (10 ms, or GOROQUANTUM);
 *  3. four hogs at a 200 us quantum (goro_set_quantum).
 *
 * In phases 2 and 3 the main goroutine sleeps 2 s and, once it runs again
 * (so no hog is running: there is one P), reads the total count; it then
 * stops the hogs.  Counts are turned into rates over the measured time, so
 * a late wake-up does not bias the result.
 *
 * Result: loss_pct_default and loss_pct_200us = 100 * (1 - rate/baseline
 * rate); preemptions_per_s_200us from the goro_stats() preempt_async
 * counter over phase 3.  Extra keys: preemptions_per_s_default, and
 * quantum_default_us (what "default" was in this run).
 */
#include <pthread.h>
#include <time.h>

#include "bench.h"

#define HOGS 4
#define PHASE_NS INT64_C(2000000000)

/* What one phase measured. */
struct phase {
	double rate;			/* iterations per ns, all hogs */
	double preempt_per_s;		/* preempt_async per second */
};

/* ---- phase 1: the baseline ---------------------------------------------- */

static uint64_t base_count;		/* written by the timer thread */
static int64_t base_ns;

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A plain pthread, outside the runtime: ends the baseline after 2 s. */
static void *
timer_main(void *arg)
{
	struct timespec ts = { PHASE_NS / 1000000000, PHASE_NS % 1000000000 };
	int64_t t0 = mono_ns();

	(void)arg;
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
	base_count = bench_slots[0].n;
	base_ns = mono_ns() - t0;
	bench_stop = 1;
	return NULL;
}

/* The baseline hog: the same loop, not preemptible by signal. */
static void
solo_hog(void *arg)
{
	(void)arg;
	goro_preempt_off();
	bench_hog_loop(&bench_slots[0].n);
	goro_preempt_on();
	goro_wg_done(&bench_hogs_wg);
}

static double
baseline(void)
{
	pthread_t timer;
	int err;

	bench_stop = 0;
	bench_slots[0].n = 0;
	goro_wg_add(&bench_hogs_wg, 1);
	if ((err = pthread_create(&timer, NULL, timer_main, NULL)) != 0) {
		errno = err;
		bench_die_errno("pthread_create");
	}
	bench_go(solo_hog, NULL);
	goro_wg_wait(&bench_hogs_wg);
	/* The timer has set the flag, so it is about to return. */
	goro_syscall_enter();
	pthread_join(timer, NULL);
	goro_syscall_exit();
	if (base_count == 0 || base_ns <= 0)
		bench_die("the baseline hog did not run");
	return (double)base_count / (double)base_ns;
}

/* ---- phases 2 and 3 ----------------------------------------------------- */

static struct phase
four_hogs(void)
{
	goro_stats_t s0, s1;
	int64_t t0, t1;
	uint64_t sum = 0;
	struct phase ph;

	if (goro_stats(&s0) != 0)
		bench_die_errno("goro_stats");
	t0 = goro_now();
	bench_hogs_start(HOGS);
	bench_sleep(PHASE_NS);
	/* Running here means no hog runs: there is one P. */
	t1 = goro_now();
	for (int i = 0; i < HOGS; i++)
		sum += bench_slots[i].n;
	if (goro_stats(&s1) != 0)
		bench_die_errno("goro_stats");
	bench_hogs_stop();

	ph.rate = (double)sum / (double)(t1 - t0);
	ph.preempt_per_s = (double)(s1.preempt_async - s0.preempt_async) /
	    ((double)(t1 - t0) / 1e9);
	return ph;
}

static void
body(void *arg)
{
	double base;
	int64_t quantum;
	struct phase dflt, fast;

	(void)arg;
	bench_maxprocs(1);

	quantum = goro_get_quantum();
	base = baseline();
	dflt = four_hogs();
	if (goro_set_quantum(200000) != 0)
		bench_die_errno("goro_set_quantum(200000)");
	fast = four_hogs();

	bench_result("loss_pct_default=%.2f loss_pct_200us=%.2f "
	    "preemptions_per_s_200us=%.0f preemptions_per_s_default=%.1f "
	    "quantum_default_us=%.0f",
	    100.0 * (1.0 - dflt.rate / base), 100.0 * (1.0 - fast.rate / base),
	    fast.preempt_per_s, dflt.preempt_per_s, (double)quantum / 1e3);
}

int
main(void)
{
	return bench_start("preemptcost", body, NULL);
}
