/*
 * check_api.c - bad input for every function, calls outside the runtime,
 * introspection, and the environment.
 *
 * Every public call that can fail returns -1 (or does nothing) with
 * errno set as API.md and the man pages say; nothing aborts on bad input.
 * Check runs every test in a forked child, so each test may set the
 * environment and start its own runtime with goro_run().
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "goro.h"
#include "goro_test.h"

/* Assert that expr (a call) evaluates to want and sets errno to err. */
#define ck_assert_fails(expr, want, err) do {				\
	ERRNO = 0;							\
	long long r_ = (long long)(expr);				\
	int e_ = ERRNO;							\
	ck_assert_msg(r_ == (want) && e_ == (err),			\
	    "%s: returned %lld, errno %d (%s); want %lld, errno %d (%s)", \
	    #expr, r_, e_, strerror(e_), (long long)(want), (err), strerror(err)); \
} while (0)

/* Assert that a call returning nothing sets errno to err. */
#define ck_assert_errno(stmt, err) do {					\
	ERRNO = 0;							\
	stmt;								\
	int e_ = ERRNO;							\
	ck_assert_msg(e_ == (err), "%s: errno %d (%s), want %d (%s)",	\
	    #stmt, e_, strerror(e_), (err), strerror(err));		\
} while (0)

static void
nop(void *arg)
{
}

static void
flag_g(void *arg)
{
	atomic_store((_Atomic int *)arg, 1);
}

/* Sleep-poll until *flag is set (10 s at most). */
static void
await(_Atomic int *flag)
{
	int64_t deadline = goro_now() + 10000 * MS;

	while (!atomic_load(flag)) {
		ck_assert_msg(goro_now() < deadline, "it never happened");
		goro_sleep(MS);
	}
}

/* ---- goro_run -------------------------------------------------------- */

static _Atomic int g_done;

static void
rerun_g(void *arg)
{
	ck_assert_fails(goro_run(nop, NULL), -1, EALREADY);
	atomic_store(&g_done, 1);
}

static void
rerun_main(void *arg)
{
	ck_assert_fails(goro_run(nop, NULL), -1, EALREADY);
	/* From another G, maybe on another M. */
	ck_assert_int_gt(goro_go(rerun_g, NULL), 0);
	await(&g_done);
}

START_TEST(test_run)
{
	ck_assert_fails(goro_run(NULL, NULL), -1, EINVAL);
	ck_assert_fails(goro_run(NULL, &g_done), -1, EINVAL);
	run_procs(2, rerun_main, NULL);
	/* Errors leave nothing behind: the runtime starts normally. */
	ck_assert_fails(goro_run(NULL, NULL), -1, EINVAL);
	run(nop, NULL);
}
END_TEST

/* ---- goro_go ---------------------------------------------------------- */

static _Atomic int foreign_done;
static _Atomic int64_t foreign_id;

static void *
foreign_thread(void *arg)
{
	/* A thread the runtime did not start, while it runs: allowed. */
	atomic_store(&foreign_id, goro_go(flag_g, arg));
	ck_assert_int_eq(goro_self(), 0);
	return NULL;
}

static void
go_main(void *arg)
{
	goro_attr_t small = { GORO_STACK_MIN - 1, NULL }, dflt = { 0, "named" };
	_Atomic int ran1 = 0, ran2 = 0, ran3 = 0;
	pthread_t th;

	ck_assert_fails(goro_go(NULL, NULL), -1, EINVAL);
	ck_assert_fails(goro_go(NULL, &ran1), -1, EINVAL);
	ck_assert_fails(goro_go_attr(NULL, NULL, NULL), -1, EINVAL);
	ck_assert_fails(goro_go_attr(&dflt, NULL, NULL), -1, EINVAL);
	ck_assert_fails(goro_go_attr(&small, flag_g, &ran1), -1, EINVAL);
	/* The good ones. */
	ck_assert_int_gt(goro_go(flag_g, &ran1), 0);
	ck_assert_int_gt(goro_go_attr(NULL, flag_g, &ran2), 0);
	ck_assert_int_gt(goro_go_attr(&dflt, flag_g, &ran3), 0);
	await(&ran1);
	await(&ran2);
	await(&ran3);
	ck_assert_int_eq(pthread_create(&th, NULL, foreign_thread, (void *)&foreign_done), 0);
	await(&foreign_done);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_gt(foreign_id, 0);
}

