/*
 * check_preempt.c - sysmon and asynchronous preemption, seen from the
 * public API.
 *
 * Every behaviour gets its own TCase and starts its own runtime inside the
 * test (Check forks per test).  A "hog" here is a call-free C loop -- the
 * `for (;;) x++;` that must never starve anyone -- so only a signal can
 * stop it.  A watchdog thread outside goro ends every hog after a few
 * seconds whatever happens, so a runtime that cannot preempt fails these
 * tests instead of hanging them.  Timing bounds are behavioural and
 * generous (CI runs on a loaded 2-core machine): "main got the CPU back
 * within 2 s", never "within 10.3 ms".
 *
 * Only the main G of a test calls ck_assert: Check's assertions take a
 * pthread mutex around a write, and a G preempted while holding it would
 * block every other G that asserts -- and its M with it.  Other Gs use
 * EXPECT, which records the first failure for run() to report.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "goro.h"
#include "goro_test.h"

/* ---- helpers ------------------------------------------------------------ */

static void spawn(void (*fn)(void *), void *arg)
{
	EXPECT(goro_go(fn, arg) > 0);
}

/* A call-free loop; counts its iterations in *arg until stop. */
static void hog(void *arg)
{
	uint64_t n = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		n++;
	if (arg != NULL)
		*(uint64_t *)arg = n;
}

/* ---- a call-free loop does not starve main --------------------------------- */

static int64_t slept_ns;

static void nostarve_main(void *arg)
{
	ck_assert_int_ge(goro_maxprocs(1), 1);
	spawn(hog, NULL);
	goro_yield();			/* let the hog take the P */
	int64_t t0 = goro_now();
	ck_assert_int_eq(goro_sleep(50 * MS), 0);
	slept_ns = goro_now() - t0;
	atomic_store(&stop, 1);
}

START_TEST(nostarve)
{
	watchdog(5 * SEC);
	run(nostarve_main, NULL);
	fprintf(stderr, "nostarve: main slept 50 ms, back after %.1f ms\n",
	    slept_ns / 1e6);
	ck_assert_msg(slept_ns >= 50 * MS, "woke early: %lld ns",
	    (long long)slept_ns);
	ck_assert_msg(slept_ns < 2 * SEC,
	    "main starved by a call-free loop: back after %lld ms",
	    (long long)(slept_ns / MS));
}
END_TEST

/* ---- fairness: 4 call-free hogs per P ---------------------------------- */

#define FAIR_PER_P 4
#define FAIR_MAXP 2

static uint64_t fair_count[FAIR_PER_P * FAIR_MAXP];
static int fair_procs;

struct counted {
	uint64_t *out;
	goro_wg_t *wg;
};

static void counted_hog(void *arg)
{
	struct counted *c = arg;

	hog(c->out);
	goro_wg_done(c->wg);
}

/* sysmon's rounds (wake-ups) so far: runtime-internal, from libgoro_internal. */
uint64_t goro__sysmon_rounds(void);
static double fair_rounds_per_s;

static void fair_main(void *arg)
{
	int n = FAIR_PER_P * fair_procs;
	struct counted c[FAIR_PER_P * FAIR_MAXP];
	goro_wg_t wg = GORO_WG_INIT;

	goro_maxprocs(fair_procs);
	for (int i = 0; i < n; i++) {
		c[i].out = &fair_count[i];
		c[i].wg = &wg;
		goro_wg_add(&wg, 1);
		spawn(counted_hog, &c[i]);
	}
	goro_sleep(500 * MS);	/* settle */
	int64_t t0 = goro_now();
	uint64_t r0 = goro__sysmon_rounds();
	goro_sleep(2000 * MS);	/* long: the machine may be busy elsewhere */
	fair_rounds_per_s = (double)(goro__sysmon_rounds() - r0) / ((goro_now() - t0) / 1e9);
	atomic_store(&stop, 1);
	goro_wg_wait(&wg);
}

static double jain(const uint64_t *x, int n)
{
	double s = 0, s2 = 0;

	for (int i = 0; i < n; i++) {
		s += (double)x[i];
		s2 += (double)x[i] * (double)x[i];
	}
	return s2 > 0 ? s * s / (n * s2) : 0;
}

static void fairness(int procs)
{
	int n = FAIR_PER_P * procs;

	fair_procs = procs;
	memset(fair_count, 0, sizeof fair_count);
	watchdog(10 * SEC);
	run(fair_main, NULL);
	double j = jain(fair_count, n);
	fprintf(stderr, "fairness %dP: jain %.4f, counts", procs, j);
	for (int i = 0; i < n; i++)
		fprintf(stderr, " %llu", (unsigned long long)fair_count[i]);
	fprintf(stderr, "\n");
	fprintf(stderr, "fairness %dP: sysmon woke %.0f times a second\n", procs,
	    fair_rounds_per_s);
	for (int i = 0; i < n; i++)
		ck_assert_msg(fair_count[i] > 0, "hog %d never ran", i);
	ck_assert_msg(j >= 0.9, "unfair on %d P: Jain index %.3f", procs, j);
	/*
	 * sysmon wakes once a quantum (10 ms) for all Ps together, not once
	 * per P, and does not poll each millisecond for blocked threads
	 * behind CPU-bound Gs: about 100 rounds a second.  Polling would be
	 * 1,000 and more; allow four times what is expected.
	 */
	ck_assert_msg(fair_rounds_per_s < 400, "sysmon woke %.0f times a second "
	    "with %d call-free loops on %d P", fair_rounds_per_s, n, procs);
}

