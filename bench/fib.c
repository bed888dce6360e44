/*
 * fib: fork-join with work stealing (maxprocs=2).
 *
 * fib(25), where every call with n >= 2 runs fib(n-1) in a new goroutine
 * and fib(n-2) itself, then joins the child.  The join is a goro_wg on the
 * parent's stack (automatic storage, as the API allows; Go's peer uses an
 * unbuffered channel, which goro would have to allocate and free per call).
 * Checks the result 75025 and that fib(26)-1 = 121392 goroutines were
 * spawned.  Result: ms (wall), goroutines (number spawned).
 */
#include "bench.h"

#define ARG 25
#define WANT_RESULT 75025
#define WANT_SPAWNED 121392

static int64_t spawned;

struct call {
	int n;			/* argument, set by the parent */
	int result;		/* set by the child before goro_wg_done */
	goro_wg_t done;		/* the join: the parent waits, the child is done */
};

static int fib(int n);

static void
child(void *arg)
{
	struct call *c = arg;

	c->result = fib(c->n);
	goro_wg_done(&c->done);
}

static int
fib(int n)
{
	struct call c;
	int b;

	if (n < 2)
		return n;
	c.n = n - 1;
	goro_wg_init(&c.done);
	goro_wg_add(&c.done, 1);
	__atomic_fetch_add(&spawned, 1, __ATOMIC_RELAXED);
	bench_go(child, &c);
	b = fib(n - 2);
	goro_wg_wait(&c.done);
	return c.result + b;
}

static void
body(void *arg)
{
	int64_t start, elapsed;
	int r;

	(void)arg;
	bench_maxprocs(2);

	start = goro_now();
	r = fib(ARG);
	elapsed = goro_now() - start;

	if (r != WANT_RESULT || spawned != WANT_SPAWNED)
		bench_die("result=%d spawned=%lld, want %d and %d",
		    r, (long long)spawned, WANT_RESULT, WANT_SPAWNED);
	bench_result("ms=%.2f goroutines=%lld", (double)elapsed / 1e6,
	    (long long)spawned);
}

int
main(void)
{
	return bench_start("fib", body, NULL);
}
