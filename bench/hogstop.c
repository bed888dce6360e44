/*
 * hogstop.c - how long past its quantum a call-free hog keeps the CPU
 * (goro only; the target of the preemption issue: quantum + 0.5 ms, p99).
 *
 * maxprocs=1; 4 hogs, each a call-free loop that reads the TSC every
 * iteration (rdtsc is an instruction, not a call); see hog() for what a
 * run segment is.  Runs 2 s at the default
 * quantum; prints the segment lengths' percentiles and how far p99
 * exceeds the quantum.
 */
#include "bench.h"

#include <x86intrin.h>

#define NHOG 4
#define MAXSEG 4096

static volatile int stop;
static goro_wg_t wg = GORO_WG_INIT;
static double ns_per_tick;
static uint64_t seg[NHOG][MAXSEG];
static int nseg[NHOG];

/*
 * A run segment is the stretch between two gaps in a hog's stamps longer
 * than 100 us: the hog was off the CPU before and after.  On a loaded
 * machine the kernel also makes gaps, which only shortens segments, so
 * the figure errs towards the scheduler looking better, never worse
 * (run it on a quiet machine).
 */
static void hog(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t gap = (uint64_t)(100000 / ns_per_tick);	/* 100 us */
	uint64_t start = 0, last = 0;
	unsigned n = 0;
	for (;;) {
		uint64_t now = __rdtsc();
		if (now - last > gap) {
			if (start != 0 && nseg[id] < MAXSEG)
				seg[id][nseg[id]++] = last - start;
			start = now;
		}
		last = now;
		if ((++n & 0xffff) == 0 && stop)
			break;
	}
	goro_wg_done(&wg);
}

static void body(void *arg)
{
	(void)arg;
	bench_maxprocs(1);
	int64_t t0 = goro_now();
	uint64_t c0 = __rdtsc();
	bench_sleep(20000000);
	ns_per_tick = (double)(goro_now() - t0) / (double)(__rdtsc() - c0);
	goro_wg_add(&wg, NHOG);
	for (int i = 0; i < NHOG; i++)
		bench_go(hog, (void *)(intptr_t)i);
	bench_sleep(2000000000);
	stop = 1;
	goro_wg_wait(&wg);

	static double v[NHOG * MAXSEG];
	size_t n = 0;
	for (int i = 0; i < NHOG; i++)
		for (int k = 1; k < nseg[i]; k++)	/* the first segment starts mid-slice */
			v[n++] = seg[i][k] * ns_per_tick / 1000.0;
	if (n == 0)
		bench_die("no hog was ever preempted");
	goro_stats_t st;
	goro_stats(&st);
	bench_sort(v, n);
	double q = goro_get_quantum() / 1000.0;
	bench_result("segments=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f quantum_us=%.0f "
	    "p99_over_quantum_us=%.1f preempt_async=%llu preempt_deferred=%llu handoffs=%llu",
	    n, bench_pct(v, n, 0.5), bench_pct(v, n, 0.99), v[n - 1], q,
	    bench_pct(v, n, 0.99) - q, (unsigned long long)st.preempt_async,
	    (unsigned long long)st.preempt_deferred, (unsigned long long)st.handoffs);
}

int main(void)
{
	return bench_start("hogstop", body, NULL);
}