START_TEST(fairness_1p)
{
	fairness(1);
}
END_TEST

START_TEST(fairness_2p)
{
	fairness(2);
}
END_TEST

/* ---- slice timers: CPU-bound Gs are stopped by their own thread ---------- */

int64_t goro__slicetimer_tick(void);	/* runtime-internal */
static goro_stats_t slice_st0, slice_st1;
static double slice_rounds_per_s;
static _Atomic int slice_app_sigurgs;

static void slice_app_handler(int sig)
{
	(void)sig;
	atomic_fetch_add(&slice_app_sigurgs, 1);
}

static void slicetimer_main(void *arg)
{
	struct counted c[FAIR_PER_P];
	goro_wg_t wg = GORO_WG_INIT;

	(void)arg;
	goro_maxprocs(1);
	for (int i = 0; i < FAIR_PER_P; i++) {
		c[i].out = &fair_count[i];
		c[i].wg = &wg;
		goro_wg_add(&wg, 1);
		spawn(counted_hog, &c[i]);
	}
	goro_sleep(300 * MS);	/* each hog is stopped for a quantum once: CPU-bound */
	goro_stats(&slice_st0);
	int64_t t0 = goro_now();
	uint64_t r0 = goro__sysmon_rounds();
	goro_sleep(1500 * MS);
	slice_rounds_per_s = (double)(goro__sysmon_rounds() - r0) / ((goro_now() - t0) / 1e9);
	goro_stats(&slice_st1);
	atomic_store(&stop, 1);
	goro_wg_wait(&wg);
}

START_TEST(slicetimer)
{
	/* The application's own SIGURG handler must never see a timer's signal. */
	ck_assert(signal(SIGURG, slice_app_handler) != SIG_ERR);
	memset(fair_count, 0, sizeof fair_count);
	watchdog(10 * SEC);
	run(slicetimer_main, NULL);
	uint64_t timer = slice_st1.preempt_timer - slice_st0.preempt_timer;
	uint64_t async = slice_st1.preempt_async - slice_st0.preempt_async;
	double j = jain(fair_count, FAIR_PER_P);
	int64_t tick = goro__slicetimer_tick();
	fprintf(stderr, "slicetimer: kernel tick %.1f ms; %llu of %llu preemptions asked for by "
	    "slice timers, sysmon woke %.0f times a second, jain %.4f\n", tick / 1e6,
	    (unsigned long long)timer, (unsigned long long)async, slice_rounds_per_s, j);
	for (int i = 0; i < FAIR_PER_P; i++)
		ck_assert_msg(fair_count[i] > 0, "hog %d never ran", i);
	ck_assert_msg(j >= 0.9, "unfair with slice timers: Jain index %.3f", j);
	ck_assert_int_eq(atomic_load(&slice_app_sigurgs), 0);
	ck_assert_msg(async >= 50, "only %llu preemptions in 1.5 s", (unsigned long long)async);
	if (tick <= 0 || 2 * tick > 10 * MS) {
		/* A kernel whose tick is too coarse for the default quantum: sysmon's job. */
		ck_assert_int_eq(timer, 0);
		return;
	}
	/*
	 * About 190 preemptions in 1.5 s (8 ms slices on a 250 Hz kernel),
	 * nearly all asked for by the hogs' own timers (half leaves room for
	 * a busy host).  sysmon then wakes about 40 times a second instead of
	 * 100; bench/sysmoncost measures that.
	 */
	ck_assert_msg(timer >= async / 2, "slice timers asked for %llu of %llu preemptions",
	    (unsigned long long)timer, (unsigned long long)async);
}
END_TEST

/*
 * A P that churns (two Gs yielding to each other) gets its M's timer as a
 * watchdog: sysmon then wakes rarely, and a call-free loop that starts
 * there is still stopped within about a quantum.
 */
static _Atomic int64_t churn_last;	/* when a yielder last ran */
static _Atomic int64_t churn_maxgap;	/* longest stretch without one, once the hog runs */
static _Atomic int churn_hogging;
static double churn_rounds_per_s;
static goro_stats_t churn_st0, churn_st1;
static int64_t churn_watched_after;	/* ns of churning until the P was watched; -1 never */
static uint64_t churn_fires;		/* watchdog expiries in the second after */
/* runtime-internal */
uint64_t goro__slicetimer_watchfires(void);
bool goro__slicetimer_p0_watched(void);

static void churn_yielder(void *arg)
{
	goro_wg_t *wg = arg;

	while (!atomic_load(&stop)) {
		goro_yield();
		int64_t now = goro_now();
		int64_t gap = now - atomic_exchange(&churn_last, now);
		if (atomic_load(&churn_hogging) && gap > atomic_load(&churn_maxgap))
			atomic_store(&churn_maxgap, gap);
	}
	goro_wg_done(wg);
}

