/*
 * fairness1 / fairness2: tight-loop fairness (maxprocs=1 and 2).
 *
 * Built twice from this file, with FAIRNESS_PROCS set to 1 or 2 by
 * bench/bench.am.  4*maxprocs hogs run the call-free loop of bench.h; the
 * main goroutine sleeps 2 s, sets the stop flag and waits (goro_wg) until
 * every hog has left its loop.  Only asynchronous preemption can let the
 * main goroutine run again, and share the processors among the hogs.
 * Result: jain (Jain's index of the per-hog counts, 1.0 = fair), minmax
 * (min/max count), stop_ms (from setting the flag until all hogs exited).
 */
#include "bench.h"

#ifndef FAIRNESS_PROCS
#error "FAIRNESS_PROCS must be defined (1 or 2)"
#endif

#define STR_(x) #x
#define STR(x) STR_(x)
#define HOGS (4 * FAIRNESS_PROCS)

static void
body(void *arg)
{
	double sum = 0, sumsq = 0, stop_ms;
	uint64_t mn, mx;

	(void)arg;
	bench_maxprocs(FAIRNESS_PROCS);

	bench_hogs_start(HOGS);
	bench_sleep(2 * INT64_C(1000000000));
	stop_ms = bench_hogs_stop();

	mn = mx = bench_slots[0].n;
	for (int i = 0; i < HOGS; i++) {
		uint64_t c = bench_slots[i].n;

		sum += (double)c;
		sumsq += (double)c * (double)c;
		if (c < mn)
			mn = c;
		if (c > mx)
			mx = c;
	}
	bench_result("jain=%.4f minmax=%.4f stop_ms=%.2f",
	    sumsq > 0 ? sum * sum / (HOGS * sumsq) : 0.0,
	    mx > 0 ? (double)mn / (double)mx : 0.0, stop_ms);
}

int
main(void)
{
	return bench_start("fairness" STR(FAIRNESS_PROCS), body, NULL);
}
