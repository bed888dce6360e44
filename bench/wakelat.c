/*
 * wakelat: wake-up latency under CPU hogs (maxprocs=1).
 *
 * Two hogs (the loop of bench.h) keep the only processor busy; a sleeper
 * goroutine does 200 goro_sleep()s of 2 ms and records
 * lateness = actual wake time - intended wake time (goro_now, monotonic).
 * Result: p50_us, p99_us (nearest rank), max_us.
 */
#include "bench.h"

#define HOGS 2
#define SLEEPS 200
#define PERIOD_NS INT64_C(2000000)

static double late_us[SLEEPS];
static goro_wg_t sleeper_done = GORO_WG_INIT;

static void
sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < SLEEPS; i++) {
		int64_t want = goro_now() + PERIOD_NS;

		bench_sleep(PERIOD_NS);
		late_us[i] = (double)(goro_now() - want) / 1e3;
	}
	goro_wg_done(&sleeper_done);
}

static void
body(void *arg)
{
	(void)arg;
	bench_maxprocs(1);

	bench_hogs_start(HOGS);
	goro_wg_add(&sleeper_done, 1);
	bench_go(sleeper, NULL);
	goro_wg_wait(&sleeper_done);
	bench_hogs_stop();

	bench_sort(late_us, SLEEPS);
	bench_result("p50_us=%.1f p99_us=%.1f max_us=%.1f",
	    bench_pct(late_us, SLEEPS, 0.50), bench_pct(late_us, SLEEPS, 0.99),
	    late_us[SLEEPS - 1]);
}

int
main(void)
{
	return bench_start("wakelat", body, NULL);
}
