/*
 * check_sched.c - the scheduler seen through the public API.
 *
 * Spawning and joining at scale, nested spawning, goro_exit, the order of
 * goro_yield on one P, changing the number of Ps while Gs run, goroutine
 * ids, abandoned Gs, running the runtime twice, errno per G, sleeping,
 * and an idle program staying idle.
 *
 * Check runs every test in a forked child, so each test starts its own
 * runtime with goro_run() and may set GOROMAXPROCS first.  Timing
 * assertions are about behaviour, with bounds several times what an idle
 * machine needs: CI is a loaded 2-core box.
 */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "goro.h"
#include "goro_test.h"

/* ---- helpers ---------------------------------------------------------- */

static void
spawn(void (*fn)(void *), void *arg)
{
	ck_assert_int_gt(goro_go(fn, arg), 0);
}

/* Yield until stats.goroutines is n (Gs past wg_done may still be exiting). */
static void
wait_goroutines(int64_t n)
{
	goro_stats_t st;
	int64_t deadline = goro_now() + 10000 * MS;

	for (;;) {
		ck_assert_int_eq(goro_stats(&st), 0);
		if (st.goroutines == n)
			return;
		ck_assert_msg(goro_now() < deadline, "%lld goroutines live, want %lld",
		    (long long)st.goroutines, (long long)n);
		goro_sleep(MS);
	}
}

/* ---- a million goroutines ------------------------------------------------ */

enum { MILLION = 1000000 };

static _Atomic long counter;
static goro_wg_t wg;

static void
count_g(void *arg)
{
	atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
	goro_wg_done(&wg);
}

static void
million_main(void *arg)
{
	goro_wg_init(&wg);
	goro_maxprocs(2);
	goro_wg_add(&wg, MILLION);
	for (int i = 0; i < MILLION; i++)
		ck_assert_int_gt(goro_go(count_g, NULL), 0);
	goro_wg_wait(&wg);
	ck_assert_int_eq(counter, MILLION);
	wait_goroutines(1);
}

START_TEST(test_million)
{
	run(million_main, NULL);
	ck_assert_int_eq(counter, MILLION);
}
END_TEST

/* ---- nested spawning -------------------------------------------------- */

enum { DEPTH = 12, FANOUT = 2 };

static void
node_g(void *arg)
{
	intptr_t depth = (intptr_t)arg;

	atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
	if (depth < DEPTH) {
		/* Add before our own done, so the count never touches zero early. */
		goro_wg_add(&wg, FANOUT);
		for (int i = 0; i < FANOUT; i++)
			spawn(node_g, (void *)(depth + 1));
	}
	goro_wg_done(&wg);
}

static void
tree_main(void *arg)
{
	long want = 0;

	for (int d = 0, n = 1; d <= DEPTH; d++, n *= FANOUT)
		want += n;
	goro_wg_init(&wg);
	goro_wg_add(&wg, 1);
	spawn(node_g, (void *)(intptr_t)0);
	goro_wg_wait(&wg);
	ck_assert_int_eq(counter, want);	/* 2^13 - 1 */
	wait_goroutines(1);
}

START_TEST(test_nested)
{
	run_procs(_i + 1, tree_main, NULL);
}
END_TEST

/* ---- an idle P takes work that waits ------------------------------------ */

/*
 * Thieves leave a P's young work alone for a few tens of microseconds
 * (patient stealing, sched.c) but take work that stays.  On 2 Ps with a
 * 1 s quantum, main starts two call-free loops and waits: the second can
 * only run if the idle P steals it, since the first never gives its P
 * up.  Each waits for the other to start; both must have started within
 * 500 ms (it takes well under a millisecond).
 */
static _Atomic int par_started;
static _Atomic int64_t par_both;

static void
par_hog(void *arg)
{
	atomic_fetch_add(&par_started, 1);
	while (atomic_load_explicit(&par_started, memory_order_relaxed) < 2)
		;	/* call-free: only a steal (or preemption) lets the other run */
	int64_t zero = 0;
	atomic_compare_exchange_strong(&par_both, &zero, goro_now());
	goro_wg_done(&wg);
}

