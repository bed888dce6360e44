/*
 * preemptcost: what preemption costs a CPU-bound program (maxprocs=1;
 * goro only, the peers have no equivalent).
 *
 * Three configurations, each run for 2 s in all, with the hog loop of
 * bench.h:
 *
 *  1. baseline: one hog alone, with signal preemption off.  The hog calls
 *     goro_preempt_off() before its loop, so sysmon's SIGURG never stops
 *     it, and goro_preempt_on() after.  Since nothing can then take the
 *     only P away from it, the main goroutine cannot end this phase; a
 *     plain pthread outside the runtime sleeps, reads the hog's count
 *     and sets the stop flag.
 *  2. four hogs at the default quantum (10 ms, or GOROQUANTUM);
 *  3. four hogs at a 200 us quantum (goro_set_quantum).
 *
 * The 2 s of each are twenty 100 ms phases, interleaved (1 2 3 1 2 3 ...):
 * on a shared machine the speed of a CPU drifts by tens of percent over
 * seconds, and a loss measured against a baseline taken seconds earlier
 * measured that drift.  Each round compares its phases with its own
 * baseline; the result is the median round.
 *
 * In phases 2 and 3 the main goroutine sleeps and, once it runs again (so
 * no hog is running: there is one P), reads the total count; it then
 * stops the hogs.  Counts are turned into rates over the measured time, so
 * a late wake-up does not bias the result.
 *
 * Result: loss_pct_default and loss_pct_200us = 100 * (1 - rate/baseline
 * rate), medians over the rounds; preemptions_per_s_200us from the
 * goro_stats() preempt_async counter over phase 3.  Extra keys:
 * preemptions_per_s_default, quantum_default_us (what "default" was in
 * this run), rounds, and the spread of the 200 us loss over the rounds.
 */
#include <pthread.h>
#include <time.h>

#include "bench.h"

#define HOGS 4
#define ROUNDS 20
#define PHASE_NS INT64_C(100000000)

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

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

static void
body(void *arg)
{
	double loss_dflt[ROUNDS], loss_fast[ROUNDS], pps_dflt[ROUNDS], pps_fast[ROUNDS];
	int64_t quantum;

	(void)arg;
	bench_maxprocs(1);

	quantum = goro_get_quantum();
	for (int r = 0; r < ROUNDS; r++) {
		double base = baseline();
		if (goro_set_quantum(quantum) != 0)
			bench_die_errno("goro_set_quantum(default)");
		struct phase dflt = four_hogs();
		if (goro_set_quantum(200000) != 0)
			bench_die_errno("goro_set_quantum(200000)");
		struct phase fast = four_hogs();
		loss_dflt[r] = 100.0 * (1.0 - dflt.rate / base);
		loss_fast[r] = 100.0 * (1.0 - fast.rate / base);
		pps_dflt[r] = dflt.preempt_per_s;
		pps_fast[r] = fast.preempt_per_s;
	}
	double lo = loss_fast[0], hi = loss_fast[0];
	for (int r = 1; r < ROUNDS; r++) {
		lo = loss_fast[r] < lo ? loss_fast[r] : lo;
		hi = loss_fast[r] > hi ? loss_fast[r] : hi;
	}
	bench_result("loss_pct_default=%.2f loss_pct_200us=%.2f "
	    "preemptions_per_s_200us=%.0f preemptions_per_s_default=%.1f "
	    "quantum_default_us=%.0f rounds=%d loss_pct_200us_min=%.2f loss_pct_200us_max=%.2f",
	    median(loss_dflt, ROUNDS), median(loss_fast, ROUNDS),
	    median(pps_fast, ROUNDS), median(pps_dflt, ROUNDS), (double)quantum / 1e3,
	    ROUNDS, lo, hi);
}

int
main(void)
{
	return bench_start("preemptcost", body, NULL);
}