static void churn_main(void *arg)
{
	goro_wg_t wg = GORO_WG_INIT;
	uint64_t hogcount;

	(void)arg;
	goro_maxprocs(1);
	atomic_store(&churn_last, goro_now());
	goro_wg_add(&wg, 3);
	spawn(churn_yielder, &wg);
	spawn(churn_yielder, &wg);
	/* sysmon sees the P churn and sets the watchdog: within 3 s, even on a busy host. */
	int64_t t0 = goro_now();
	churn_watched_after = -1;
	while (goro_now() - t0 < 3 * SEC) {
		if (goro__slicetimer_p0_watched()) {
			churn_watched_after = goro_now() - t0;
			break;
		}
		goro_sleep(20 * MS);
	}
	t0 = goro_now();
	uint64_t r0 = goro__sysmon_rounds(), f0 = goro__slicetimer_watchfires();
	goro_sleep(1000 * MS);
	churn_rounds_per_s = (double)(goro__sysmon_rounds() - r0) / ((goro_now() - t0) / 1e9);
	churn_fires = goro__slicetimer_watchfires() - f0;
	goro_stats(&churn_st0);
	struct counted c = { &hogcount, &wg };
	atomic_store(&churn_hogging, 1);
	spawn(counted_hog, &c);
	goro_sleep(300 * MS);
	goro_stats(&churn_st1);
	atomic_store(&stop, 1);
	goro_wg_wait(&wg);
}

START_TEST(slicetimer_watchdog)
{
	watchdog(10 * SEC);
	run(churn_main, NULL);
	int64_t tick = goro__slicetimer_tick();
	uint64_t timer = churn_st1.preempt_timer - churn_st0.preempt_timer;
	fprintf(stderr, "slicetimer_watchdog: yield loop watched after %.0f ms; then %llu "
	    "expiries and %.0f sysmon wake-ups in a second; then a hog: %llu stops asked for "
	    "by timers, yielders waited at most %.1f ms\n", churn_watched_after / 1e6,
	    (unsigned long long)churn_fires, churn_rounds_per_s, (unsigned long long)timer,
	    atomic_load(&churn_maxgap) / 1e6);
	/* The hog shares the P: generous, a busy host may add to a slice. */
	ck_assert_msg(atomic_load(&churn_maxgap) < 200 * MS, "a hog kept the yielders off "
	    "the P for %lld ms", (long long)(atomic_load(&churn_maxgap) / MS));
	if (tick <= 0 || 2 * tick > 10 * MS)
		return;	/* a coarse tick: no watchdog, sysmon looks each quantum */
	ck_assert_msg(churn_watched_after >= 0, "the yield loop's P was not watched in 3 s");
	/*
	 * One expiry per tick of the thread's CPU time: 250 a second here
	 * (sysmon then wakes about 35 times a second instead of 100; that is
	 * for bench/sysmoncost to measure, not for a test on a busy host).
	 */
	ck_assert_msg(churn_fires >= 10, "only %llu watchdog expiries in a second",
	    (unsigned long long)churn_fires);
	/* The hog's stops: the watchdog's, then its own slice timer's. */
	ck_assert_msg(timer >= 2, "only %llu stops of the hog asked for by timers in 300 ms",
	    (unsigned long long)timer);
}
END_TEST

/* GORODEBUG=slicetimeroff=1 leaves every slice to sysmon. */
START_TEST(slicetimer_off)
{
	setenv("GORODEBUG", "slicetimeroff=1", 1);
	memset(fair_count, 0, sizeof fair_count);
	watchdog(10 * SEC);
	run(slicetimer_main, NULL);
	unsetenv("GORODEBUG");
	uint64_t async = slice_st1.preempt_async - slice_st0.preempt_async;
	fprintf(stderr, "slicetimer_off: %llu preemptions, sysmon woke %.0f times a second\n",
	    (unsigned long long)async, slice_rounds_per_s);
	ck_assert_msg(async >= 50, "only %llu preemptions in 1.5 s", (unsigned long long)async);
	ck_assert_int_eq(slice_st1.preempt_timer, 0);
	ck_assert(jain(fair_count, FAIR_PER_P) >= 0.9);
}
END_TEST

/* ---- errno is per G across preemption and migration ---------------------- */

#define ERRNO_GS 8
#define ERRNO_ROUNDS 200

struct errno_g {
	int value;
	int bad;		/* rounds that saw another errno */
	int tids;		/* distinct threads it ran on (up to 8) */
	pid_t seen[8];
	goro_wg_t *wg;
};

static void errno_g(void *arg)
{
	struct errno_g *e = arg;

	set_errno(e->value);
	for (int r = 0; r < ERRNO_ROUNDS; r++) {
		spin(200000);		/* call-free: preempted in here */
		if (get_errno() != e->value) {
			e->bad++;
			set_errno(e->value);
		}
		pid_t tid = (pid_t)syscall(SYS_gettid);
		int k;
		for (k = 0; k < e->tids && e->seen[k] != tid; k++)
			;
		if (k == e->tids && e->tids < 8)
			e->seen[e->tids++] = tid;
		set_errno(e->value);	/* syscall() may have set it */
	}
	goro_wg_done(e->wg);
}

static struct errno_g errno_gs[ERRNO_GS];

static void errno_main(void *arg)
{
	goro_wg_t wg = GORO_WG_INIT;

	goro_maxprocs(2);
	ck_assert_int_eq(goro_set_quantum(200 * US), 0);
	for (int i = 0; i < ERRNO_GS; i++) {
		errno_gs[i].value = 1000 + i;
		errno_gs[i].wg = &wg;
		goro_wg_add(&wg, 1);
		spawn(errno_g, &errno_gs[i]);
	}
	set_errno(7);
	goro_wg_wait(&wg);
	ck_assert_int_eq(get_errno(), 7);
}