static void
par_main(void *arg)
{
	goro_maxprocs(2);
	EXPECT(goro_set_quantum(1000000000LL) == 0);
	goro_wg_init(&wg);
	goro_wg_add(&wg, 2);
	int64_t t0 = goro_now();
	spawn(par_hog, NULL);
	spawn(par_hog, NULL);
	goro_wg_wait(&wg);
	double ms = (atomic_load(&par_both) - t0) / 1e6;
	fprintf(stderr, "steal: both call-free loops running %.3f ms after the spawns\n", ms);
	EXPECT(ms < 500);
}

START_TEST(test_steal_waiting)
{
	run(par_main, NULL);
}
END_TEST

/* ---- a spawner of long goroutines is not held up ------------------------- */

/*
 * goro_go steps aside when more than 64 goroutines wait on its P (so that
 * short ones run on warm stacks), but a spawner whose stepping aside took
 * over a millisecond stops doing so.  On 1 P at the default 10 ms
 * quantum, main starts 300 call-free loops: the first time it steps
 * aside it waits a quantum or so (a loop runs until preempted; then the
 * P takes the oldest of its ring, main, as it does once a millisecond);
 * after that it must start the rest at once, within a second in all.
 * Stepping aside every time would cost a quantum per goroutine, 2.4 s.
 */
enum { LONG_GS = 300 };
static _Atomic int long_stop;

static void
long_g(void *arg)
{
	while (!atomic_load_explicit(&long_stop, memory_order_relaxed))
		;
	goro_wg_done(&wg);
}

static void
long_main(void *arg)
{
	goro_maxprocs(1);
	goro_wg_init(&wg);
	goro_wg_add(&wg, LONG_GS);
	int64_t t0 = goro_now();
	for (int i = 0; i < LONG_GS; i++)
		spawn(long_g, NULL);
	double ms = (goro_now() - t0) / 1e6;
	atomic_store(&long_stop, 1);
	goro_wg_wait(&wg);
	fprintf(stderr, "spawner of long Gs: %d started in %.1f ms\n", LONG_GS, ms);
	EXPECT(ms < 1000);
}

START_TEST(test_spawn_long)
{
	run(long_main, NULL);
}
END_TEST

/* ---- goro_exit ---------------------------------------------------------- */

static _Atomic int before_exit, after_exit, after_call;

static __attribute__((noinline)) void
leave(void)
{
	atomic_fetch_add(&before_exit, 1);
	goro_wg_done(&wg);
	goro_exit();
	atomic_fetch_add(&after_exit, 1);	/* never */
}

static void
exit_g(void *arg)
{
	volatile char frame[512];	/* something on the stack to abandon */

	frame[0] = 1;
	if ((intptr_t)arg % 2)
		goro_yield();
	leave();
	atomic_fetch_add(&after_call, frame[0]);	/* never */
}

static void
exit_main(void *arg)
{
	enum { N = 100 };

	goro_wg_init(&wg);
	goro_wg_add(&wg, N);
	for (intptr_t i = 0; i < N; i++)
		spawn(exit_g, (void *)i);
	goro_wg_wait(&wg);
	/* Their ends are really ends: they die, and nothing after runs. */
	wait_goroutines(1);
	goro_sleep(20 * MS);
	ck_assert_int_eq(before_exit, N);
	ck_assert_int_eq(after_exit, 0);
	ck_assert_int_eq(after_call, 0);
	/* Dead Gs are reused: spawning again works. */
	goro_wg_add(&wg, N);
	for (intptr_t i = 0; i < N; i++)
		spawn(exit_g, (void *)i);
	goro_wg_wait(&wg);
	wait_goroutines(1);
	ck_assert_int_eq(before_exit, 2 * N);
	ck_assert_int_eq(after_exit, 0);
}

START_TEST(test_exit)
{
	run_procs(_i + 1, exit_main, NULL);
}
END_TEST

static void
exit_main_g(void *arg)
{
	goro_wg_init(&wg);
	goro_wg_add(&wg, 1);
	atomic_store(&before_exit, 0);
	leave();
}

START_TEST(test_exit_main)
{
	/* goro_exit in the main goroutine ends it: goro_run returns 0. */
	run_procs(_i + 1, exit_main_g, NULL);
	ck_assert_int_eq(before_exit, 1);
	ck_assert_int_eq(after_exit, 0);
}
END_TEST

/* ---- round-robin yield on 1 P ------------------------------------------- */

enum { RR_GS = 3, RR_ROUNDS = 200 };

static int64_t rr_log[RR_GS * RR_ROUNDS];
static _Atomic int rr_n;

