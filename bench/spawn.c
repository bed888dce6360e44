/*
 * spawn: create + run + join of trivial goroutines (maxprocs=2).
 *
 * N = 1,000,000 goroutines; each does one atomic add on a shared counter
 * and goro_wg_done.  The main goroutine adds N to the wait group up front,
 * spawns them all, then waits, and checks counter == N.
 * Result: ns_per_op = wall time / N.
 */
#include "bench.h"

#define N 1000000

static int64_t counter;
static goro_wg_t wg = GORO_WG_INIT;

static void
worker(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	goro_wg_done(&wg);
}

static void
body(void *arg)
{
	int64_t start, elapsed;

	(void)arg;
	bench_maxprocs(2);

	goro_wg_add(&wg, N);
	start = goro_now();
	for (int i = 0; i < N; i++)
		bench_go(worker, NULL);
	goro_wg_wait(&wg);
	elapsed = goro_now() - start;

	if (__atomic_load_n(&counter, __ATOMIC_RELAXED) != N)
		bench_die("counter = %lld, want %d",
		    (long long)__atomic_load_n(&counter, __ATOMIC_RELAXED), N);
	bench_result("ns_per_op=%.1f", (double)elapsed / N);
}

int
main(void)
{
	return bench_start("spawn", body, NULL);
}