START_TEST(errno_per_g)
{
	int migrated = 0;

	memset(errno_gs, 0, sizeof errno_gs);
	run(errno_main, NULL);
	for (int i = 0; i < ERRNO_GS; i++) {
		ck_assert_msg(errno_gs[i].bad == 0,
		    "G with errno %d saw another value in %d of %d rounds",
		    errno_gs[i].value, errno_gs[i].bad, ERRNO_ROUNDS);
		if (errno_gs[i].tids > 1)
			migrated++;
	}
	fprintf(stderr, "errno: %d of %d Gs ran on more than one M\n",
	    migrated, ERRNO_GS);
	ck_assert_msg(migrated > 0, "no G migrated between Ms: test proves little");
}
END_TEST

/* ---- goro_preempt_off regions, nesting, deferred preemption ----------------- */

static atomic_int in_region;		/* A is inside a preempt_off region */
static atomic_int saw_region;		/* B ran while A was in it */
static atomic_ullong b_progress;	/* B's heartbeat */
static atomic_int a_done;

static void region_b(void *arg)
{
	while (!atomic_load_explicit(&a_done, memory_order_relaxed) &&
	    !atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (atomic_load_explicit(&in_region, memory_order_relaxed))
			atomic_store(&saw_region, 1);
		atomic_fetch_add_explicit(&b_progress, 1, memory_order_relaxed);
	}
}

/* Spin for ns of wall time without giving anything a safe point but the
 * loop itself (mono() is a vDSO call: not preemptible, but cheap). */
static void spin_for(int64_t ns)
{
	int64_t end = mono() + ns;

	while (mono() < end)
		spin(1000);
}

struct region_result {
	uint64_t async_in_region;	/* preempt_async change inside the regions */
	uint64_t b_before_on, b_after_on;	/* B's heartbeat around the last preempt_on */
	uint64_t b_after_inner_on;	/* ... and after the inner (still off) one */
	uint64_t b_before_inner_on;
	int64_t wait_after_on_ns;	/* until B ran, if not at once */
	int saw;
};
static struct region_result rr;

static void region_a(void *arg)
{
	int nested = arg != NULL;
	goro_stats_t s0, s1;

	goro_preempt_off();
	if (nested)
		goro_preempt_off();
	s0 = stats();			/* A may be preempted up to here */
	atomic_store(&in_region, 1);
	spin_for(30 * MS);		/* 150 quanta */
	if (nested) {
		rr.b_before_inner_on = atomic_load(&b_progress);
		goro_preempt_on();	/* still off: nothing may happen */
		rr.b_after_inner_on = atomic_load(&b_progress);
		spin_for(10 * MS);
	}
	atomic_store(&in_region, 0);
	s1 = stats();
	rr.async_in_region = s1.preempt_async - s0.preempt_async;
	rr.b_before_on = atomic_load(&b_progress);
	goro_preempt_on();		/* the deferred request is taken here */
	rr.b_after_on = atomic_load(&b_progress);
	int64_t t0 = mono();
	while (atomic_load(&b_progress) == rr.b_after_on &&
	    mono() - t0 < 5 * SEC)
		spin(1000);
	rr.wait_after_on_ns = mono() - t0;
	rr.saw = atomic_load(&saw_region);
	atomic_store(&a_done, 1);
}

static void region_main(void *arg)
{
	goro_maxprocs(1);
	ck_assert_int_eq(goro_set_quantum(200 * US), 0);
	spawn(region_a, arg);
	spawn(region_b, NULL);
	while (!atomic_load(&a_done) && !atomic_load(&stop))
		goro_sleep(5 * MS);
}

static void region_test(int nested)
{
	memset(&rr, 0, sizeof rr);
	atomic_store(&in_region, 0);
	atomic_store(&saw_region, 0);
	atomic_store(&b_progress, 0);
	atomic_store(&a_done, 0);
	watchdog(10 * SEC);
	run(region_main, nested ? (void *)1 : NULL);
	fprintf(stderr, "preempt_off%s: preempt_async +%llu in region, "
	    "B ran in region %d, B heartbeat %llu -> %llu across "
	    "goro_preempt_on, then %.3f ms more\n", nested ? " (nested)" : "",
	    (unsigned long long)rr.async_in_region, rr.saw,
	    (unsigned long long)rr.b_before_on,
	    (unsigned long long)rr.b_after_on, rr.wait_after_on_ns / 1e6);
	ck_assert_msg(!rr.saw, "a G ran on the only P inside a "
	    "goro_preempt_off region");
	ck_assert_msg(rr.async_in_region == 0, "preempt_async grew by %llu "
	    "inside a goro_preempt_off region",
	    (unsigned long long)rr.async_in_region);
	if (nested)
		ck_assert_msg(rr.b_after_inner_on == rr.b_before_inner_on,
		    "the inner goro_preempt_on let another G run");
	ck_assert_msg(rr.b_after_on > rr.b_before_on,
	    "the preemption deferred during the region was not taken at "
	    "goro_preempt_on (B ran %.3f ms later)", rr.wait_after_on_ns / 1e6);
}

START_TEST(preempt_off_region)
{
	region_test(0);
}
END_TEST

START_TEST(preempt_off_nested)
{
	region_test(1);
}
END_TEST

/* ---- a loop inside libc is still preempted --------------------------------- */

