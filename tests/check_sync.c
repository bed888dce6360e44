/*
 * check_sync.c - goroutine mutexes and wait groups.
 *
 * Mutual exclusion under contention on 2 Ps (a plain int, so a lost
 * update shows), with yields and sleeps inside the critical section;
 * trylock; blocking parks the G and not the M; wait groups with many
 * waiters; misuse of the counter; the static initialisers.
 *
 * Check runs every test in a forked child, so each test starts its own
 * runtime with goro_run() and may set GOROMAXPROCS first.
 */
#include <check.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "goro.h"
#include "goro_test.h"

static void
spawn(void (*fn)(void *), void *arg)
{
	ck_assert_int_gt(goro_go(fn, arg), 0);
}

/* ---- mutual exclusion under contention ----------------------------------- */

enum { NG = 8, NINC = 100000 };

/* Static storage with the static initialisers: no init call anywhere. */
static goro_mutex_t mu = GORO_MUTEX_INIT;
static goro_wg_t wg = GORO_WG_INIT;

static int plain;		/* only ever touched with mu held */
static int inside;		/* Gs inside the critical section */
static _Atomic int overlaps;	/* times a G found another one inside */

/*
 * Loop variants: 0 plain; 1 with goro_yield in the critical section
 * every 100th time; 2 with goro_sleep in it now and then, so the holder
 * parks and waiters pile up.
 */
static int variant;

static void
inc_g(void *arg)
{
	for (int i = 0; i < NINC; i++) {
		goro_mutex_lock(&mu);
		if (inside++ != 0)
			atomic_fetch_add(&overlaps, 1);
		plain++;
		if (variant == 1 && i % 100 == 0)
			goro_yield();
		if (variant == 2 && i % 10000 == 0)
			goro_sleep(MS / 4);
		inside--;
		goro_mutex_unlock(&mu);
	}
	goro_wg_done(&wg);
}

static void
contention_main(void *arg)
{
	goro_wg_add(&wg, NG);
	for (int i = 0; i < NG; i++)
		spawn(inc_g, NULL);
	goro_wg_wait(&wg);
	goro_mutex_lock(&mu);
	ck_assert_int_eq(plain, NG * NINC);
	ck_assert_int_eq(overlaps, 0);
	goro_mutex_unlock(&mu);
	/* Unlocked again, with no waiters left. */
	ck_assert_int_eq(goro_mutex_trylock(&mu), 0);
	goro_mutex_unlock(&mu);
	ck_assert_uint_eq(mu.state, 0);
	ck_assert_ptr_null(mu.head);
}

START_TEST(test_contention)
{
	/* i: variant (i % 3) on 2 Ps, then variant 1 on 1 P. */
	variant = _i % 3;
	run_procs(_i < 3 ? 2 : 1, contention_main, NULL);
}
END_TEST

/* ---- trylock ------------------------------------------------------------ */

static _Atomic int other_result, other_errno;

static void
try_other_g(void *arg)
{
	goro_mutex_t *m = arg;

	ERRNO = 0;
	atomic_store(&other_result, goro_mutex_trylock(m));
	atomic_store(&other_errno, ERRNO);
	goro_wg_done(&wg);
}

static void
trylock_main(void *arg)
{
	goro_mutex_t m;

	goro_mutex_init(&m);
	ck_assert_int_eq(goro_mutex_trylock(&m), 0);
	ERRNO = 0;
	ck_assert_int_eq(goro_mutex_trylock(&m), -1);
	ck_assert_int_eq(ERRNO, EBUSY);
	/* From another G too. */
	goro_wg_add(&wg, 1);
	spawn(try_other_g, &m);
	goro_wg_wait(&wg);
	ck_assert_int_eq(other_result, -1);
	ck_assert_int_eq(other_errno, EBUSY);
	goro_mutex_unlock(&m);
	ck_assert_int_eq(goro_mutex_trylock(&m), 0);
	goro_mutex_unlock(&m);
	/* Held by goro_mutex_lock: busy as well. */
	goro_mutex_lock(&m);
	goro_wg_add(&wg, 1);
	spawn(try_other_g, &m);
	goro_wg_wait(&wg);
	ck_assert_int_eq(other_result, -1);
	ck_assert_int_eq(other_errno, EBUSY);
	goro_mutex_unlock(&m);
	goro_wg_add(&wg, 1);
	spawn(try_other_g, &m);
	goro_wg_wait(&wg);
	ck_assert_int_eq(other_result, 0);	/* and it holds it now */
	ERRNO = 0;
	ck_assert_int_eq(goro_mutex_trylock(&m), -1);
	ck_assert_int_eq(ERRNO, EBUSY);
	goro_mutex_unlock(&m);
}

START_TEST(test_trylock)
{
	run_procs(2, trylock_main, NULL);
}
END_TEST

/* ---- blocking parks the G, not the M -------------------------------------- */

