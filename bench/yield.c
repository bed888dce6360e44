/*
 * yield: context switch through the scheduler (maxprocs=1).
 *
 * Two goroutines each call goro_yield() 5,000,000 times while the main
 * goroutine waits on a wait group, so only the two yielders are runnable.
 * Result: ns_per_yield = wall time / 10,000,000.
 */
#include "bench.h"

#define PER_G 5000000

static goro_wg_t wg = GORO_WG_INIT;

static void
yielder(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_G; i++)
		goro_yield();
	goro_wg_done(&wg);
}

static void
body(void *arg)
{
	int64_t start, elapsed;

	(void)arg;
	bench_maxprocs(1);

	goro_wg_add(&wg, 2);
	start = goro_now();
	bench_go(yielder, NULL);
	bench_go(yielder, NULL);
	goro_wg_wait(&wg);
	elapsed = goro_now() - start;

	bench_result("ns_per_yield=%.1f", (double)elapsed / (2.0 * PER_G));
}

int
main(void)
{
	return bench_start("yield", body, NULL);
}