START_TEST(test_go)
{
	_Atomic int ran = 0;

	/* No runtime yet. */
	ck_assert_fails(goro_go(flag_g, &ran), -1, EPERM);
	ck_assert_fails(goro_go_attr(NULL, flag_g, &ran), -1, EPERM);
	run_procs(2, go_main, NULL);
	/* No runtime any more. */
	ck_assert_fails(goro_go(flag_g, &ran), -1, EPERM);
	ck_assert_int_eq(ran, 0);
}
END_TEST

/* ---- goro_maxprocs ------------------------------------------------------- */

static void
maxprocs_main(void *arg)
{
	goro_stats_t st;

	ck_assert_int_eq(goro_maxprocs(0), 2);
	ck_assert_fails(goro_maxprocs(-1), -1, EINVAL);
	ck_assert_fails(goro_maxprocs(INT_MIN), -1, EINVAL);
	ck_assert_fails(goro_maxprocs(GORO_MAXPROCS_LIMIT + 1), -1, EINVAL);
	ck_assert_fails(goro_maxprocs(INT_MAX), -1, EINVAL);
	ck_assert_int_eq(goro_maxprocs(0), 2);		/* unchanged */
	/* The limit itself is accepted. */
	ck_assert_int_eq(goro_maxprocs(GORO_MAXPROCS_LIMIT), 2);
	ck_assert_int_eq(goro_maxprocs(0), GORO_MAXPROCS_LIMIT);
	ck_assert_int_eq(goro_stats(&st), 0);
	ck_assert_int_eq(st.maxprocs, GORO_MAXPROCS_LIMIT);
}

START_TEST(test_maxprocs)
{
	ck_assert_int_ge(GORO_MAXPROCS_LIMIT, 256);
	ck_assert_fails(goro_maxprocs(0), -1, EPERM);
	ck_assert_fails(goro_maxprocs(1), -1, EPERM);
	ck_assert_fails(goro_maxprocs(-1), -1, EINVAL);
	run_procs(2, maxprocs_main, NULL);
	ck_assert_fails(goro_maxprocs(0), -1, EPERM);
}
END_TEST

/* ---- goro_set_quantum -------------------------------------------------- */

static void
quantum_bad(void)
{
	ck_assert_fails(goro_set_quantum(99999), -1, EINVAL);
	ck_assert_fails(goro_set_quantum(10000000001LL), -1, EINVAL);
	ck_assert_fails(goro_set_quantum(0), -1, EINVAL);
	ck_assert_fails(goro_set_quantum(-1), -1, EINVAL);
	ck_assert_fails(goro_set_quantum(INT64_MIN), -1, EINVAL);
	ck_assert_fails(goro_set_quantum(INT64_MAX), -1, EINVAL);
}

static void
quantum_main(void *arg)
{
	ck_assert_int_eq(goro_get_quantum(), 10 * MS);	/* the default */
	quantum_bad();
	ck_assert_int_eq(goro_get_quantum(), 10 * MS);	/* unchanged */
	ck_assert_int_eq(goro_set_quantum(100000), 0);	/* both bounds are valid */
	ck_assert_int_eq(goro_get_quantum(), 100000);
	ck_assert_int_eq(goro_set_quantum(10000000000LL), 0);
	ck_assert_int_eq(goro_get_quantum(), 10000000000LL);
	ck_assert_int_eq(goro_set_quantum(10 * MS), 0);
}