static _Atomic long ticks;
static _Atomic bool ticker_stop;

static void
ticker_g(void *arg)
{
	while (!atomic_load(&ticker_stop)) {
		atomic_fetch_add(&ticks, 1);
		goro_yield();
	}
	goro_wg_done(&wg);
}

static goro_wg_t release = GORO_WG_INIT;

/* Holds mu, parked, until park_main releases it. */
static void
holder_g(void *arg)
{
	goro_mutex_lock(&mu);
	goro_wg_wait(&release);
	goro_mutex_unlock(&mu);
	goro_wg_done(&wg);
}

static void
blocker_g(void *arg)
{
	goro_mutex_lock(&mu);
	plain++;
	goro_mutex_unlock(&mu);
	goro_wg_done(&wg);
}

static void
park_main(void *arg)
{
	int64_t deadline = goro_now() + 10000 * MS;

	goro_wg_add(&release, 1);
	goro_wg_add(&wg, 1);
	spawn(holder_g, NULL);
	while (goro_mutex_trylock(&mu) == 0) {	/* until the holder has it */
		goro_mutex_unlock(&mu);
		ck_assert_msg(goro_now() < deadline, "the holder never locked");
		goro_yield();
	}
	goro_wg_add(&wg, 4);
	for (int i = 0; i < 3; i++)
		spawn(blocker_g, NULL);
	spawn(ticker_g, NULL);
	/*
	 * One P: the blockers are parked on the mutex, yet the ticker and
	 * this G keep running while the holder waits.
	 */
	long t0 = atomic_load(&ticks);
	goro_sleep(30 * MS);
	ck_assert_msg(ticks - t0 > 10, "nothing ran while Gs waited on a mutex");
	ck_assert_int_eq(plain, 0);
	ck_assert_int_eq(mu.state, 2);	/* locked, with waiters */
	goro_wg_done(&release);
	atomic_store(&ticker_stop, true);
	goro_wg_wait(&wg);
	ck_assert_int_eq(plain, 3);
}

START_TEST(test_lock_parks)
{
	run_procs(1, park_main, NULL);
}
END_TEST

/* ---- wait group with many waiters ---------------------------------------- */

enum { WAITERS = 10 };

static goro_wg_t gate = GORO_WG_INIT;
static _Atomic int arrived, released;

static void
waiter_g(void *arg)
{
	atomic_fetch_add(&arrived, 1);
	goro_wg_wait(&gate);
	atomic_fetch_add(&released, 1);
	goro_wg_done(&wg);
}

static void
waiters_main(void *arg)
{
	int64_t deadline = goro_now() + 10000 * MS;

	for (int round = 0; round < 3; round++) {
		atomic_store(&arrived, 0);
		atomic_store(&released, 0);
		goro_wg_add(&gate, 2);
		goro_wg_add(&wg, WAITERS);
		for (int i = 0; i < WAITERS; i++)
			spawn(waiter_g, NULL);
		while (atomic_load(&arrived) < WAITERS) {
			ck_assert_msg(goro_now() < deadline, "the waiters never started");
			goro_sleep(MS);
		}
		goro_sleep(10 * MS);	/* let them park */
		ck_assert_int_eq(released, 0);
		goro_wg_done(&gate);
		goro_sleep(10 * MS);
		ck_assert_int_eq(released, 0);	/* 1 is not 0 */
		goro_wg_done(&gate);
		goro_wg_wait(&wg);
		ck_assert_int_eq(released, WAITERS);
		ck_assert_int_eq(gate.counter, 0);
		ck_assert_ptr_null(gate.waiters);
		/* A zero wait group does not block. */
		goro_wg_wait(&gate);
	}
}

START_TEST(test_wg_waiters)
{
	run_procs(_i + 1, waiters_main, NULL);
}
END_TEST

/* ---- wait group misuse --------------------------------------------------- */

static void
negative_main(void *arg)
{
	goro_wg_t w;

	goro_wg_init(&w);
	ck_assert_int_eq(w.counter, 0);
	/* Below zero from zero. */
	ERRNO = 0;
	goro_wg_done(&w);
	ck_assert_int_eq(ERRNO, EINVAL);
	ck_assert_int_eq(w.counter, 0);
	ERRNO = 0;
	goro_wg_add(&w, -5);
	ck_assert_int_eq(ERRNO, EINVAL);
	ck_assert_int_eq(w.counter, 0);
	/* Below zero from 2: unchanged. */
	goro_wg_add(&w, 2);
	ck_assert_int_eq(w.counter, 2);
	ERRNO = 0;
	goro_wg_add(&w, -3);
	ck_assert_int_eq(ERRNO, EINVAL);
	ck_assert_int_eq(w.counter, 2);
	/* Still a working wait group. */
	goro_wg_add(&w, -2);
	ck_assert_int_eq(w.counter, 0);
	goro_wg_wait(&w);
	ERRNO = 0;
	goro_wg_add(&w, 0);
	ck_assert_int_eq(w.counter, 0);
}

