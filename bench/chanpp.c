/*
 * chanpp1 / chanpp2: unbuffered channel ping-pong (maxprocs=1 and 2).
 *
 * Built twice from this file, with CHANPP_PROCS set to 1 or 2 by
 * bench/bench.am.  A pinger sends i on `ping` and expects i back on `pong`;
 * a ponger echoes every value: 1,000,000 round trips of an int over two
 * unbuffered channels.  Result: ns_per_roundtrip = wall time / rounds.
 */
#include "bench.h"

#ifndef CHANPP_PROCS
#error "CHANPP_PROCS must be defined (1 or 2)"
#endif

#define STR_(x) #x
#define STR(x) STR_(x)
#define ROUNDS 1000000

static goro_chan_t *ping, *pong;
static goro_wg_t wg = GORO_WG_INIT;

static void
pinger(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		int v;

		if (goro_chan_send(ping, &i) != 0)
			bench_die_errno("send on ping");
		if (goro_chan_recv(pong, &v) != 0)
			bench_die_errno("recv on pong");
		if (v != i)
			bench_die("got %d, want %d", v, i);
	}
	goro_wg_done(&wg);
}

static void
ponger(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		int v;

		if (goro_chan_recv(ping, &v) != 0)
			bench_die_errno("recv on ping");
		if (goro_chan_send(pong, &v) != 0)
			bench_die_errno("send on pong");
	}
	goro_wg_done(&wg);
}

static void
body(void *arg)
{
	int64_t start, elapsed;

	(void)arg;
	bench_maxprocs(CHANPP_PROCS);

	if ((ping = goro_chan_make(sizeof(int), 0)) == NULL ||
	    (pong = goro_chan_make(sizeof(int), 0)) == NULL)
		bench_die_errno("goro_chan_make");
	goro_wg_add(&wg, 2);
	start = goro_now();
	bench_go(pinger, NULL);
	bench_go(ponger, NULL);
	goro_wg_wait(&wg);
	elapsed = goro_now() - start;
	goro_chan_free(ping);
	goro_chan_free(pong);

	bench_result("ns_per_roundtrip=%.1f", (double)elapsed / ROUNDS);
}

int
main(void)
{
	return bench_start("chanpp" STR(CHANPP_PROCS), body, NULL);
}
