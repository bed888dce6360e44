/*
 * sysmoncost.c - what sysmon itself costs, in CPU (goro only; the target
 * of the preemption issue: below 0.5 % of a core in steady state).
 *
 * Three steady states, 3 s each at the default quantum, after 200 ms to
 * settle: "busy", as many call-free hogs as Ps (2), so nothing waits and
 * nobody needs preempting; "oversub2", 8 hogs on 2 Ps; "oversub1", 4
 * hogs on 1 P.  For each: sysmon's thread CPU time over wall time (in %
 * of a core) and its rounds (wake-ups) per second.  The hogs are
 * bench.h's call-free loop.  This program links the runtime's internals
 * (libgoro_internal) for goro__sysmon_cputime and goro__sysmon_rounds.
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

static struct phase measure(int procs, int hogs)
{
	bench_maxprocs(procs);
	bench_hogs_start(hogs);
	bench_sleep(SETTLE_NS);
	int64_t c0 = goro__sysmon_cputime(), t0 = goro_now();
	uint64_t r0 = goro__sysmon_rounds();
	bench_sleep(MEASURE_NS);
	int64_t c1 = goro__sysmon_cputime(), t1 = goro_now();
	uint64_t r1 = goro__sysmon_rounds();
	bench_hogs_stop();
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
	bench_result("busy_pct=%.3f oversub2_pct=%.3f oversub1_pct=%.3f "
	    "busy_rounds_per_s=%.0f oversub2_rounds_per_s=%.0f oversub1_rounds_per_s=%.0f "
	    "quantum_us=%.0f",
	    busy.pct, o2.pct, o1.pct, busy.rounds, o2.rounds, o1.rounds,
	    goro_get_quantum() / 1000.0);
}

int main(void)
{
	return bench_start("sysmoncost", body, NULL);
}