START_TEST(test_wg_negative)
{
	run_procs(1, negative_main, NULL);
}
END_TEST

/* ---- static initialisers -------------------------------------------------- */

struct shared {
	goro_mutex_t mu;
	goro_wg_t wg;
	int n;
};

static void
auto_g(void *arg)
{
	struct shared *sh = arg;

	for (int i = 0; i < 20000; i++) {
		goro_mutex_lock(&sh->mu);
		sh->n++;
		goro_mutex_unlock(&sh->mu);
	}
	goro_wg_done(&sh->wg);
}

static void
auto_main(void *arg)
{
	struct shared sh = { GORO_MUTEX_INIT, GORO_WG_INIT, 0 };

	goro_wg_add(&sh.wg, 4);
	for (int i = 0; i < 4; i++)
		spawn(auto_g, &sh);
	goro_wg_wait(&sh.wg);
	ck_assert_int_eq(sh.n, 4 * 20000);
}

/* ---- a wait group dies as soon as its wait returns ------------------------- */

/*
 * fib's join: the wait group lives in the waiter's frame, which is gone
 * the moment goro_wg_wait returns -- and it returns as soon as it sees the
 * count at zero.  So the goro_wg_done that brings the count to zero with
 * nobody parked must not touch the wait group after its atomic update.
 * (An early version took the internal lock there and crashed fib about
 * once in 3 million joins.)  Checked deterministically: the wait group
 * straddles a page boundary with everything but the counter on a page
 * that cannot be touched.
 */
static void
wg_untouched_main(void *arg)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *two = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(two, MAP_FAILED);
	goro_wg_t *wg = (goro_wg_t *)(two + pg - offsetof(goro_wg_t, lock));
	ck_assert_int_eq(mprotect(two + pg, (size_t)pg, PROT_NONE), 0);
	wg->counter = 0;
	for (int i = 0; i < 1000; i++) {
		goro_wg_add(wg, 2);
		goro_wg_done(wg);
		goro_wg_done(wg);	/* to zero, nobody waiting: counter only */
		goro_wg_wait(wg);	/* zero: returns without the lock */
	}
	ck_assert_int_eq(wg->counter, 0);
	munmap(two, 2 * (size_t)pg);
}

START_TEST(test_wg_dies_after_wait)
{
	run_procs(1, wg_untouched_main, NULL);
}
END_TEST

START_TEST(test_initialisers)
{
	goro_mutex_t m1 = GORO_MUTEX_INIT, m2;
	goro_wg_t w1 = GORO_WG_INIT, w2;

	/* What the init functions make is what the macros make. */
	memset(&m2, 0xa5, sizeof m2);
	goro_mutex_init(&m2);
	ck_assert_int_eq(memcmp(&m1, &m2, sizeof m1), 0);
	memset(&w2, 0xa5, sizeof w2);
	goro_wg_init(&w2);
	ck_assert_int_eq(w2.counter, w1.counter);	/* fields: the struct has padding */
	ck_assert_uint_eq(w2.lock, w1.lock);
	ck_assert_ptr_eq(w2.waiters, w1.waiters);
	/* An initialised mutex is unlocked; trylock needs no runtime. */
	ck_assert_int_eq(goro_mutex_trylock(&m1), 0);
	ERRNO = 0;
	ck_assert_int_eq(goro_mutex_trylock(&m1), -1);
	ck_assert_int_eq(ERRNO, EBUSY);
	goro_mutex_unlock(&m1);
	ck_assert_int_eq(goro_mutex_trylock(&m1), 0);
	goro_mutex_unlock(&m1);
	/* And the static ones start in the same state. */
	ck_assert_int_eq(memcmp(&mu, &m1, sizeof mu), 0);
	ck_assert_int_eq(wg.counter, 0);
	ck_assert_uint_eq(wg.lock, 0);
	ck_assert_ptr_null(wg.waiters);
	/* A mutex and wait group with automatic storage, under the runtime. */
	run_procs(2, auto_main, NULL);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

int
main(void)
{
	Suite *s = suite_create("sync");

	tcase(s, "mutex under contention", test_contention, 0, 4, 60);
	tcase(s, "trylock", test_trylock, 0, 1, 30);
	tcase(s, "lock parks the G", test_lock_parks, 0, 1, 30);
	tcase(s, "wait group waiters", test_wg_waiters, 0, 2, 30);
	tcase(s, "wait group below zero", test_wg_negative, 0, 1, 30);
	tcase(s, "wait group untouched once it reaches zero", test_wg_dies_after_wait, 0, 1, 30);
	tcase(s, "static initialisers", test_initialisers, 0, 1, 60);
	return goro_test_main(s);
}
