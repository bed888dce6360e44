/*
 * check_stack.c - goroutine stacks: sizes, the guard page, other faults.
 *
 * A stack overflow kills the process, so those tests fork a child of the
 * test process, run the runtime there with stderr (and a second pipe for
 * what the goroutine reports of itself) redirected, and look at how it
 * died and what it said.  Core dumps are turned off in those children.
 * The other tests start the runtime in the test itself, as usual.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "goro.h"
#include "goro_test.h"

/* ---- running a doomed runtime in a child ------------------------------ */

struct child {
	int status;		/* from waitpid */
	char err[8192];		/* what it wrote to stderr */
	char info[256];		/* what it wrote to the info pipe */
};

static int infofd = -1;		/* in the child: the info pipe */

/* Read fd to EOF into buf (NUL-terminated, truncated to len - 1). */
static void
slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	char sink[512];

	while ((r = read(fd, n + 1 < len ? buf + n : sink,
	    n + 1 < len ? len - 1 - n : sizeof sink)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n + 1 < len)
			n += (size_t)r;
	}
	buf[n] = 0;
}

/*
 * Fork; in the child run body() with stderr on one pipe and infofd on
 * another, no core dumps, and a 20 s alarm so a hang fails instead of
 * timing out.  body() should not return; if it does the child exits 0.
 */
static void
run_child(void (*body)(void), struct child *c)
{
	int errp[2], infop[2];
	pid_t pid;

	ck_assert_int_eq(pipe(errp), 0);
	ck_assert_int_eq(pipe(infop), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };

		setrlimit(RLIMIT_CORE, &rl);
		close(errp[0]);
		close(infop[0]);
		dup2(errp[1], 2);
		close(errp[1]);
		infofd = infop[1];
		alarm(20);
		body();
		_exit(0);
	}
	close(errp[1]);
	close(infop[1]);
	/* Both pipes are small in practice; read info first, it ends early. */
	slurp(infop[0], c->info, sizeof c->info);
	slurp(errp[0], c->err, sizeof c->err);
	close(infop[0]);
	close(errp[0]);
	ck_assert_int_eq(waitpid(pid, &c->status, 0), pid);
}

static void
info(const char *fmt, long long v)
{
	char buf[64];
	int n = snprintf(buf, sizeof buf, fmt, v);

	if (write(infofd, buf, (size_t)n) != n)
		_exit(5);
}

static const char *
describe(int status)
{
	static char buf[64];

	if (WIFSIGNALED(status))
		snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, sizeof buf, "exit status %d", WEXITSTATUS(status));
	return buf;
}

/* ---- stack overflow --------------------------------------------------- */

/*
 * Recurse with a 4 KiB frame until the guard page stops us.  The frame is
 * touched from its top down, 1 KiB at a time, so that the first access
 * beyond the stack is in the guard page whatever the frame's alignment
 * (and however many levels the compiler folds into one frame).
 */
static __attribute__((noinline)) int
recurse(int depth)
{
	volatile char buf[4096];

	for (int i = (int)sizeof buf - 1; i >= 0; i -= 1024)
		buf[i] = (char)depth;
	buf[0] = (char)depth;
	if (depth == 1000000)
		return buf[0];
	return recurse(depth + 1) + buf[sizeof buf - 1];	/* not a tail call */
}

/*
 * Recurse with a frame of big_frame bytes touched only at its bottom, as
 * a function with a large local array that it fills from the start does:
 * without stack probes (-fstack-clash-protection) its first access can
 * land below the guard page.
 */
static size_t big_frame;

static __attribute__((noinline)) int
recurse_big(int depth)
{
	volatile char buf[big_frame];

	buf[0] = (char)depth;
	if (depth == 1000000)
		return buf[0];
	return recurse_big(depth + 1) + buf[0];
}

static size_t overflow_stack;	/* 0: the default size */

static void
bystander(void *arg)
{
}

static void
overflow_g(void *arg)
{
	info("%lld\n", (long long)goro_self());
	if (big_frame)
		recurse_big(0);
	else
		recurse(0);
	info("returned\n", 0);	/* must not happen */
}

static void
overflow_main(void *arg)
{
	goro_attr_t attr = { overflow_stack, "overflow" };
	goro_wg_t never = GORO_WG_INIT;

	/* A few bystanders first, so the overflowing G is not number 1 or 2. */
	for (int i = 0; i < 3; i++)
		goro_go(bystander, NULL);
	if (goro_go_attr(&attr, overflow_g, NULL) < 0)
		_exit(6);
	goro_wg_add(&never, 1);
	goro_wg_wait(&never);
}

