/*
 * sysmoncost.c - what sysmon itself costs, in CPU (goro only; the target
 * of the preemption issue: below 0.5 % of a core in steady state).
 *
 * Five steady states, 3 s each at the default quantum, after 200 ms to
 * settle: "busy", as many call-free hogs as Ps (2), so nothing waits and
 * nobody needs preempting; "oversub2", 8 hogs on 2 Ps; "oversub1", 4
 * hogs on 1 P; and two that churn through short Gs while work always
 * waits: "yield1", two Gs calling goro_yield on 1 P, and "pingpong2", two
 * Gs passing a value back and forth on an unbuffered channel on 2 Ps.
 * For each: sysmon's thread CPU time over wall time (in % of a core) and
 * its rounds (wake-ups) per second.  The hogs are bench.h's call-free
 * loop.  This program links the runtime's internals (libgoro_internal)
 * for goro__sysmon_cputime and goro__sysmon_rounds.
 */
#include "bench.h"

#include <stdint.h>

/* From lib/runtime.h, which a bench does not include. */
int64_t goro__sysmon_cputime(void);
uint64_t goro__sysmon_rounds(void);

#define SETTLE_NS 200000000LL
#define MEASURE_NS 3000000000LL

struct phase {
	double pct, rounds;
};

static volatile int churn_stop;
static goro_wg_t churn_wg = GORO_WG_INIT;
static goro_chan_t *ping, *pong;

static void yielder(void *arg)
{
	(void)arg;
	while (!churn_stop)
		goro_yield();
	goro_wg_done(&churn_wg);
}

static void pinger(void *arg)
{
	int v = 0;

	(void)arg;
	while (!churn_stop && goro_chan_send(ping, &v) == 0 && goro_chan_recv(pong, &v) == 0)
		;
	goro_chan_close(ping);
	goro_wg_done(&churn_wg);
}

static void ponger(void *arg)
{
	int v;

	(void)arg;
	while (goro_chan_recv(ping, &v) == 0 && goro_chan_send(pong, &v) == 0)
		;
	goro_wg_done(&churn_wg);
}

/* hogs > 0: that many call-free loops; 0: yielders; -1: a ping-pong pair. */
static struct phase measure(int procs, int hogs)
{
	bench_maxprocs(procs);
	churn_stop = 0;
	if (hogs > 0) {
		bench_hogs_start(hogs);
	} else if (hogs == 0) {
		goro_wg_add(&churn_wg, 2);
		bench_go(yielder, NULL);
		bench_go(yielder, NULL);
	} else {
		if ((ping = goro_chan_make(sizeof(int), 0)) == NULL ||
		    (pong = goro_chan_make(sizeof(int), 0)) == NULL)
			bench_die_errno("goro_chan_make");
		goro_wg_add(&churn_wg, 2);
		bench_go(pinger, NULL);
		bench_go(ponger, NULL);
	}
	bench_sleep(SETTLE_NS);
	int64_t c0 = goro__sysmon_cputime(), t0 = goro_now();
	uint64_t r0 = goro__sysmon_rounds();
	bench_sleep(MEASURE_NS);
	int64_t c1 = goro__sysmon_cputime(), t1 = goro_now();
	uint64_t r1 = goro__sysmon_rounds();
	if (hogs > 0) {
		bench_hogs_stop();
	} else {
		churn_stop = 1;
		goro_wg_wait(&churn_wg);
		if (hogs < 0) {
			goro_chan_free(ping);
			goro_chan_free(pong);
		}
	}
	if (c0 < 0 || c1 < c0)
		bench_die("cannot read sysmon's CPU clock");
	double sec = (double)(t1 - t0) / 1e9;
	return (struct phase){ 100.0 * (double)(c1 - c0) / (double)(t1 - t0),
	    (double)(r1 - r0) / sec };
}

static void body(void *arg)
{
	(void)arg;
	struct phase busy = measure(2, 2);
	struct phase o2 = measure(2, 8);
	struct phase o1 = measure(1, 4);
	struct phase y1 = measure(1, 0);
	struct phase pp2 = measure(2, -1);
	bench_result("busy_pct=%.3f oversub2_pct=%.3f oversub1_pct=%.3f yield1_pct=%.3f "
	    "pingpong2_pct=%.3f busy_rounds_per_s=%.0f oversub2_rounds_per_s=%.0f "
	    "oversub1_rounds_per_s=%.0f yield1_rounds_per_s=%.0f pingpong2_rounds_per_s=%.0f "
	    "quantum_us=%.0f",
	    busy.pct, o2.pct, o1.pct, y1.pct, pp2.pct, busy.rounds, o2.rounds, o1.rounds,
	    y1.rounds, pp2.rounds, goro_get_quantum() / 1000.0);
}

int main(void)
{
	return bench_start("sysmoncost", body, NULL);
}