START_TEST(test_quantum)
{
	quantum_bad();
	ck_assert_fails(goro_set_quantum(10 * MS), -1, EPERM);
	run(quantum_main, NULL);
}
END_TEST

/* ---- goro_stats ------------------------------------------------------- */

static void
stats_main(void *arg)
{
	goro_stats_t st;
	_Atomic int ran = 0;

	ck_assert_fails(goro_stats(NULL), -1, EINVAL);
	ck_assert_int_gt(goro_go(flag_g, &ran), 0);
	await(&ran);
	for (int i = 0; i < 10; i++)
		goro_yield();
	memset(&st, 0xff, sizeof st);
	ck_assert_int_eq(goro_stats(&st), 0);
	ck_assert_int_eq(st.maxprocs, 2);
	ck_assert_int_eq(st.maxprocs, goro_maxprocs(0));
	ck_assert_int_ge(st.idleprocs, 0);
	ck_assert_int_lt(st.idleprocs, st.maxprocs);	/* this G holds one */
	ck_assert_int_ge(st.threads, 1);
	ck_assert_int_lt(st.threads, 100);
	ck_assert_int_ge(st.spinningthreads, 0);
	ck_assert_int_le(st.spinningthreads, st.threads);
	ck_assert_int_ge(st.idlethreads, 0);
	ck_assert_int_le(st.idlethreads, st.threads);
	ck_assert_int_ge(st.goroutines, 1);
	ck_assert_int_lt(st.goroutines, 10);
	ck_assert_uint_lt(st.runqueue, 10);
	ck_assert_uint_gt(st.switches, 0);
	ck_assert_uint_lt(st.switches, 1000000);
	ck_assert_uint_lt(st.steals, 1000000);
	/* Counters only grow. */
	goro_stats_t st2;
	goro_yield();
	ck_assert_int_eq(goro_stats(&st2), 0);
	ck_assert_uint_gt(st2.switches, st.switches);
	ck_assert_uint_ge(st2.steals, st.steals);
	ck_assert_uint_ge(st2.handoffs, st.handoffs);
	ck_assert_uint_ge(st2.preempt_async, st.preempt_async);
}

START_TEST(test_stats)
{
	goro_stats_t st;

	ck_assert_fails(goro_stats(NULL), -1, EINVAL);
	ck_assert_fails(goro_stats(&st), -1, EPERM);
	run_procs(2, stats_main, NULL);
}
END_TEST

/* ---- goro_schedtrace and goro_traceback -------------------------------- */

static void
trace_main(void *arg)
{
	int fds[2], closed;
	char buf[4096];
	ssize_t n;

	ck_assert_fails(goro_schedtrace(-1, 0), -1, EBADF);
	ck_assert_fails(goro_schedtrace(-1, 1), -1, EBADF);
	ck_assert_fails(goro_schedtrace(INT_MIN, 0), -1, EBADF);
	closed = open("/dev/null", O_WRONLY);
	ck_assert_int_ge(closed, 0);
	close(closed);
	ck_assert_fails(goro_schedtrace(closed, 0), -1, EBADF);
	ck_assert_fails(goro_traceback(-1), -1, EBADF);
	ck_assert_fails(goro_traceback(closed), -1, EBADF);
	/* And the good case: one summary line. */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(goro_schedtrace(fds[1], 0), 0);
	close(fds[1]);
	n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	ck_assert_msg(strncmp(buf, "SCHED ", 6) == 0 && strstr(buf, "gomaxprocs=1") != NULL,
	    "schedtrace wrote \"%s\"", buf);
}

START_TEST(test_trace)
{
	ck_assert_fails(goro_schedtrace(2, 0), -1, EPERM);
	run_procs(1, trace_main, NULL);
}
END_TEST

/* ---- calls outside a goroutine ------------------------------------------ */

static _Atomic int outside_ok;