static void
rr_g(void *arg)
{
	int64_t me = goro_self();

	for (int i = 0; i < RR_ROUNDS; i++) {
		rr_log[atomic_fetch_add(&rr_n, 1)] = me;
		goro_yield();
	}
	goro_wg_done(&wg);
}

static void
rr_main(void *arg)
{
	int64_t ids[RR_GS];
	int n;

	ck_assert_int_eq(goro_maxprocs(0), 1);
	goro_wg_init(&wg);
	goro_wg_add(&wg, RR_GS);
	for (int i = 0; i < RR_GS; i++) {
		ids[i] = goro_go(rr_g, NULL);
		ck_assert_int_gt(ids[i], 0);
	}
	goro_wg_wait(&wg);
	n = atomic_load(&rr_n);
	ck_assert_int_eq(n, RR_GS * RR_ROUNDS);
	/* The first round: each G once. */
	for (int i = 0; i < RR_GS; i++) {
		int seen = 0;

		for (int j = 0; j < RR_GS; j++)
			seen += rr_log[j] == ids[i];
		ck_assert_msg(seen == 1, "G %lld ran %d times in the first round",
		    (long long)ids[i], seen);
	}
	/* Then strictly cyclic. */
	for (int i = RR_GS; i < n; i++)
		ck_assert_msg(rr_log[i] == rr_log[i - RR_GS],
		    "entry %d: G %lld, want G %lld (not round-robin)", i,
		    (long long)rr_log[i], (long long)rr_log[i - RR_GS]);
}

START_TEST(test_round_robin)
{
	run_procs(1, rr_main, NULL);
}
END_TEST

/* ---- changing maxprocs while running ------------------------------------ */

enum { MP_WORKERS = 64, MP_ITERS = 4000 };

static void
mp_worker(void *arg)
{
	for (int i = 0; i < MP_ITERS; i++) {
		atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
		if (i % 16 == 0)
			goro_yield();
		if (i % 1000 == 999)
			goro_sleep(MS / 2);
	}
	goro_wg_done(&wg);
}

/* A worker that never yields: it must still let maxprocs shrink. */
static _Atomic bool spin_stop;

static void
mp_spinner(void *arg)
{
	while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
		;
	goro_wg_done(&wg);
}

static void
check_procs(int n)
{
	goro_stats_t st;

	ck_assert_int_eq(goro_maxprocs(0), n);
	ck_assert_int_eq(goro_stats(&st), 0);
	ck_assert_int_eq(st.maxprocs, n);
	ck_assert_int_le(st.idleprocs, n);
}

/* arg non-NULL: a spinner that never yields runs through the changes too. */
static void
maxprocs_main(void *arg)
{
	static const int steps[] = { 2, 1, 2, 1, 2, 3, 1, 2 };
	int cur;
	int nspin = arg != NULL;

	goro_wg_init(&wg);
	cur = goro_maxprocs(2);
	ck_assert_int_gt(cur, 0);
	cur = 2;
	check_procs(2);
	goro_wg_add(&wg, MP_WORKERS + nspin);
	for (int i = 0; i < MP_WORKERS; i++)
		spawn(mp_worker, NULL);
	if (nspin)
		spawn(mp_spinner, NULL);
	for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
		long c0 = atomic_load(&counter);

		ck_assert_int_eq(goro_maxprocs(steps[k]), cur);
		cur = steps[k];
		check_procs(cur);
		goro_sleep(20 * MS);
		check_procs(cur);
		/* Work goes on with this many Ps. */
		int64_t deadline = goro_now() + 10000 * MS;
		while (atomic_load(&counter) == c0 && atomic_load(&counter) < MP_WORKERS * MP_ITERS) {
			ck_assert_msg(goro_now() < deadline, "no progress with %d Ps", cur);
			goro_sleep(MS);
		}
	}
	atomic_store(&spin_stop, true);
	goro_wg_wait(&wg);
	ck_assert_int_eq(counter, MP_WORKERS * MP_ITERS);
	ck_assert_int_eq(goro_maxprocs(1), cur);
	check_procs(1);
	wait_goroutines(1);
	/* And spawning still works on what is left. */
	goro_wg_add(&wg, 100);
	for (int i = 0; i < 100; i++)
		spawn(count_g, NULL);
	goro_wg_wait(&wg);
	ck_assert_int_eq(counter, MP_WORKERS * MP_ITERS + 100);
}