#define LIBC_BUF (8u << 20)

static void libc_hog(void *arg)
{
	char *a = malloc(LIBC_BUF), *b = malloc(LIBC_BUF);
	unsigned i = 0;

	EXPECT(a != NULL && b != NULL);
	while (a != NULL && b != NULL &&
	    !atomic_load_explicit(&stop, memory_order_relaxed)) {
		memset(a, (int)i++, LIBC_BUF);
		memcpy(b, a, LIBC_BUF);
	}
	free(a);
	free(b);
}

static goro_stats_t libc_s0, libc_s1;

static void libc_main(void *arg)
{
	goro_maxprocs(1);
	spawn(libc_hog, NULL);
	goro_yield();
	libc_s0 = stats();
	int64_t t0 = goro_now();
	goro_sleep(50 * MS);
	slept_ns = goro_now() - t0;
	libc_s1 = stats();
	atomic_store(&stop, 1);
}

START_TEST(libc_loop)
{
	watchdog(5 * SEC);
	run(libc_main, NULL);
	fprintf(stderr, "libc loop: main back after %.1f ms; preempt_async "
	    "+%llu, preempt_redirected +%llu, preempt_deferred +%llu, "
	    "handoffs +%llu\n", slept_ns / 1e6,
	    (unsigned long long)(libc_s1.preempt_async - libc_s0.preempt_async),
	    (unsigned long long)(libc_s1.preempt_redirected -
	    libc_s0.preempt_redirected),
	    (unsigned long long)(libc_s1.preempt_deferred -
	    libc_s0.preempt_deferred),
	    (unsigned long long)(libc_s1.handoffs - libc_s0.handoffs));
	ck_assert_msg(slept_ns < 2 * SEC, "main starved by a memset/memcpy "
	    "loop: back after %lld ms", (long long)(slept_ns / MS));
}
END_TEST

/* ---- the application's own SIGURG handler ----------------------------- */

static atomic_int app_sigurg;

static void app_handler(int sig)
{
	(void)sig;
	atomic_fetch_add(&app_sigurg, 1);
}

static void app_handler_info(int sig, siginfo_t *si, void *ctx)
{
	(void)si;
	(void)ctx;
	app_handler(sig);
}

static void install_app_handler(int siginfo)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (siginfo) {
		sa.sa_flags |= SA_SIGINFO;
		sa.sa_sigaction = app_handler_info;
	} else
		sa.sa_handler = app_handler;
	ck_assert_int_eq(sigaction(SIGURG, &sa, NULL), 0);
}

/* Wait (yielding) until the application handler has run n times. */
static int wait_app(int n)
{
	int64_t end = goro_now() + 2 * SEC;

	while (atomic_load(&app_sigurg) < n && goro_now() < end)
		goro_sleep(1 * MS);
	return atomic_load(&app_sigurg);
}

static void app_signals_main(void *arg)
{
	int after = arg != NULL;
	int n = 0;

	if (after)
		install_app_handler(0);
	/* goro keeps working: a hog on 1 P is preempted, main gets back */
	goro_maxprocs(1);
	ck_assert_int_eq(goro_set_quantum(1 * MS), 0);
	goro_stats_t s0 = stats();
	spawn(hog, NULL);
	goro_yield();
	int64_t t0 = goro_now();
	goro_sleep(50 * MS);
	slept_ns = goro_now() - t0;
	goro_stats_t s1 = stats();
	atomic_store(&stop, 1);
	ck_assert_msg(slept_ns < 2 * SEC, "with an application SIGURG handler "
	    "installed %s goro_run, main starved: %lld ms",
	    after ? "after" : "before", (long long)(slept_ns / MS));
	ck_assert_msg(s1.preempt_async > s0.preempt_async,
	    "no asynchronous preemption with an application handler");
	ck_assert_msg(atomic_load(&app_sigurg) == 0, "the application handler "
	    "got %d of goro's own SIGURGs", atomic_load(&app_sigurg));

	/* the application's own signals reach its handler, and only once */
	ck_assert_int_eq(raise(SIGURG), 0);
	ck_assert_int_eq(wait_app(++n), n);
	ck_assert_int_eq(pthread_kill(pthread_self(), SIGURG), 0);
	ck_assert_int_eq(wait_app(++n), n);
	ck_assert_int_eq(kill(getpid(), SIGURG), 0);
	ck_assert_int_eq(wait_app(++n), n);
	pid_t pid = fork();		/* from outside the process */
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		kill(getppid(), SIGURG);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(GORO_SYSCALL(waitpid(pid, &status, 0)), pid);
	ck_assert_int_eq(wait_app(++n), n);

	/* and goro still preempts afterwards */
	atomic_store(&stop, 0);
	s0 = stats();
	spawn(hog, NULL);
	goro_yield();
	goro_sleep(20 * MS);
	s1 = stats();
	atomic_store(&stop, 1);
	ck_assert_msg(s1.preempt_async > s0.preempt_async,
	    "no preemption after the application's signals");
	ck_assert_int_eq(atomic_load(&app_sigurg), n);
}

START_TEST(app_sigurg_before)
{
	atomic_store(&app_sigurg, 0);
	install_app_handler(1);
	watchdog(10 * SEC);
	run(app_signals_main, NULL);
}
END_TEST