/* The same calls from a thread the runtime did not start, while it runs. */
static void *
outside_thread(void *arg)
{
	ck_assert_int_eq(goro_self(), 0);
	ck_assert_errno(goro_yield(), EPERM);
	ck_assert_fails(goro_cputime(), -1, EPERM);
	ck_assert_errno(goro_lock_thread(), EPERM);
	ck_assert_errno(goro_unlock_thread(), EPERM);
	int64_t t0 = goro_now();
	ck_assert_int_eq(goro_sleep(20 * MS), 0);
	ck_assert_int_ge(goro_now() - t0, 20 * MS);
	atomic_store(&outside_ok, 1);
	return NULL;
}

static void
outside_main(void *arg)
{
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, outside_thread, NULL), 0);
	await(&outside_ok);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
}

START_TEST(test_outside)
{
	int64_t t0, t1;

	/* No runtime at all. */
	ck_assert_int_eq(goro_self(), 0);
	ck_assert_errno(goro_yield(), EPERM);
	ck_assert_fails(goro_cputime(), -1, EPERM);
	ck_assert_errno(goro_lock_thread(), EPERM);
	ck_assert_errno(goro_unlock_thread(), EPERM);
	ck_assert_errno(goro_preempt_off(), EPERM);
	ck_assert_errno(goro_preempt_on(), EPERM);
	/* goro_now works anywhere and does not go back. */
	t0 = goro_now();
	ck_assert_int_gt(t0, 0);
	for (int i = 0; i < 1000; i++) {
		t1 = goro_now();
		ck_assert_int_ge(t1, t0);
		t0 = t1;
	}
	/* goro_sleep outside a goroutine sleeps the thread. */
	t0 = goro_now();
	ck_assert_int_eq(goro_sleep(30 * MS), 0);
	ck_assert_int_ge(goro_now() - t0, 30 * MS);
	ck_assert_int_eq(goro_sleep(0), 0);
	ck_assert_int_eq(goro_sleep(-5), 0);
	/* And from a foreign thread while a runtime runs. */
	run_procs(2, outside_main, NULL);
}
END_TEST

/* ---- mutexes and wait groups: misuse --------------------------------------- */

static int unlock_errno;	/* what goro_mutex_unlock of an unlocked mutex set */

static void
check_sync_misuse(void)
{
	goro_mutex_t mu = GORO_MUTEX_INIT;
	goro_wg_t wg = GORO_WG_INIT;

	ck_assert_errno(goro_mutex_init(NULL), EINVAL);
	ck_assert_errno(goro_mutex_lock(NULL), EINVAL);
	ck_assert_errno(goro_mutex_unlock(NULL), EINVAL);
	ck_assert_fails(goro_mutex_trylock(NULL), -1, EINVAL);
	ck_assert_errno(goro_wg_init(NULL), EINVAL);
	ck_assert_errno(goro_wg_add(NULL, 1), EINVAL);
	ck_assert_errno(goro_wg_done(NULL), EINVAL);
	ck_assert_errno(goro_wg_wait(NULL), EINVAL);
	/* Unlock of an unlocked mutex: returns, errno EINVAL or EPERM, still unlocked. */
	ERRNO = 0;
	goro_mutex_unlock(&mu);
	unlock_errno = ERRNO;
	ck_assert_msg(unlock_errno == EINVAL || unlock_errno == EPERM,
	    "goro_mutex_unlock(unlocked): errno %d (%s)", unlock_errno, strerror(unlock_errno));
	ck_assert_uint_eq(mu.state, 0);
	ck_assert_int_eq(goro_mutex_trylock(&mu), 0);
	goro_mutex_unlock(&mu);
	/* Twice unlocked: the second is the misuse. */
	ck_assert_int_eq(goro_mutex_trylock(&mu), 0);
	goro_mutex_unlock(&mu);
	ERRNO = 0;
	goro_mutex_unlock(&mu);
	ck_assert_int_eq(ERRNO, unlock_errno);
	ck_assert_int_eq(goro_mutex_trylock(&mu), 0);
	goro_mutex_unlock(&mu);
	/* A wait group at zero does not block anyone. */
	goro_wg_wait(&wg);
	ck_assert_errno(goro_wg_done(&wg), EINVAL);
	ck_assert_int_eq(wg.counter, 0);
}