START_TEST(test_maxprocs_change)
{
	/* 0: Gs that yield and sleep.  1: plus one that never yields. */
	run(maxprocs_main, _i ? (void *)1 : NULL);
}
END_TEST

/* ---- goroutine ids ------------------------------------------------------ */

enum { NIDS = 1000 };

static int64_t ids_spawned[NIDS], ids_self[NIDS];

static void
id_g(void *arg)
{
	ids_self[(intptr_t)arg] = goro_self();
	goro_wg_done(&wg);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
ids_main(void *arg)
{
	int64_t me = goro_self();

	ck_assert_int_eq(me, 1);	/* main_fn runs as goroutine 1 */
	goro_wg_init(&wg);
	goro_wg_add(&wg, NIDS);
	for (intptr_t i = 0; i < NIDS; i++) {
		ids_spawned[i] = goro_go(id_g, (void *)i);
		ck_assert_int_gt(ids_spawned[i], 0);
		if (i % 100 == 0)
			goro_yield();	/* let some die, so Gs are reused */
	}
	goro_wg_wait(&wg);
	ck_assert_int_eq(goro_self(), me);
	for (int i = 0; i < NIDS; i++) {
		ck_assert_int_eq(ids_self[i], ids_spawned[i]);
		ck_assert_int_ne(ids_self[i], me);
	}
	qsort(ids_self, NIDS, sizeof ids_self[0], cmp64);
	ck_assert_int_gt(ids_self[0], 0);
	for (int i = 1; i < NIDS; i++)
		ck_assert_msg(ids_self[i] != ids_self[i - 1], "id %lld used twice",
		    (long long)ids_self[i]);
}

START_TEST(test_ids)
{
	ck_assert_int_eq(goro_self(), 0);
	run_procs(_i + 1, ids_main, NULL);
	ck_assert_int_eq(goro_self(), 0);
}
END_TEST

/* ---- abandoned goroutines ----------------------------------------------- */

static _Atomic int abandoned_started;

static void
blocked_g(void *arg)
{
	static goro_wg_t never = GORO_WG_INIT;

	goro_wg_add(&never, 1);
	atomic_fetch_add(&abandoned_started, 1);
	goro_wg_wait(&never);
	ck_abort_msg("a never-signalled wait group released its waiter");
}

static void
yielder_g(void *arg)
{
	atomic_fetch_add(&abandoned_started, 1);
	for (;;)
		goro_yield();
}

static void
spinner_g(void *arg)
{
	atomic_fetch_add(&abandoned_started, 1);
	for (;;)
		__asm__ volatile("" ::: "memory");
}

static void
sleeper_g(void *arg)
{
	atomic_fetch_add(&abandoned_started, 1);
	goro_sleep(3600 * 1000 * MS);
}

static void (*const abandon_fns[])(void *) = { blocked_g, yielder_g, spinner_g, sleeper_g };

static void
abandon_main(void *arg)
{
	void (*fn)(void *) = abandon_fns[(intptr_t)arg];
	int64_t deadline = goro_now() + 10000 * MS;

	spawn(fn, NULL);
	spawn(fn, NULL);
	while (atomic_load(&abandoned_started) < 2) {
		ck_assert_msg(goro_now() < deadline, "the Gs never started");
		goro_sleep(MS);
	}
	goro_sleep(10 * MS);
	/* Return with both still alive. */
}

START_TEST(test_abandoned)
{
	int64_t t0 = goro_now();

	atomic_store(&abandoned_started, 0);
	run_procs(2, abandon_main, (void *)(intptr_t)_i);
	ck_assert_int_eq(abandoned_started, 2);
	/* Promptly: nobody waits for the abandoned Gs. */
	ck_assert_int_lt(goro_now() - t0, 5000 * MS);
}
END_TEST

/* ---- goro_run twice --------------------------------------------------- */

/* arg: 0 abandon nothing, 1 a blocked G, 2 two Gs spinning in user code. */
static void
twice_main(void *arg)
{
	intptr_t what = (intptr_t)arg;

	goro_wg_init(&wg);
	goro_wg_add(&wg, 1000);
	for (int i = 0; i < 1000; i++)
		spawn(count_g, NULL);
	goro_wg_wait(&wg);
	if (what == 1)
		spawn(blocked_g, NULL);
	if (what == 2) {
		int64_t deadline = goro_now() + 10000 * MS;

		/* Running on two Ms (3 Ps: this G keeps the third) when main returns. */
		atomic_store(&abandoned_started, 0);
		spawn(spinner_g, NULL);
		spawn(spinner_g, NULL);
		while (atomic_load(&abandoned_started) < 2) {
			ck_assert_msg(goro_now() < deadline, "the spinners never started");
			goro_sleep(MS);
		}
	}
	goro_sleep(5 * MS);
}

START_TEST(test_run_twice)
{
	/*
	 * 0: clean runs.  1: each run abandons a blocked G.  2: each run
	 * abandons two Gs that never yield, running on other threads when
	 * main returns; no runtime is running after goro_run returns, so
	 * the next one must start all the same.
	 */
	ck_assert_int_eq(setenv("GOROMAXPROCS", "3", 1), 0);
	for (int k = 0; k < 3; k++) {
		int rc;

		atomic_store(&counter, 0);
		ERRNO = 0;
		rc = goro_run(twice_main, (void *)(intptr_t)_i);
		ck_assert_msg(rc == 0, "run %d: goro_run returned %d (errno %d: %s)",
		    k + 1, rc, ERRNO, strerror(ERRNO));
		ck_assert_int_eq(counter, 1000);
		ck_assert_int_eq(goro_self(), 0);
	}
}
END_TEST

/* ---- errno per G -------------------------------------------------------- */

enum { ERR_GS = 4, ERR_YIELDS = 20000 };

static _Atomic int errno_bad;

static void
errno_g(void *arg)
{
	int mine = 1000 + (int)(intptr_t)arg;

	ERRNO = mine;
	for (int i = 0; i < ERR_YIELDS; i++) {
		if (i % 1000 == 500)
			goro_sleep(100 * 1000);		/* parks and wakes, maybe elsewhere */
		else
			goro_yield();
		if (ERRNO != mine) {
			atomic_fetch_add(&errno_bad, 1);
			ERRNO = mine;
		}
	}
	goro_wg_done(&wg);
}

static void
errno_main(void *arg)
{
	goro_wg_init(&wg);
	goro_wg_add(&wg, ERR_GS);
	ERRNO = 7;
	for (intptr_t i = 0; i < ERR_GS; i++)
		spawn(errno_g, (void *)i);
	goro_wg_wait(&wg);
	ck_assert_int_eq(ERRNO, 7);
	ck_assert_int_eq(errno_bad, 0);
}

START_TEST(test_errno)
{
	run_procs(_i + 1, errno_main, NULL);
}
END_TEST

/* ---- sleep ------------------------------------------------------------ */

enum { SLEEPERS = 10 };

static _Atomic int sleep_bad;

static void
sleeper_check(void *arg)
{
	int64_t d = (intptr_t)arg * MS;

	for (int k = 0; k < 3; k++) {
		int64_t t0 = goro_now();

		ck_assert_int_eq(goro_sleep(d), 0);
		int64_t took = goro_now() - t0;
		if (took < d || took >= d + 200 * MS) {
			fprintf(stderr, "goro_sleep(%lld ms) took %.3f ms\n",
			    (long long)(d / MS), (double)took / MS);
			atomic_fetch_add(&sleep_bad, 1);
		}
	}
	goro_wg_done(&wg);
}

static void
sleep_main(void *arg)
{
	int64_t t0, took;

	/* The main G itself. */
	for (int k = 0; k < 5; k++) {
		t0 = goro_now();
		ck_assert_int_eq(goro_sleep(20 * MS), 0);
		took = goro_now() - t0;
		ck_assert_msg(took >= 20 * MS, "goro_sleep(20ms) took %lld ns", (long long)took);
		ck_assert_msg(took < 220 * MS, "goro_sleep(20ms) took %lld ns", (long long)took);
	}
	/* Zero and negative: at once. */
	t0 = goro_now();
	ck_assert_int_eq(goro_sleep(0), 0);
	ck_assert_int_eq(goro_sleep(-1), 0);
	ck_assert_int_eq(goro_sleep(-1000 * MS), 0);
	ck_assert_int_eq(goro_sleep(INT64_MIN), 0);
	ck_assert_int_lt(goro_now() - t0, 50 * MS);
	/* Many sleepers at once, 1..10 ms and 20 ms, on every P. */
	goro_wg_init(&wg);
	goro_wg_add(&wg, SLEEPERS + 1);
	for (intptr_t i = 1; i <= SLEEPERS; i++)
		spawn(sleeper_check, (void *)i);
	spawn(sleeper_check, (void *)(intptr_t)20);
	goro_wg_wait(&wg);
	ck_assert_int_eq(sleep_bad, 0);
}

START_TEST(test_sleep)
{
	run_procs(_i + 1, sleep_main, NULL);
}
END_TEST

/*
 * Timers fire on Ps whose Gs never yield: with both Ps busy, a sleeper
 * still wakes (sysmon preempts a busy G), while the busy Gs still run --
 * they stop only when the sleeper is done.  Needs async preemption.  The
 * bound per sleep is loose (1 s): under outside CPU load the signal that
 * stops a busy G waits for its thread to get a CPU.
 */
static _Atomic bool busy_stop;
static _Atomic int busy_late;

static void
busy_g(void *arg)
{
	while (!atomic_load_explicit(&busy_stop, memory_order_relaxed))
		;
	goro_wg_done(&wg);
}

static void
busy_sleeper(void *arg)
{
	for (int k = 0; k < 5; k++) {
		int64_t t0 = goro_now();

		ck_assert_int_eq(goro_sleep(20 * MS), 0);
		int64_t took = goro_now() - t0;
		if (took < 20 * MS || took >= 1000 * MS) {
			fprintf(stderr, "beside busy Gs, goro_sleep(20 ms) took %.3f ms\n",
			    (double)took / MS);
			atomic_fetch_add(&busy_late, 1);
		}
	}
	atomic_store(&busy_stop, true);
	goro_wg_done(&wg);
}

static void
sleep_busy_main(void *arg)
{
	goro_wg_init(&wg);
	goro_wg_add(&wg, 3);
	for (int i = 0; i < 2; i++)
		spawn(busy_g, NULL);
	spawn(busy_sleeper, NULL);
	goro_wg_wait(&wg);
	ck_assert_int_eq(busy_late, 0);
}

START_TEST(test_sleep_busy)
{
	run_procs(2, sleep_busy_main, NULL);
}
END_TEST

/* ---- an idle program uses no CPU ---------------------------------------- */

static int64_t
cpu_ns(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	    ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void
idle_main(void *arg)
{
	int64_t c0, used;

	/* Some work first, so that there are Ms to go idle. */
	goro_wg_init(&wg);
	goro_wg_add(&wg, 1000);
	for (int i = 0; i < 1000; i++)
		spawn(count_g, NULL);
	goro_wg_wait(&wg);
	goro_sleep(20 * MS);

	c0 = cpu_ns();
	goro_sleep(300 * MS);
	used = cpu_ns() - c0;
	ck_assert_msg(used < 50 * MS, "idle for 300 ms, the process used %.1f ms of CPU",
	    (double)used / MS);
}

START_TEST(test_idle)
{
	run_procs(2, idle_main, NULL);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

int
main(void)
{
	Suite *s = suite_create("sched");

	/* Loop index i, where it is used as such: i + 1 Ps. */
	tcase(s, "a million goroutines", test_million, 0, 1, 60);
	tcase(s, "nested spawning", test_nested, 0, 2, 30);
	tcase(s, "goro_exit", test_exit, 0, 2, 30);
	tcase(s, "goro_exit in main", test_exit_main, 0, 2, 30);
	tcase(s, "round-robin yield on 1 P", test_round_robin, 0, 1, 30);
	/* i = 1 adds a G that never yields (needs async preemption). */
	tcase(s, "an idle P steals work that waits", test_steal_waiting, 0, 1, 30);
	tcase(s, "a spawner of long goroutines is not held up", test_spawn_long, 0, 1, 30);
	tcase(s, "maxprocs changes while running", test_maxprocs_change, 0, 2, 60);
	tcase(s, "goroutine ids", test_ids, 0, 2, 30);
	/* i: blocked, yielding, spinning (needs async preemption), sleeping. */
	tcase(s, "abandoned goroutines", test_abandoned, 0, 4, 30);
	/* i: nothing abandoned, a blocked G, two spinning Gs. */
	tcase(s, "goro_run twice", test_run_twice, 0, 3, 30);
	tcase(s, "errno per goroutine", test_errno, 0, 2, 60);
	tcase(s, "sleep accuracy", test_sleep, 0, 2, 30);
	tcase(s, "sleep beside busy Gs (async preemption)", test_sleep_busy, 0, 1, 30);
	tcase(s, "idle uses no CPU", test_idle, 0, 1, 30);
	return goro_test_main(s);
}