static void
overflow_body(void)
{
	goro_run(overflow_main, NULL);
	_exit(7);
}

/* Run overflow_g in a child; it must report itself and abort. */
static void
check_overflow(void)
{
	struct child c;
	long long id = -1;
	char want[64];

	run_child(overflow_body, &c);
	ck_assert_msg(sscanf(c.info, "%lld", &id) == 1 && id > 0,
	    "the G never reported its id (info \"%s\", %s, stderr \"%s\")",
	    c.info, describe(c.status), c.err);
	ck_assert_msg(strstr(c.info, "returned") == NULL, "recursion returned");
	snprintf(want, sizeof want, "goroutine %lld: stack overflow", id);
	ck_assert_msg(strstr(c.err, want) != NULL,
	    "stderr lacks \"%s\": \"%s\" (%s)", want, c.err, describe(c.status));
	ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT,
	    "child %s, want SIGABRT; stderr \"%s\"", describe(c.status), c.err);
}

static const size_t overflow_sizes[] = { 0, GORO_STACK_MIN, 1 << 20 };

START_TEST(test_overflow)
{
	overflow_stack = overflow_sizes[_i];
	check_overflow();
}
END_TEST

/*
 * A frame bigger than the guard page, first touched at its bottom, is a
 * stack overflow too: the fault is below the guard page, but the G's
 * stack pointer is below its stack.
 */
static const size_t big_frames[] = { 9000, 16384, 65536 };

START_TEST(test_overflow_big_frame)
{
	overflow_stack = GORO_STACK_MIN;
	big_frame = big_frames[_i];
	check_overflow();
}
END_TEST

/* ---- other faults keep their behaviour -------------------------------- */

static int *volatile nullp;	/* the compiler cannot know it is NULL */

static void
segv_g(void *arg)
{
	info("faulting\n", 0);
	*nullp = 1;
	info("survived\n", 0);
}

static void
segv_main(void *arg)
{
	goro_wg_t never = GORO_WG_INIT;

	goro_go(segv_g, NULL);
	goro_wg_add(&never, 1);
	goro_wg_wait(&never);
}

/* 0: in a goroutine.  1: on the main thread after goro_run returned. */
static void
segv_body0(void)
{
	goro_run(segv_main, NULL);
	_exit(7);
}

static void
empty_main(void *arg)
{
}

static void
segv_body1(void)
{
	if (goro_run(empty_main, NULL) != 0)
		_exit(8);
	info("faulting\n", 0);
	*nullp = 1;
	info("survived\n", 0);
}

static void
app_segv(int sig)
{
	static const char msg[] = "application handler\n";

	if (write(infofd, msg, sizeof msg - 1) < 0)
		_exit(10);
	_exit(42);
}

/* 2: the application's own handler, installed before goro_run, still runs. */
static void
segv_body2(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = app_segv;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	goro_run(segv_main, NULL);
	_exit(7);
}

START_TEST(test_other_segv)
{
	static void (*const bodies[])(void) = { segv_body0, segv_body1, segv_body2 };
	struct child c;

	run_child(bodies[_i], &c);
	ck_assert_msg(strstr(c.info, "faulting") != NULL, "never got to the fault: %s, \"%s\"",
	    describe(c.status), c.err);
	ck_assert_msg(strstr(c.info, "survived") == NULL, "a NULL store did not fault");
	ck_assert_msg(strstr(c.err, "stack overflow") == NULL,
	    "a NULL dereference reported as a stack overflow: \"%s\"", c.err);
	if (_i == 2) {
		ck_assert_msg(strstr(c.info, "application handler") != NULL &&
		    WIFEXITED(c.status) && WEXITSTATUS(c.status) == 42,
		    "the application's SIGSEGV handler did not run: %s, \"%s\"",
		    describe(c.status), c.err);
	} else {
		ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGSEGV,
		    "child %s, want SIGSEGV; stderr \"%s\"", describe(c.status), c.err);
	}
}
END_TEST

/* ---- stack sizes that work -------------------------------------------- */

struct use {
	size_t bytes;		/* how much of its stack the G touches */
	goro_wg_t *wg;
	int ok;
	uintptr_t lo, hi;	/* lowest and highest address touched */
};

