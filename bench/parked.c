/*
 * parked: memory of parked goroutines (maxprocs=2).
 *
 * N = 100,000 goroutines each block receiving on one shared unbuffered
 * channel.  VmRSS is read before spawning and again once all are parked:
 * every goroutine increments an atomic counter right before its receive,
 * the main goroutine polls it every millisecond until it reaches N, then
 * gives the last ones 20 ms to finish parking (as the Go peer does).  Then
 * goro_chan_close releases every receiver at once (each receive fails with
 * EPIPE), and release_ms is the time from the close until all have been
 * joined (goro_wg).
 * Result: kb_per_goroutine = (parked RSS - RSS before) / N, release_ms.
 */
#include "bench.h"

#define N 100000

static goro_chan_t *ch;
static int64_t arrived;
static int64_t bad_recv;	/* receives that did not fail with EPIPE */
static goro_wg_t wg = GORO_WG_INIT;

static void
waiter(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&arrived, 1, __ATOMIC_RELAXED);
	if (goro_chan_recv(ch, NULL) != -1 || errno != EPIPE)	/* parks here */
		__atomic_fetch_add(&bad_recv, 1, __ATOMIC_RELAXED);
	goro_wg_done(&wg);
}

static void
body(void *arg)
{
	long before, parked;
	int64_t t0;
	double release_ms;

	(void)arg;
	bench_maxprocs(2);

	before = bench_vmrss_kb();
	if ((ch = goro_chan_make(sizeof(int), 0)) == NULL)
		bench_die_errno("goro_chan_make");
	goro_wg_add(&wg, N);
	for (int i = 0; i < N; i++)
		bench_go(waiter, NULL);
	while (__atomic_load_n(&arrived, __ATOMIC_RELAXED) < N)
		bench_sleep(1000000);
	bench_sleep(20000000);
	parked = bench_vmrss_kb();

	t0 = goro_now();
	if (goro_chan_close(ch) != 0)
		bench_die_errno("goro_chan_close");
	goro_wg_wait(&wg);
	release_ms = (double)(goro_now() - t0) / 1e6;

	if (bad_recv != 0)
		bench_die("%lld receives on the closed channel did not fail "
		    "with EPIPE", (long long)bad_recv);
	if (goro_chan_free(ch) != 0)
		bench_die_errno("goro_chan_free");
	bench_result("kb_per_goroutine=%.2f release_ms=%.2f",
	    (double)(parked - before) / N, release_ms);
}

int
main(void)
{
	return bench_start("parked", body, NULL);
}
