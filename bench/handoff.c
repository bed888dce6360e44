/*
 * handoff, handoff_loaded, handoff_raw: hand-off of a processor whose
 * goroutine blocks in a system call.
 *
 * Built three times from this file; bench/bench.am sets HANDOFF_VARIANT:
 *
 *   HANDOFF_PLAIN   handoff: maxprocs=1.
 *   HANDOFF_LOADED  handoff_loaded: maxprocs=2, and one call-free hog (the
 *                   loop of bench.h) owns the second P throughout, so the
 *                   runtime cannot count on an idle program to notice.
 *   HANDOFF_RAW     handoff_raw: maxprocs=1, and A's nanosleep is not
 *                   wrapped: the runtime has to find out by itself that A's
 *                   thread sleeps in the kernel, and must do so without
 *                   interrupting it (result key eintr: how many times
 *                   nanosleep returned EINTR, which must be 0; each EINTR is
 *                   resumed with the remaining time, so that A always sleeps
 *                   its full 20 ms; eintr_rem_us: the time those EINTRs
 *                   would have cut off).
 *
 * The round structure is that of the Go peer (go/handoff.go).  50 rounds:
 * the main goroutine, A, spawns B, which is then runnable but cannot run
 * (A holds the only free P), records t0 = goro_now() and blocks in a 20 ms
 * nanosleep (inside goro_syscall_enter/exit, except in handoff_raw).  B
 * records goro_now() when it first runs and sends it on a buffered
 * channel; A receives it after its sleep.  latency = B's start - t0.
 * Result: p50_us, p99_us (nearest rank; with 50 samples p99 is the max),
 * max_us.
 */
#include <time.h>

#include "bench.h"

#define HANDOFF_PLAIN 0
#define HANDOFF_LOADED 1
#define HANDOFF_RAW 2

#ifndef HANDOFF_VARIANT
#error "HANDOFF_VARIANT must be defined"
#endif

#if HANDOFF_VARIANT == HANDOFF_PLAIN
#define SCENARIO "handoff"
#define PROCS 1
#elif HANDOFF_VARIANT == HANDOFF_LOADED
#define SCENARIO "handoff_loaded"
#define PROCS 2
#elif HANDOFF_VARIANT == HANDOFF_RAW
#define SCENARIO "handoff_raw"
#define PROCS 1
#else
#error "unknown HANDOFF_VARIANT"
#endif

#define ROUNDS 50
#define SLEEP_NS 20000000L

static goro_chan_t *started;	/* B -> A: B's first-run time; capacity 1 */
static long eintr;		/* EINTR returns of A's nanosleep */
static int64_t eintr_rem_ns;	/* time left at those returns */

static void
b_main(void *arg)
{
	int64_t t = goro_now();

	(void)arg;
	if (goro_chan_send(started, &t) != 0)
		bench_die_errno("send on started");
}

/* Block in nanosleep(2) for the full 20 ms, resuming after EINTR. */
static void
sleep20ms(void)
{
	struct timespec ts = { 0, SLEEP_NS }, rem;

	while (nanosleep(&ts, &rem) != 0) {
		if (errno != EINTR)
			bench_die_errno("nanosleep");
		eintr++;
		eintr_rem_ns += (int64_t)rem.tv_sec * 1000000000 + rem.tv_nsec;
		ts = rem;
	}
}

static void
body(void *arg)
{
	double lat_us[ROUNDS];

	(void)arg;
	bench_maxprocs(PROCS);

#if HANDOFF_VARIANT == HANDOFF_LOADED
	bench_hogs_start(1);
	bench_sleep(50 * INT64_C(1000000));	/* let the hog own the other P */
#endif
	if ((started = goro_chan_make(sizeof(int64_t), 1)) == NULL)
		bench_die_errno("goro_chan_make");

	for (int r = 0; r < ROUNDS; r++) {
		int64_t t0, t1;

		bench_go(b_main, NULL);		/* runnable, not running */
		t0 = goro_now();
#if HANDOFF_VARIANT == HANDOFF_RAW
		sleep20ms();			/* the runtime is not told */
#else
		goro_syscall_enter();
		sleep20ms();
		goro_syscall_exit();
#endif
		if (goro_chan_recv(started, &t1) != 0)
			bench_die_errno("recv on started");
		lat_us[r] = (double)(t1 - t0) / 1e3;
	}

#if HANDOFF_VARIANT == HANDOFF_LOADED
	bench_hogs_stop();
#endif
	goro_chan_free(started);

	bench_sort(lat_us, ROUNDS);
#if HANDOFF_VARIANT == HANDOFF_RAW
	bench_result("p50_us=%.1f p99_us=%.1f max_us=%.1f eintr=%ld "
	    "eintr_rem_us=%.1f",
	    bench_pct(lat_us, ROUNDS, 0.50), bench_pct(lat_us, ROUNDS, 0.99),
	    lat_us[ROUNDS - 1], eintr, (double)eintr_rem_ns / 1e3);
#else
	if (eintr != 0)
		fprintf(stderr, "bench %s: note: %ld EINTR from a wrapped "
		    "nanosleep\n", SCENARIO, eintr);
	bench_result("p50_us=%.1f p99_us=%.1f max_us=%.1f",
	    bench_pct(lat_us, ROUNDS, 0.50), bench_pct(lat_us, ROUNDS, 0.99),
	    lat_us[ROUNDS - 1]);
#endif
}

int
main(void)
{
	return bench_start(SCENARIO, body, NULL);
}