/* Touch every KiB of a bytes-long array on this G's stack, then read it back. */
static __attribute__((noinline)) void
use_stack(struct use *u)
{
	volatile char buf[u->bytes];	/* a VLA: the frame is as big as asked */
	int ok = 1;

	for (size_t i = 0; i < u->bytes; i += 1024)
		buf[i] = (char)(i >> 10);
	buf[u->bytes - 1] = 'z';
	for (size_t i = 0; i < u->bytes - 1; i += 1024)
		if (buf[i] != (char)(i >> 10))
			ok = 0;
	if (buf[u->bytes - 1] != 'z')
		ok = 0;
	u->lo = (uintptr_t)&buf[0];
	u->hi = (uintptr_t)&buf[u->bytes - 1];
	u->ok = ok;
}

static void
use_g(void *arg)
{
	struct use *u = arg;

	use_stack(u);
	goro_wg_done(u->wg);
}

static const struct {
	size_t stack, use;
} sizes[] = {
	{ GORO_STACK_MIN, 48 * 1024 },
	{ 0, 192 * 1024 },			/* GORO_STACK_DEFAULT */
	{ 4 << 20, 3 << 20 },
	{ 16 << 20, 12 << 20 },
};

static void
sizes_main(void *arg)
{
	enum { NSIZES = sizeof sizes / sizeof sizes[0], PER = 4 };
	goro_wg_t wg = GORO_WG_INIT;
	struct use u[NSIZES][PER];

	/* Several of each, at once, on 2 Ps; then again, reusing dead Gs. */
	goro_maxprocs(2);
	for (int round = 0; round < 2; round++) {
		memset(u, 0, sizeof u);
		for (int i = 0; i < NSIZES; i++) {
			for (int j = 0; j < PER; j++) {
				goro_attr_t attr = { sizes[i].stack, "user" };

				u[i][j].bytes = sizes[i].use;
				u[i][j].wg = &wg;
				goro_wg_add(&wg, 1);
				ck_assert_int_gt(goro_go_attr(&attr, use_g, &u[i][j]), 0);
			}
		}
		goro_wg_wait(&wg);
		for (int i = 0; i < NSIZES; i++) {
			for (int j = 0; j < PER; j++) {
				ck_assert_msg(u[i][j].ok, "stack %zu: use of %zu failed",
				    sizes[i].stack, sizes[i].use);
				ck_assert_uint_ge(u[i][j].hi - u[i][j].lo + 1, sizes[i].use);
			}
		}
	}
}

START_TEST(test_sizes)
{
	ck_assert_int_eq(goro_run(sizes_main, NULL), 0);
}
END_TEST

static void
nop_g(void *arg)
{
	*(int *)arg = 1;
}

static void
toosmall_main(void *arg)
{
	static const size_t bad[] = { 1, 4096, GORO_STACK_MIN / 2, GORO_STACK_MIN - 1 };
	int ran = 0;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		goro_attr_t attr = { bad[i], "small" };

		ERRNO = 0;
		ck_assert_int_eq(goro_go_attr(&attr, nop_g, &ran), -1);
		ck_assert_int_eq(ERRNO, EINVAL);
	}
	/* The boundary and 0 (the default) are fine. */
	goro_attr_t ok = { GORO_STACK_MIN, NULL };
	ck_assert_int_gt(goro_go_attr(&ok, nop_g, &ran), 0);
	ok.stack_size = 0;
	ck_assert_int_gt(goro_go_attr(&ok, nop_g, &ran), 0);
	ck_assert_int_gt(goro_go_attr(NULL, nop_g, &ran), 0);
	for (int i = 0; i < 100 && !ran; i++)
		goro_sleep(MS);
	ck_assert(ran);
}

START_TEST(test_too_small)
{
	ck_assert_int_eq(goro_run(toosmall_main, NULL), 0);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

int
main(void)
{
	Suite *s = suite_create("stack");

	tcase(s, "guard page hit reported", test_overflow, 0, 3, 60);
	tcase(s, "big frame past the guard page reported", test_overflow_big_frame, 0, 3, 60);
	tcase(s, "other SIGSEGV kept", test_other_segv, 0, 3, 60);
	tcase(s, "stack sizes", test_sizes, 0, 1, 60);
	tcase(s, "stack below the minimum", test_too_small, 0, 1, 30);
	return goro_test_main(s);
}