static void
sync_main(void *arg)
{
	check_sync_misuse();
}

START_TEST(test_sync_misuse)
{
	check_sync_misuse();		/* outside a runtime */
	run(sync_main, NULL);		/* and in a goroutine */
	fprintf(stderr, "goro_mutex_unlock of an unlocked mutex sets errno %s\n",
	    unlock_errno == EPERM ? "EPERM" : "EINVAL");
}
END_TEST

/* ---- goro_cputime --------------------------------------------------------- */

static void
cputime_main(void *arg)
{
	int64_t c0, c1, t0, wall;

	c0 = goro_cputime();
	ck_assert_int_ge(c0, 0);
	/* A busy G: its CPU time grows about with the wall clock. */
	t0 = goro_now();
	while (goro_now() - t0 < 100 * MS)
		;
	c1 = goro_cputime();
	wall = goro_now() - t0;
	ck_assert_msg(c1 - c0 >= 50 * MS, "100 ms busy: cputime grew %lld ns",
	    (long long)(c1 - c0));
	ck_assert_msg(c1 - c0 <= 2 * wall + 50 * MS, "cputime grew %lld ns in %lld ns",
	    (long long)(c1 - c0), (long long)wall);
	/* A sleeping G: it does not. */
	c0 = goro_cputime();
	goro_sleep(100 * MS);
	c1 = goro_cputime();
	ck_assert_msg(c1 - c0 < 50 * MS, "asleep 100 ms: cputime grew %lld ns",
	    (long long)(c1 - c0));
	ck_assert_int_ge(c1, c0);
}

START_TEST(test_cputime)
{
	ck_assert_fails(goro_cputime(), -1, EPERM);
	run_procs(2, cputime_main, NULL);
	ck_assert_fails(goro_cputime(), -1, EPERM);
}
END_TEST

/* ---- goro_lock_thread misuse ------------------------------------------- */

static int unlockthread_errno;

static void
lockthread_main(void *arg)
{
	ERRNO = 0;
	goro_unlock_thread();
	unlockthread_errno = ERRNO;
	ck_assert_msg(unlockthread_errno != 0, "goro_unlock_thread without a lock set no errno");
	/* Balanced use is fine, and an extra unlock is misuse again. */
	goro_lock_thread();
	goro_lock_thread();
	goro_unlock_thread();
	goro_unlock_thread();
	ERRNO = 0;
	goro_unlock_thread();
	ck_assert_int_eq(ERRNO, unlockthread_errno);
}

START_TEST(test_lock_thread)
{
	run_procs(2, lockthread_main, NULL);
	fprintf(stderr, "goro_unlock_thread without a lock sets errno %d (%s)\n",
	    unlockthread_errno, strerror(unlockthread_errno));
}
END_TEST

/* ---- the environment ------------------------------------------------------- */

