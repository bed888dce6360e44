/*
 * bench.h - helpers shared by the goro benchmark programs.
 *
 * Every program in bench/ runs one scenario of the project's benchmark
 * suite (shared/bench/SCENARIOS.md) with fixed parameters and prints exactly
 * one line on stdout,
 *
 *	BENCH <scenario> goro key=value ...
 *
 * so that bench/run can put it beside the peers' line for the same scenario
 * (shared/peers/: Go, pthreads, Boost.Fiber).  The methodology follows the
 * peers on purpose, so that a difference in a number is a difference of
 * runtime and not of measurement:
 *
 *  - maxprocs is set inside the program, from the main goroutine, with
 *    goro_maxprocs() (the Go peers call runtime.GOMAXPROCS in main);
 *  - the CPU hog of fairness, wakelat, handoff_loaded and preemptcost is the
 *    peers' loop: one 64-byte slot per hog, a volatile store of the iteration
 *    count every iteration, the stop flag read with a plain load only every
 *    2^20 iterations, and no call inside the loop (check with objdump -d:
 *    bench_hog_loop must contain no call), so that only asynchronous
 *    preemption can take the processor away from it;
 *  - percentiles are nearest-rank, sorted[ceil(q*n)-1];
 *  - memory is VmRSS from /proc/self/status; peak RSS is measured from
 *    outside by bench/run.
 *
 * A failed check prints a message on stderr and exits with status 1, never
 * a BENCH line, so that the runner notices.
 */
#ifndef GORO_BENCH_H
#define GORO_BENCH_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <goro.h>

#define BENCH_UNUSED __attribute__((unused))

/* The scenario name, set by bench_start; used in messages. */
static const char *bench_scenario BENCH_UNUSED = "bench";

/* Print "bench <scenario>: <message>" on stderr and exit with status 1. */
static void bench_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn, unused));

static void
bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench %s: ", bench_scenario);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* As bench_die, with ": strerror(errno)" appended. */
#define bench_die_errno(what) \
	bench_die("%s: %s", (what), strerror(errno))

/* Print the one result line: "BENCH <scenario> goro " fmt "\n". */
static void bench_result(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), unused));

static void
bench_result(const char *fmt, ...)
{
	va_list ap;

	printf("BENCH %s goro ", bench_scenario);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/*
 * Run body(arg) as the main goroutine (goro_run) and report a runtime that
 * does not start.  The body sets maxprocs itself, with bench_maxprocs.
 */
static int BENCH_UNUSED
bench_start(const char *scenario, void (*body)(void *), void *arg)
{
	bench_scenario = scenario;
	if (goro_run(body, arg) != 0)
		bench_die_errno("goro_run");
	fflush(stdout);
	return 0;
}

/* goro_maxprocs(n), checked.  Called first thing in the main goroutine. */
static void BENCH_UNUSED
bench_maxprocs(int n)
{
	if (goro_maxprocs(n) < 0)
		bench_die_errno("goro_maxprocs");
	if (goro_maxprocs(0) != n)
		bench_die("goro_maxprocs(0) = %d after setting %d",
		    goro_maxprocs(0), n);
}

/* goro_go, checked. */
static void BENCH_UNUSED
bench_go(void (*fn)(void *), void *arg)
{
	if (goro_go(fn, arg) < 0)
		bench_die_errno("goro_go");
}

/* goro_sleep, checked. */
static void BENCH_UNUSED
bench_sleep(int64_t ns)
{
	if (goro_sleep(ns) != 0)
		bench_die_errno("goro_sleep");
}

/* ---- percentiles -------------------------------------------------------- */

static int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sort v[0..n) ascending. */
static void BENCH_UNUSED
bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof v[0], bench_cmp_double);
}

/* Nearest-rank percentile of a sorted array: sorted[ceil(q*n)-1]. */
static double BENCH_UNUSED
bench_pct(const double *sorted, size_t n, double q)
{
	long i = (long)ceil(q * (double)n) - 1;

	return sorted[i < 0 ? 0 : i];
}

/* ---- memory ------------------------------------------------------------- */

/* VmRSS of this process in kB, from /proc/self/status. */
static long BENCH_UNUSED
bench_vmrss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		bench_die_errno("/proc/self/status");
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	if (kb < 0)
		bench_die("no VmRSS in /proc/self/status");
	return kb;
}

/* ---- the CPU hog -------------------------------------------------------- */

#define BENCH_HOGS_MAX 64
#define BENCH_HOG_CHECK_MASK ((UINT64_C(1) << 20) - 1)

/* One cache line per hog, so that the hogs' stores do not share lines. */
struct bench_slot {
	volatile uint64_t n;	/* iterations so far; written by its hog only */
	char pad[56];
} __attribute__((aligned(64)));

static struct bench_slot bench_slots[BENCH_HOGS_MAX] BENCH_UNUSED;

/* Set once by the main goroutine (or a timer thread); hogs poll it. */
static volatile int bench_stop BENCH_UNUSED;

/* Every hog calls goro_wg_done on it when it has left its loop. */
static goro_wg_t bench_hogs_wg BENCH_UNUSED = GORO_WG_INIT;

/*
 * The loop itself: the iteration count is stored into the slot on every
 * iteration, the stop flag is read with a plain load every 2^20
 * iterations.  No call: the hog never enters the runtime, so only a
 * signal can take its processor away.  noinline keeps it one symbol in
 * the disassembly.
 */
static void __attribute__((noinline, unused))
bench_hog_loop(volatile uint64_t *slot)
{
	uint64_t n = 0;

	for (;;) {
		n++;
		*slot = n;
		if ((n & BENCH_HOG_CHECK_MASK) == 0 && bench_stop)
			break;
	}
}

/* Goroutine entry of hog number (intptr_t)arg. */
static void BENCH_UNUSED
bench_hog(void *arg)
{
	bench_hog_loop(&bench_slots[(intptr_t)arg].n);
	goro_wg_done(&bench_hogs_wg);
}

/* Zero the slots and the stop flag, then spawn hogs 0..nhogs-1. */
static void BENCH_UNUSED
bench_hogs_start(int nhogs)
{
	if (nhogs > BENCH_HOGS_MAX)
		bench_die("too many hogs (%d)", nhogs);
	bench_stop = 0;
	for (int i = 0; i < nhogs; i++)
		bench_slots[i].n = 0;
	goro_wg_add(&bench_hogs_wg, nhogs);
	for (int i = 0; i < nhogs; i++)
		bench_go(bench_hog, (void *)(intptr_t)i);
}

/*
 * Set the stop flag and wait until every hog has left its loop; returns
 * the time that took, in ms (fairness's stop_ms).
 */
static double BENCH_UNUSED
bench_hogs_stop(void)
{
	int64_t t0;

	bench_stop = 1;
	t0 = goro_now();
	goro_wg_wait(&bench_hogs_wg);
	return (double)(goro_now() - t0) / 1e6;
}

#endif /* GORO_BENCH_H */
