/*
 * goro_test.h - the harness the Check suites share.
 *
 * Each tests/check_<component>.c is its own program; this header holds
 * what they would otherwise each carry a copy of.  Everything here is
 * static, the functions inline or marked unused, so a program compiles
 * cleanly with only the parts it uses:
 *
 * - US, MS, SEC: nanoseconds, the unit of every goro time.
 * - tcase(), ADD_TCASE(), goro_test_main(): one TCase per behaviour, each
 *   with its own time-out, and a main() that runs the suite with CK_ENV
 *   and exits EXIT_SUCCESS or EXIT_FAILURE.
 * - ERRNO, get_errno(), set_errno(): errno of the thread running the
 *   caller now.  A G may resume on another M after any runtime call, and
 *   since __errno_location() is declared const the compiler may keep
 *   &errno from before that call; both ways below make it ask again.
 * - EXPECT(), run(), run_procs(), stats(): an assertion any G may make
 *   (Check's ck_assert takes a pthread mutex around a write, so a G
 *   preempted while holding it would block every G that asserts, and
 *   its M with it); run() starts the runtime and reports the first failed
 *   EXPECT once goro_run() returns.
 * - mono(), ts_of(), spin(), stop, watchdog(): clocks and loops that do
 *   not go through goro, and a thread outside goro that ends every loop
 *   polling stop, so a runtime that never preempts or never hands off
 *   fails a test instead of hanging it.
 *
 * spawn() is not here: the suites that assert from any G fail at once
 * when goro_go() fails, those that keep ck_assert to the main G record an
 * EXPECT failure instead, and each keeps its own.
 *
 * The names are short because the tests use them everywhere; a suite
 * must not define them again.
 */
#ifndef GORO_TEST_H
#define GORO_TEST_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "goro.h"

#define US 1000LL
#define MS 1000000LL
#define SEC 1000000000LL

/* ---- suites ------------------------------------------------------------ */

/* One TCase per behaviour; loop tests run the test for _i in [from, to). */
#define tcase(s, name, t, from, to, timeout) do {			\
	TCase *tc_ = tcase_create(name);				\
									\
	tcase_set_timeout(tc_, timeout);				\
	tcase_add_loop_test(tc_, t, from, to);				\
	suite_add_tcase(s, tc_);					\
} while (0)

/* A TCase named after its one test, run once. */
#define ADD_TCASE(s, fn, secs) tcase(s, #fn, fn, 0, 1, secs)

/* The body of main(): run every test of s, each in a forked child. */
static inline int
goro_test_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int nfailed;

	srunner_run_all(sr, CK_ENV);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- errno ------------------------------------------------------------- */

/*
 * An lvalue: ERRNO = 0, then read ERRNO.  The out-of-line function, which
 * the compiler cannot treat as const because of the volatile asm, finds
 * errno again on every use.
 */
static __attribute__((noinline, unused)) int *
errnoloc(void)
{
	__asm__ volatile("");
	return &errno;
}
#define ERRNO (*errnoloc())

/*
 * The same through pointers the compiler cannot see into, so every
 * access really calls __errno_location() on the current thread
 * (goro(7), CAVEATS).
 */
static inline int get_errno_(void) { return errno; }
static inline void set_errno_(int v) { errno = v; }
static int (*volatile get_errno)(void) __attribute__((unused)) = get_errno_;
static void (*volatile set_errno)(int) __attribute__((unused)) = set_errno_;

/* ---- running the runtime ----------------------------------------------- */

static atomic_int expect_failures;
static char expect_msg[256];

static inline void
expect_failed(const char *file, int line, const char *what)
{
	if (atomic_fetch_add(&expect_failures, 1) == 0)
		snprintf(expect_msg, sizeof expect_msg, "%s:%d: %s", file,
		    line, what);
}

/* An assertion for any G: recorded, reported by run() once goro_run returns. */
#define EXPECT(cond) do {						\
	if (!(cond))							\
		expect_failed(__FILE__, __LINE__, #cond);		\
} while (0)

static inline void
run(void (*fn)(void *), void *arg)
{
	atomic_store(&expect_failures, 0);
	ck_assert_int_eq(goro_run(fn, arg), 0);
	ck_assert_msg(atomic_load(&expect_failures) == 0,
	    "%d expectation(s) failed in goroutines, first: %s",
	    atomic_load(&expect_failures), expect_msg);
}

/* run() with GOROMAXPROCS set to procs. */
static inline void
run_procs(int procs, void (*fn)(void *), void *arg)
{
	char buf[16];

	snprintf(buf, sizeof buf, "%d", procs);
	ck_assert_int_eq(setenv("GOROMAXPROCS", buf, 1), 0);
	run(fn, arg);
}

static inline goro_stats_t
stats(void)
{
	goro_stats_t st;

	memset(&st, 0, sizeof st);
	EXPECT(goro_stats(&st) == 0);
	return st;
}

/* ---- time and loops outside goro --------------------------------------- */

/*
 * CLOCK_MONOTONIC without going through goro: a hog may call it, and so
 * may a G just back from an unwrapped call, still without a P.
 */
static inline int64_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * SEC + ts.tv_nsec;
}

static inline struct timespec
ts_of(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / SEC), (long)(ns % SEC) };

	return ts;
}

/* Spin call-free for about n iterations (a few ns each). */
static inline void
spin(uint64_t n)
{
	for (volatile uint64_t i = 0; i < n; i++)
		;
}

/* Set by a test or by the watchdog; every loop that could run away polls it. */
static atomic_int stop;

static inline void *
watchdog_main(void *arg)
{
	int64_t ns = (int64_t)(intptr_t)arg;
	struct timespec ts = ts_of(ns);

	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	return NULL;
}

/* Clear stop, and set it after ns whatever the runtime does. */
static inline void
watchdog(int64_t ns)
{
	pthread_t t;

	atomic_store(&stop, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, watchdog_main,
	    (void *)(intptr_t)ns), 0);
	pthread_detach(t);
}

#endif /* GORO_TEST_H */