START_TEST(app_sigurg_after)
{
	atomic_store(&app_sigurg, 0);
	watchdog(10 * SEC);
	run(app_signals_main, (void *)1);
}
END_TEST

/* ---- exactness under a 100 us quantum on 2 Ps -------------------------------- */

#define EX_SPAWNERS 8
#define EX_CHILDREN 200
#define EX_LOCKS 2000
#define EX_SLEEPERS 16

static atomic_long ex_spawned;
static long ex_counter;			/* under ex_mu */
static goro_mutex_t ex_mu = GORO_MUTEX_INIT;
static atomic_int ex_sleep_bad;
static int64_t ex_sleep_worst;

static void ex_child(void *arg)
{
	goro_wg_t *wg = arg;

	atomic_fetch_add(&ex_spawned, 1);
	goro_wg_done(wg);
}

static void ex_spawner(void *arg)
{
	goro_wg_t *outer = arg;
	goro_wg_t wg = GORO_WG_INIT;

	goro_wg_add(&wg, EX_CHILDREN);
	for (int i = 0; i < EX_CHILDREN; i++)
		spawn(ex_child, &wg);
	goro_wg_wait(&wg);
	for (int i = 0; i < EX_LOCKS; i++) {
		goro_mutex_lock(&ex_mu);
		long v = ex_counter;
		spin(500);		/* preempted inside the lock, often */
		ex_counter = v + 1;
		goro_mutex_unlock(&ex_mu);
	}
	goro_wg_done(outer);
}

static void ex_sleeper(void *arg)
{
	goro_wg_t *wg = arg;

	for (int i = 0; i < 10; i++) {
		int64_t d = (1 + i % 3) * MS;
		int64_t t0 = goro_now();
		goro_sleep(d);
		int64_t late = goro_now() - t0 - d;
		if (late < 0)
			atomic_fetch_add(&ex_sleep_bad, 1);
		if (late > ex_sleep_worst)
			ex_sleep_worst = late;	/* racy max: diagnostics only */
	}
	goro_wg_done(wg);
}

static void exact_main(void *arg)
{
	goro_wg_t wg = GORO_WG_INIT;

	goro_maxprocs(2);
	ck_assert_int_eq(goro_set_quantum(100 * US), 0);
	ck_assert_int_eq(goro_get_quantum(), 100 * US);
	spawn(hog, NULL);		/* two hogs keep the Ps busy */
	spawn(hog, NULL);
	goro_wg_add(&wg, EX_SPAWNERS + EX_SLEEPERS);
	for (int i = 0; i < EX_SPAWNERS; i++)
		spawn(ex_spawner, &wg);
	for (int i = 0; i < EX_SLEEPERS; i++)
		spawn(ex_sleeper, &wg);
	goro_wg_wait(&wg);
	atomic_store(&stop, 1);
}

START_TEST(exact_under_100us)
{
	atomic_store(&ex_spawned, 0);
	ex_counter = 0;
	atomic_store(&ex_sleep_bad, 0);
	ex_sleep_worst = 0;
	watchdog(60 * SEC);
	run(exact_main, NULL);
	fprintf(stderr, "exact: spawned %ld, counter %ld, sleeps early %d, "
	    "latest %.2f ms late\n", atomic_load(&ex_spawned), ex_counter,
	    atomic_load(&ex_sleep_bad), ex_sleep_worst / 1e6);
	ck_assert_int_eq(atomic_load(&ex_spawned), EX_SPAWNERS * EX_CHILDREN);
	ck_assert_int_eq(ex_counter, EX_SPAWNERS * EX_LOCKS);
	ck_assert_int_eq(atomic_load(&ex_sleep_bad), 0);
	ck_assert_msg(ex_sleep_worst < 2 * SEC, "a sleep came back %lld ms "
	    "late", (long long)(ex_sleep_worst / MS));
}
END_TEST

/* ---- GORODEBUG=asyncpreemptoff=1 ---------------------------------------- */

static int64_t apo_hog_end, apo_main_woke;
static goro_stats_t apo_s0, apo_s1;

static void apo_hog(void *arg)
{
	int64_t end = mono() + 300 * MS;	/* bounded, call-free between */

	while (mono() < end)
		spin(10000);
	apo_hog_end = mono();
}

static void apo_main(void *arg)
{
	goro_maxprocs(1);
	apo_s0 = stats();
	spawn(apo_hog, NULL);
	goro_yield();
	goro_sleep(50 * MS);
	apo_main_woke = mono();
	apo_s1 = stats();
}

START_TEST(asyncpreemptoff)
{
	ck_assert_int_eq(setenv("GORODEBUG", "asyncpreemptoff=1", 1), 0);
	watchdog(10 * SEC);
	run(apo_main, NULL);
	fprintf(stderr, "asyncpreemptoff: preempt_async +%llu, main woke "
	    "%.1f ms after the hog ended\n",
	    (unsigned long long)(apo_s1.preempt_async - apo_s0.preempt_async),
	    (apo_main_woke - apo_hog_end) / 1e6);
	ck_assert_int_eq(apo_s1.preempt_async - apo_s0.preempt_async, 0);
	ck_assert_msg(apo_hog_end != 0 && apo_main_woke >= apo_hog_end,
	    "main ran before the hog ended: preemption was not off");
}
END_TEST

/* ---- schedtrace and scheddetail lines parse --------------------------------- */