/* Run fn under goro_run with the process's stderr going to a pipe; return what it got. */
static void
run_capture(void (*fn)(void *), void *arg, char *out, size_t outlen)
{
	int fds[2], saved;
	ssize_t n;

	fflush(stderr);
	ck_assert_int_eq(pipe(fds), 0);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fds[1], 2), 2);
	close(fds[1]);
	int rc = goro_run(fn, arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_eq(rc, 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	n = read(fds[0], out, outlen - 1);
	out[n > 0 ? n : 0] = 0;
	close(fds[0]);
}

static int procs_seen;
static int64_t quantum_seen;

static void
env_main(void *arg)
{
	goro_stats_t st;

	procs_seen = goro_maxprocs(0);
	quantum_seen = goro_get_quantum();
	ck_assert_int_eq(goro_stats(&st), 0);
	ck_assert_int_eq(st.maxprocs, procs_seen);
}

static int
default_procs(void)
{
	cpu_set_t set;
	int n;

	ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
	n = CPU_COUNT(&set);
	return n > GORO_MAXPROCS_LIMIT ? GORO_MAXPROCS_LIMIT : n;
}

START_TEST(test_env_maxprocs)
{
	static const struct {
		const char *val;
		int want;		/* 0: the default */
	} cases[] = { { "1", 1 }, { "3", 3 }, { "256", 256 } };
	char err[1024];

	ck_assert_int_eq(setenv("GOROMAXPROCS", cases[_i].val, 1), 0);
	run_capture(env_main, NULL, err, sizeof err);
	ck_assert_int_eq(procs_seen, cases[_i].want);
	ck_assert_msg(strstr(err, "GOROMAXPROCS") == NULL, "complaint about a good value: %s", err);
}
END_TEST

START_TEST(test_env_maxprocs_bad)
{
	static const char *const bad[] = { "bogus", "0", "-1", "257", "2x", " ", "99999999999999999999" };
	char err[1024];

	ck_assert_int_eq(setenv("GOROMAXPROCS", bad[_i], 1), 0);
	run_capture(env_main, NULL, err, sizeof err);
	ck_assert_msg(strstr(err, "goro: GOROMAXPROCS") != NULL,
	    "GOROMAXPROCS=\"%s\": stderr \"%s\"", bad[_i], err);
	ck_assert_int_eq(procs_seen, default_procs());
	/* Reported once, not per P or per M. */
	ck_assert_ptr_null(strstr(strstr(err, "goro: GOROMAXPROCS") + 1, "goro: GOROMAXPROCS"));
}
END_TEST

START_TEST(test_env_quantum)
{
	static const struct {
		const char *val;
		int64_t want;		/* 0: bad, the default is used */
	} cases[] = {
		{ "500us", 500000 }, { "20ms", 20 * MS }, { "1s", 1000 * MS },
		{ "250000", 250000 }, { "bogus", 0 }, { "10us", 0 }, { "11s", 0 }, { "-5ms", 0 },
	};
	char err[1024];

	ck_assert_int_eq(setenv("GOROQUANTUM", cases[_i].val, 1), 0);
	run_capture(env_main, NULL, err, sizeof err);
	if (cases[_i].want) {
		ck_assert_int_eq(quantum_seen, cases[_i].want);
		ck_assert_msg(strstr(err, "GOROQUANTUM") == NULL, "stderr \"%s\"", err);
	} else {
		ck_assert_int_eq(quantum_seen, 10 * MS);
		ck_assert_msg(strstr(err, "goro: GOROQUANTUM") != NULL,
		    "GOROQUANTUM=\"%s\": stderr \"%s\"", cases[_i].val, err);
	}
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

int
main(void)
{
	Suite *s = suite_create("api");

	tcase(s, "goro_run", test_run, 0, 1, 30);
	tcase(s, "goro_go", test_go, 0, 1, 30);
	tcase(s, "goro_maxprocs", test_maxprocs, 0, 1, 30);
	tcase(s, "goro_set_quantum", test_quantum, 0, 1, 30);
	tcase(s, "goro_stats", test_stats, 0, 1, 30);
	tcase(s, "goro_schedtrace", test_trace, 0, 1, 30);
	tcase(s, "outside a goroutine", test_outside, 0, 1, 30);
	tcase(s, "mutex and wait group misuse", test_sync_misuse, 0, 1, 30);
	tcase(s, "goro_cputime", test_cputime, 0, 1, 30);
	tcase(s, "goro_unlock_thread", test_lock_thread, 0, 1, 30);
	tcase(s, "GOROMAXPROCS", test_env_maxprocs, 0, 3, 30);
	tcase(s, "GOROMAXPROCS malformed", test_env_maxprocs_bad, 0, 7, 30);
	tcase(s, "GOROQUANTUM", test_env_quantum, 0, 8, 30);
	return goro_test_main(s);
}