#define RE_NUM "(-?[0-9]+)"
static const char re_summary[] =
    "^SCHED ([0-9]+)ms: gomaxprocs=([0-9]+) idleprocs=([0-9]+) "
    "threads=([0-9]+) spinningthreads=([0-9]+) idlethreads=([0-9]+) "
    "runqueue=([0-9]+) \\[([0-9]+( [0-9]+)*)\\]$";
static const char re_detail[] =
    "^SCHED ([0-9]+)ms: gomaxprocs=([0-9]+) idleprocs=([0-9]+) "
    "threads=([0-9]+) spinningthreads=([0-9]+) idlethreads=([0-9]+) "
    "runqueue=([0-9]+) gcwaiting=0 nmidlelocked=([0-9]+) "
    "stopwait=([0-9]+) sysmonwait=([0-9]+)$";
static const char re_p[] =
    "^  P([0-9]+): status=([0-4]) schedtick=([0-9]+) syscalltick=([0-9]+) "
    "m=" RE_NUM " runqsize=([0-9]+) gfreecnt=([0-9]+)( timerslen=[0-9]+)?$";
static const char re_m[] =
    "^  M([0-9]+): p=" RE_NUM " curg=" RE_NUM " mallocing=0 throwing=0 "
    "preemptoff=[^ ]* locks=([0-9]+) dying=([0-9]+)( helpgc=0)? "
    "spinning=(true|false) blocked=(true|false) lockedg=" RE_NUM "$";
static const char re_g[] =
    "^  G([0-9]+): status=(0|1|2|3|4|6|9)\\(([^)]*)\\) m=" RE_NUM
    " lockedm=" RE_NUM "$";

static regex_t rx_summary, rx_detail, rx_p, rx_m, rx_g;

static void compile_res(void)
{
	ck_assert_int_eq(regcomp(&rx_summary, re_summary, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&rx_detail, re_detail, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&rx_p, re_p, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&rx_m, re_m, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&rx_g, re_g, REG_EXTENDED), 0);
}

struct trace_counts {
	int summary, detail, p, m, g;
	int bad;
	int self_running;	/* a G line: the given goid, status 2 */
	long last_ms;
	int ms_backwards;
};

/* Check every line of text; count what was seen. */
static void parse_trace(char *text, int64_t self, struct trace_counts *tc)
{
	char *save = NULL;
	int maxprocs = -1, plines = 0;

	memset(tc, 0, sizeof *tc);
	tc->last_ms = -1;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		int gp, ms, np;
		long long goid;
		unsigned st;

		if (regexec(&rx_summary, line, 0, NULL, 0) == 0) {
			ck_assert_int_eq(sscanf(line, "SCHED %dms: gomaxprocs=%d",
			    &ms, &gp), 2);
			np = 1;
			for (const char *c = strchr(line, '['); *c; c++)
				np += *c == ' ';
			ck_assert_msg(np == gp, "%d run queue lengths for "
			    "gomaxprocs=%d: %s", np, gp, line);
			tc->summary++;
		} else if (regexec(&rx_detail, line, 0, NULL, 0) == 0) {
			ck_assert_msg(maxprocs < 0 || plines == maxprocs,
			    "%d P lines for gomaxprocs=%d", plines, maxprocs);
			ck_assert_int_eq(sscanf(line, "SCHED %dms: gomaxprocs=%d",
			    &ms, &gp), 2);
			maxprocs = gp;
			plines = 0;
			tc->detail++;
		} else if (regexec(&rx_p, line, 0, NULL, 0) == 0) {
			plines++;
			tc->p++;
			continue;
		} else if (regexec(&rx_m, line, 0, NULL, 0) == 0) {
			tc->m++;
			continue;
		} else if (regexec(&rx_g, line, 0, NULL, 0) == 0) {
			ck_assert_int_eq(sscanf(line, "  G%lld: status=%u",
			    &goid, &st), 2);
			if (goid == self && st == 2)
				tc->self_running++;
			tc->g++;
			continue;
		} else {
			fprintf(stderr, "schedtrace: unparsed line: \"%s\"\n",
			    line);
			tc->bad++;
			continue;
		}
		if (ms < tc->last_ms)
			tc->ms_backwards++;
		tc->last_ms = ms;
	}
	if (maxprocs >= 0)
		ck_assert_msg(plines == maxprocs, "%d P lines for "
		    "gomaxprocs=%d", plines, maxprocs);
}

/* Everything readable from fd (non-blocking pipe or file at offset 0). */
static char *slurp(int fd)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	ck_assert_ptr_nonnull(buf);
	while ((r = read(fd, buf + n, cap - n - 1)) > 0) {
		n += (size_t)r;
		if (cap - n < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
	}
	buf[n] = '\0';
	return buf;
}

static void schedtrace_call_main(void *arg)
{
	int fds[2];
	struct trace_counts tc;

	goro_maxprocs(2);
	spawn(hog, NULL);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);

	ck_assert_int_eq(goro_schedtrace(fds[1], 0), 0);
	char *s = slurp(fds[0]);
	parse_trace(s, goro_self(), &tc);
	ck_assert_msg(tc.summary == 1 && tc.bad == 0 && tc.detail == 0,
	    "goro_schedtrace(fd, 0) wrote: \"%s\"", s);
	free(s);

	ck_assert_int_eq(goro_schedtrace(fds[1], 1), 0);
	s = slurp(fds[0]);
	parse_trace(s, goro_self(), &tc);
	ck_assert_msg(tc.bad == 0, "goro_schedtrace(fd, 1): unparsed lines");
	ck_assert_int_eq(tc.detail, 1);
	ck_assert_int_eq(tc.p, 2);
	ck_assert_int_ge(tc.m, 1);
	ck_assert_int_ge(tc.g, 2);
	ck_assert_msg(tc.self_running == 1, "no \"G%lld: status=2()\" line "
	    "for the calling G in: %s", (long long)goro_self(), s);
	free(s);

	errno = 0;
	ck_assert_int_eq(goro_schedtrace(-1, 0), -1);
	ck_assert_int_ne(errno, 0);
	close(fds[0]);
	close(fds[1]);
	atomic_store(&stop, 1);
}

START_TEST(schedtrace_call)
{
	compile_res();
	watchdog(10 * SEC);
	run(schedtrace_call_main, NULL);
}
END_TEST

static void sleep_main(void *arg)
{
	goro_maxprocs(2);
	spawn(hog, NULL);
	goro_sleep(400 * MS);
	atomic_store(&stop, 1);
}

/* GORODEBUG=schedtrace=50[,scheddetail=1]: sysmon writes to stderr. */
static void schedtrace_env(int detail)
{
	char path[] = "/tmp/check_preempt_traceXXXXXX";
	int fd = mkstemp(path), saved;
	struct trace_counts tc;

	compile_res();
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(setenv("GORODEBUG", detail ?
	    "schedtrace=50,scheddetail=1" : "schedtrace=50", 1), 0);
	watchdog(10 * SEC);
	fflush(stderr);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	run(sleep_main, NULL);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	char *s = slurp(fd);
	close(fd);
	parse_trace(s, -1, &tc);
	fprintf(stderr, "schedtrace env%s: %d summary, %d detail headers, "
	    "%d P, %d M, %d G lines, %d unparsed\n", detail ? " (detail)" : "",
	    tc.summary, tc.detail, tc.p, tc.m, tc.g, tc.bad);
	ck_assert_msg(tc.bad == 0, "unparsed schedtrace lines in: %s", s);
	ck_assert_msg(tc.ms_backwards == 0, "SCHED times went backwards");
	if (detail) {
		ck_assert_msg(tc.detail >= 3, "%d SCHED lines in 400 ms at "
		    "50 ms: %s", tc.detail, s);
		ck_assert_int_eq(tc.summary, 0);	/* P lines: parse_trace */
		ck_assert_int_ge(tc.m, tc.detail);
		ck_assert_int_ge(tc.g, tc.detail);
	} else {
		ck_assert_msg(tc.summary >= 3, "%d SCHED lines in 400 ms at "
		    "50 ms: %s", tc.summary, s);
		ck_assert_int_eq(tc.detail + tc.p + tc.m + tc.g, 0);
	}
	free(s);
}

START_TEST(schedtrace_env_summary)
{
	schedtrace_env(0);
}
END_TEST

START_TEST(schedtrace_env_detail)
{
	schedtrace_env(1);
}
END_TEST

/* ---- goro_set_quantum limits -------------------------------------------- */

static void quantum_main(void *arg)
{
	int64_t q0 = goro_get_quantum();

	ck_assert_int_eq(q0, 10 * MS);	/* the default */
	errno = 0;
	ck_assert_int_eq(goro_set_quantum(100 * US - 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(goro_set_quantum(0), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(goro_set_quantum(-1), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(goro_set_quantum(10 * SEC + 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(goro_get_quantum(), q0);	/* unchanged */
	ck_assert_int_eq(goro_set_quantum(100 * US), 0);
	ck_assert_int_eq(goro_get_quantum(), 100 * US);
	ck_assert_int_eq(goro_set_quantum(10 * SEC), 0);
	ck_assert_int_eq(goro_get_quantum(), 10 * SEC);
	ck_assert_int_eq(goro_set_quantum(q0), 0);
}

START_TEST(set_quantum_limits)
{
	unsetenv("GOROQUANTUM");
	run(quantum_main, NULL);
}
END_TEST

/* ---- suite -------------------------------------------------------------- */

static Suite *preempt_suite(void)
{
	Suite *s = suite_create("preempt");

	ADD_TCASE(s, nostarve, 30);
	ADD_TCASE(s, fairness_1p, 30);
	ADD_TCASE(s, fairness_2p, 30);
	ADD_TCASE(s, slicetimer, 30);
	ADD_TCASE(s, slicetimer_off, 30);
	ADD_TCASE(s, slicetimer_watchdog, 30);
	ADD_TCASE(s, errno_per_g, 60);
	ADD_TCASE(s, preempt_off_region, 30);
	ADD_TCASE(s, preempt_off_nested, 30);
	ADD_TCASE(s, libc_loop, 30);
	ADD_TCASE(s, app_sigurg_before, 30);
	ADD_TCASE(s, app_sigurg_after, 30);
	ADD_TCASE(s, exact_under_100us, 120);
	ADD_TCASE(s, asyncpreemptoff, 30);
	ADD_TCASE(s, schedtrace_call, 30);
	ADD_TCASE(s, schedtrace_env_summary, 30);
	ADD_TCASE(s, schedtrace_env_detail, 30);
	ADD_TCASE(s, set_quantum_limits, 30);
	return s;
}

int main(void)
{
	return goro_test_main(preempt_suite());
}
