/*
 * check_runq.c - the run queues of lib/runq.c, white-box.
 *
 * These tests drive goro__runqput/get/grab/steal and goro__globrunqget on
 * P and G structs allocated here, without starting a runtime: no M runs
 * on these threads (goro__m is NULL), so the runtime locks skip their
 * per-M counters and nothing else of the scheduler is involved.  The
 * global queue lives in goro__sched, which each test that touches it
 * zeroes first (Check forks per test, so nothing leaks between tests).
 *
 * The last test is the one that matters most: an owner putting and
 * getting while three thieves steal, for about a second, and every G
 * accounted for exactly once -- nothing lost, nothing run twice.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime.h"
#include "goro_test.h"

/* ---- helpers ---------------------------------------------------------- */

static p_t *
newp(int id)
{
	p_t *p = calloc(1, sizeof *p);

	ck_assert_ptr_nonnull(p);
	p->id = id;
	return p;
}

/* n Gs with ids 1..n (index i holds id i + 1). */
static g_t **
newgs(int n)
{
	g_t **gs = calloc((size_t)n, sizeof *gs);

	ck_assert_ptr_nonnull(gs);
	for (int i = 0; i < n; i++) {
		gs[i] = calloc(1, sizeof **gs);
		ck_assert_ptr_nonnull(gs[i]);
		gs[i]->goid = i + 1;
		gs[i]->status = G_RUNNABLE;
	}
	return gs;
}

static void
freegs(g_t **gs, int n)
{
	for (int i = 0; i < n; i++)
		free(gs[i]);
	free(gs);
}

/* A fresh, empty global queue for a runtime with nprocs Ps. */
static void
resetsched(int nprocs)
{
	memset(&goro__sched, 0, sizeof goro__sched);
	atomic_store(&goro__sched.gomaxprocs, nprocs);
}

/* Take the next G of p, which must exist, and check whether it came from runnext. */
static int64_t
getid(p_t *p, bool want_inherit)
{
	bool inherit = !want_inherit;
	g_t *g = goro__runqget(p, &inherit);

	ck_assert_msg(g != NULL, "run queue empty too early");
	ck_assert_msg(inherit == want_inherit, "G %lld: inherit %d, want %d",
	    (long long)g->goid, inherit, want_inherit);
	return g->goid;
}

static void
assert_empty(p_t *p)
{
	bool inherit;

	ck_assert(goro__runqempty(p));
	ck_assert_uint_eq(goro__runqlen(p), 0);
	ck_assert_ptr_null(goro__runqget(p, &inherit));
}

/* ---- put and get ------------------------------------------------------- */

START_TEST(test_fifo)
{
	/* Several laps of the ring, so the indices wrap. */
	enum { N = 200, LAPS = 5 };
	p_t *p = newp(0);
	g_t **gs = newgs(N);

	resetsched(1);
	assert_empty(p);
	for (int lap = 0; lap < LAPS; lap++) {
		for (int i = 0; i < N; i++) {
			ck_assert(!goro__runqput(p, gs[i], false));
			ck_assert_uint_eq(goro__runqlen(p), (unsigned)i + 1);
			ck_assert(!goro__runqempty(p));
		}
		for (int i = 0; i < N; i++)
			ck_assert_int_eq(getid(p, false), i + 1);
		assert_empty(p);
	}
	/* Interleaved: put two, get one. */
	int next = 1;
	for (int i = 0; i < N; i += 2) {
		goro__runqput(p, gs[i], false);
		goro__runqput(p, gs[i + 1], false);
		ck_assert_int_eq(getid(p, false), next++);
	}
	while (next <= N)
		ck_assert_int_eq(getid(p, false), next++);
	assert_empty(p);
	ck_assert_uint_eq(goro__sched.runqsize, 0);
	freegs(gs, N);
	free(p);
}
END_TEST

START_TEST(test_runnext)
{
	p_t *p = newp(0);
	g_t **gs = newgs(5);

	resetsched(1);
	/* runnext is taken first, and marked as inheriting the time slice. */
	goro__runqput(p, gs[0], false);
	goro__runqput(p, gs[1], true);
	ck_assert(!goro__runqempty(p));
	ck_assert_uint_eq(goro__runqlen(p), 1);		/* the ring only */
	ck_assert_int_eq(getid(p, true), 2);
	ck_assert_int_eq(getid(p, false), 1);
	assert_empty(p);

	/* Only runnext: not empty, though the ring is. */
	goro__runqput(p, gs[2], true);
	ck_assert(!goro__runqempty(p));
	ck_assert_uint_eq(goro__runqlen(p), 0);
	ck_assert_int_eq(getid(p, true), 3);
	assert_empty(p);

	/* A second runnext put kicks the old one to the tail of the ring. */
	goro__runqput(p, gs[0], false);		/* ring: 1 */
	goro__runqput(p, gs[1], true);		/* runnext: 2 */
	goro__runqput(p, gs[2], true);		/* runnext: 3, ring: 1 2 */
	goro__runqput(p, gs[3], false);		/* ring: 1 2 4 */
	goro__runqput(p, gs[4], true);		/* runnext: 5, ring: 1 2 4 3 */
	ck_assert_uint_eq(goro__runqlen(p), 4);
	ck_assert_int_eq(getid(p, true), 5);
	ck_assert_int_eq(getid(p, false), 1);
	ck_assert_int_eq(getid(p, false), 2);
	ck_assert_int_eq(getid(p, false), 4);
	ck_assert_int_eq(getid(p, false), 3);
	assert_empty(p);
	ck_assert_uint_eq(goro__sched.runqsize, 0);
	freegs(gs, 5);
	free(p);
}
END_TEST

/* ---- stealing ---------------------------------------------------------- */

/*
 * For every n from 1 to a full ring: a victim with n Gs in its ring loses
 * ceil(n/2) of them, the oldest, to an empty thief; the thief's runqsteal
 * returns the last of those and queues the rest in order.
 */
START_TEST(test_steal_half)
{
	g_t **gs = newgs(RUNQ_SIZE);

	resetsched(2);
	for (int n = 1; n <= RUNQ_SIZE; n++) {
		p_t *victim = newp(0), *thief = newp(1);
		int half = n - n / 2;	/* ceil(n/2) */

		/* Start both rings mid-way so the copy wraps around. */
		atomic_store(&victim->runqhead, 200u + (unsigned)n);
		atomic_store(&victim->runqtail, 200u + (unsigned)n);
		atomic_store(&thief->runqhead, 250u);
		atomic_store(&thief->runqtail, 250u);
		for (int i = 0; i < n; i++)
			goro__runqput(victim, gs[i], false);

		g_t *g = goro__runqsteal(thief, victim, false);
		ck_assert_ptr_nonnull(g);
		ck_assert_int_eq(g->goid, half);
		ck_assert_uint_eq(goro__runqlen(thief), (unsigned)half - 1);
		ck_assert_uint_eq(goro__runqlen(victim), (unsigned)(n - half));
		for (int i = 0; i < half - 1; i++)
			ck_assert_int_eq(getid(thief, false), i + 1);
		assert_empty(thief);
		for (int i = half; i < n; i++)
			ck_assert_int_eq(getid(victim, false), i + 1);
		assert_empty(victim);
		free(victim);
		free(thief);
	}
	freegs(gs, RUNQ_SIZE);
}
END_TEST

/* runqgrab: half of the ring into a batch; runnext only when asked and the ring is empty. */
START_TEST(test_grab)
{
	g_t **gs = newgs(8);
	g_t *batch[RUNQ_SIZE];
	p_t *victim = newp(0), *thief = newp(1);

	resetsched(2);
	/* Nothing to take. */
	ck_assert_uint_eq(goro__runqgrab(victim, batch, 0, true), 0);
	ck_assert_ptr_null(goro__runqsteal(thief, victim, true));

	/* A ring of 5 and a runnext: 3 from the ring, runnext stays. */
	for (int i = 0; i < 5; i++)
		goro__runqput(victim, gs[i], false);
	goro__runqput(victim, gs[5], true);
	ck_assert_uint_eq(goro__runqgrab(victim, batch, RUNQ_SIZE - 1, true), 3);
	ck_assert_int_eq(batch[RUNQ_SIZE - 1]->goid, 1);	/* batch is a ring too */
	ck_assert_int_eq(batch[0]->goid, 2);
	ck_assert_int_eq(batch[1]->goid, 3);
	ck_assert_uint_eq(goro__runqlen(victim), 2);
	ck_assert_int_eq(getid(victim, true), 6);
	ck_assert_int_eq(getid(victim, false), 4);
	ck_assert_int_eq(getid(victim, false), 5);
	assert_empty(victim);

	/* Only a runnext: stolen with stealnext, left alone without. */
	goro__runqput(victim, gs[6], true);
	ck_assert_ptr_null(goro__runqsteal(thief, victim, false));
	ck_assert(!goro__runqempty(victim));
	g_t *g = goro__runqsteal(thief, victim, true);
	ck_assert_ptr_eq(g, gs[6]);
	assert_empty(victim);
	assert_empty(thief);
	free(victim);
	free(thief);
	freegs(gs, 8);
}
END_TEST

/* ---- overflow to the global queue -------------------------------------- */

/*
 * A full ring (256) plus one: half the ring (the 128 oldest) and the new G
 * move to the global queue in one batch, in order; the ring keeps the 128
 * newest.  globrunqget then hands them back in order.
 */
START_TEST(test_overflow)
{
	enum { N = RUNQ_SIZE + 1, HALF = RUNQ_SIZE / 2 };
	p_t *p = newp(0);
	g_t **gs = newgs(N);
	int64_t order[N];
	int norder = 0;
	bool inherit;
	g_t *g;

	resetsched(1);
	for (int i = 0; i < RUNQ_SIZE; i++)
		ck_assert_msg(!goro__runqput(p, gs[i], false), "overflow at %d", i);
	ck_assert_uint_eq(goro__runqlen(p), RUNQ_SIZE);
	ck_assert_uint_eq(goro__sched.runqsize, 0);
	ck_assert_ptr_null(goro__sched.runqhead);

	ck_assert(goro__runqput(p, gs[RUNQ_SIZE], false));
	ck_assert_uint_eq(goro__sched.runqsize, HALF + 1);
	ck_assert_uint_eq(goro__runqlen(p), RUNQ_SIZE - HALF);

	/* The global list: 1..128 then 257, linked through schedlink. */
	int n = 0;
	for (g = goro__sched.runqhead; g != NULL; g = g->schedlink, n++) {
		int64_t want = n < HALF ? n + 1 : N;
		ck_assert_int_eq(g->goid, want);
		if (g->schedlink == NULL)
			ck_assert_ptr_eq(g, goro__sched.runqtail);
	}
	ck_assert_int_eq(n, HALF + 1);
	ck_assert_ptr_eq(goro__sched.runqtail, gs[N - 1]);

	/* The ring: 129..256. */
	for (int i = HALF; i < RUNQ_SIZE; i++)
		ck_assert_int_eq(getid(p, false), i + 1);
	assert_empty(p);

	/* Drain the global queue through globrunqget: the same order. */
	for (;;) {
		goro__lock(&goro__sched.lock);
		g = goro__globrunqget(p, 0);
		goro__unlock(&goro__sched.lock);
		if (g == NULL)
			break;
		ck_assert_int_lt(norder, N);
		order[norder++] = g->goid;
		while ((g = goro__runqget(p, &inherit)) != NULL) {
			ck_assert_int_lt(norder, N);
			order[norder++] = g->goid;
		}
	}
	ck_assert_int_eq(norder, HALF + 1);
	for (int i = 0; i < HALF; i++)
		ck_assert_int_eq(order[i], i + 1);
	ck_assert_int_eq(order[HALF], N);
	ck_assert_uint_eq(goro__sched.runqsize, 0);
	ck_assert_ptr_null(goro__sched.runqhead);
	ck_assert_ptr_null(goro__sched.runqtail);
	freegs(gs, N);
	free(p);
}
END_TEST

/* A runnext put on a full ring overflows the kicked G, not the new one. */
START_TEST(test_overflow_runnext)
{
	enum { N = RUNQ_SIZE + 2 };
	p_t *p = newp(0);
	g_t **gs = newgs(N);

	resetsched(1);
	for (int i = 0; i < RUNQ_SIZE; i++)
		goro__runqput(p, gs[i], false);
	ck_assert(!goro__runqput(p, gs[RUNQ_SIZE], true));	/* runnext was empty */
	ck_assert(goro__runqput(p, gs[RUNQ_SIZE + 1], true));	/* kicks 257 out */
	ck_assert_uint_eq(goro__sched.runqsize, RUNQ_SIZE / 2 + 1);
	ck_assert_ptr_eq(goro__sched.runqtail, gs[RUNQ_SIZE]);
	ck_assert_int_eq(getid(p, true), N);
	freegs(gs, N);
	free(p);
}
END_TEST

/* globrunqget: max bounds the batch; a fair share is size/nprocs + 1. */
START_TEST(test_globrunqget)
{
	enum { N = 100 };
	p_t *p = newp(0);
	g_t **gs = newgs(N);
	g_t *g;

	resetsched(4);
	for (int i = 0; i < N; i++)
		goro__globrunqput(gs[i]);
	ck_assert_uint_eq(goro__sched.runqsize, N);

	goro__lock(&goro__sched.lock);
	g = goro__globrunqget(p, 1);
	goro__unlock(&goro__sched.lock);
	ck_assert_int_eq(g->goid, 1);
	assert_empty(p);
	ck_assert_uint_eq(goro__sched.runqsize, N - 1);

	/* 99 left, 4 Ps: 99/4 + 1 = 25, one returned and 24 queued. */
	goro__lock(&goro__sched.lock);
	g = goro__globrunqget(p, 0);
	goro__unlock(&goro__sched.lock);
	ck_assert_int_eq(g->goid, 2);
	ck_assert_uint_eq(goro__runqlen(p), 24);
	ck_assert_uint_eq(goro__sched.runqsize, N - 26);
	for (int i = 0; i < 24; i++)
		ck_assert_int_eq(getid(p, false), i + 3);
	ck_assert_int_eq(goro__sched.runqhead->goid, 27);
	freegs(gs, N);
	free(p);
}
END_TEST

/*
 * After a park or an exit (goro__runqget_lifo): runnext first, then the
 * newest of the ring -- except the oldest once a millisecond, so a G at
 * the head is not passed over forever while newer ones keep coming.
 */
START_TEST(test_lifo)
{
	p_t *p = newp(0);
	g_t **gs = newgs(8);
	bool inherit;
	uint64_t ms = 1000000, now = 5 * ms;

	resetsched(1);
	atomic_store(&goro__sched.ms_cycles, ms);	/* a "cycle" is a ns here */
	goro__runqput(p, gs[0], false);		/* the old one: ring 1 */
	p->headpull = now;			/* the oldest was just taken */
	for (int i = 1; i < 5; i++)
		goro__runqput(p, gs[i], false);	/* ring: 1 2 3 4 5 */
	goro__runqput(p, gs[5], true);		/* runnext: 6 */
	g_t *g = goro__runqget_lifo(p, &inherit, now + 1);
	ck_assert_int_eq(g->goid, 6);
	ck_assert(inherit);
	/* Newest first while the millisecond runs ... */
	ck_assert_int_eq(goro__runqget_lifo(p, &inherit, now + 2)->goid, 5);
	ck_assert(!inherit);
	goro__runqput(p, gs[6], false);		/* ring: 1 2 3 4 7 */
	ck_assert_int_eq(goro__runqget_lifo(p, &inherit, now + ms - 1)->goid, 7);
	/* ... then the oldest, once, and newest first again. */
	ck_assert_int_eq(goro__runqget_lifo(p, &inherit, now + ms)->goid, 1);
	ck_assert_int_eq(goro__runqget_lifo(p, &inherit, now + ms + 1)->goid, 4);
	ck_assert_int_eq(goro__runqget_lifo(p, &inherit, now + 2 * ms)->goid, 2);
	ck_assert_int_eq(goro__runqget_lifo(p, &inherit, now + 2 * ms + 1)->goid, 3);
	ck_assert_ptr_null(goro__runqget_lifo(p, &inherit, now + 5 * ms));
	assert_empty(p);
	freegs(gs, 8);
	free(p);
}
END_TEST

/* ---- concurrent stealers ------------------------------------------------- */

/*
 * One owner puts and gets (from either end of its ring) on its P while
 * three thieves steal into their own Ps and drain them.  Every G put gets a fresh id; whoever takes it
 * marks seen[id].  The Gs themselves are recycled through a free list, so
 * the test runs for a fixed time with a bounded number of structs.
 */
enum { NTHIEVES = 3, POOL = 4096, MAXIDS = 32 * 1000 * 1000 };

static struct {
	p_t *owner;
	_Atomic bool stop;
	pthread_mutex_t freelock;
	g_t *freelist;
	int nfree;
	_Atomic uint8_t *seen;
	_Atomic int64_t taken, duplicates;
	_Atomic int64_t stolen[NTHIEVES];
} cs;

/* Mark g taken and give it back to the pool (batched through local). */
static void
take(g_t *g, g_t **local, int *nlocal)
{
	atomic_fetch_add_explicit(&cs.taken, 1, memory_order_relaxed);
	if (atomic_fetch_add_explicit(&cs.seen[g->goid], 1, memory_order_relaxed) != 0) {
		/* Taken twice: keep it out of the pool, or the free list would loop. */
		atomic_fetch_add(&cs.duplicates, 1);
		return;
	}
	g->schedlink = *local;
	*local = g;
	if (++*nlocal == 64) {
		g_t *last = g;
		while (last->schedlink != NULL)
			last = last->schedlink;
		pthread_mutex_lock(&cs.freelock);
		last->schedlink = cs.freelist;
		cs.freelist = *local;
		cs.nfree += *nlocal;
		pthread_mutex_unlock(&cs.freelock);
		*local = NULL;
		*nlocal = 0;
	}
}

static void *
thief_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	p_t *p = newp(me + 1);
	g_t *local = NULL;
	int nlocal = 0;
	bool inherit;
	unsigned k = 0;

	while (!atomic_load_explicit(&cs.stop, memory_order_relaxed)) {
		/* Sometimes take runnext too, as the last pass of findrunnable does. */
		g_t *g = goro__runqsteal(p, cs.owner, (++k & 7) == 0);
		if (g == NULL)
			continue;
		atomic_fetch_add(&cs.stolen[me], 1);
		take(g, &local, &nlocal);
		while ((g = goro__runqget(p, &inherit)) != NULL) {
			atomic_fetch_add(&cs.stolen[me], 1);
			take(g, &local, &nlocal);
		}
	}
	ck_assert(goro__runqempty(p));
	/* Gs still in local were counted; the owner no longer needs them. */
	free(p);
	return NULL;
}

static int64_t
nowns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

START_TEST(test_concurrent_stealers)
{
	pthread_t th[NTHIEVES];
	g_t *pool = calloc(POOL, sizeof *pool);
	g_t *local = NULL;
	int nlocal = 0;
	int64_t nextid = 1, owned = 0;
	bool inherit;
	unsigned r = 12345;

	ck_assert_ptr_nonnull(pool);
	resetsched(NTHIEVES + 1);
	memset(&cs, 0, sizeof cs);
	pthread_mutex_init(&cs.freelock, NULL);
	cs.seen = calloc(MAXIDS, 1);
	ck_assert_ptr_nonnull(cs.seen);
	cs.owner = newp(0);
	for (int i = 0; i < POOL; i++) {
		pool[i].schedlink = cs.freelist;
		cs.freelist = &pool[i];
	}
	cs.nfree = POOL;
	for (int i = 0; i < NTHIEVES; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, thief_main, (void *)(intptr_t)i), 0);

	int64_t deadline = nowns() + 1000000000LL;
	g_t *mine = NULL;	/* owner's private stock, refilled from the free list */
	while (nextid < MAXIDS - 16 && nowns() < deadline) {
		for (int burst = 0; burst < 256; burst++) {
			r = r * 1103515245u + 12345u;
			if (mine == NULL) {
				pthread_mutex_lock(&cs.freelock);
				mine = cs.freelist;
				cs.freelist = NULL;
				cs.nfree = 0;
				pthread_mutex_unlock(&cs.freelock);
			}
			/* Put 1..4 new Gs (one maybe to runnext), never overflowing. */
			int nput = 1 + (int)((r >> 16) & 7);
			for (int i = 0; i < nput && mine != NULL &&
			    goro__runqlen(cs.owner) < RUNQ_SIZE - 1; i++) {
				g_t *g = mine;
				mine = g->schedlink;
				g->schedlink = NULL;
				g->goid = nextid++;
				goro__runqput(cs.owner, g, ((r >> 20) & 7) == 0);
			}
			/*
			 * Get one about every third round, like a P running its
			 * Gs: from the head, or the newest from the tail, as a
			 * P does after a G parked or exited.
			 */
			if (((r >> 24) % 3) == 0) {
				g_t *g = ((r >> 26) & 1) ? goro__runqpoptail(cs.owner) :
				    goro__runqget(cs.owner, &inherit);
				if (g != NULL) {
					owned++;
					take(g, &local, &nlocal);
				}
			}
			/*
			 * Now and then pop from the tail in a tight run, so that
			 * the owner reaches into the range a thief is copying.
			 */
			if (((r >> 12) & 63) == 0) {
				g_t *g;
				while ((g = goro__runqpoptail(cs.owner)) != NULL) {
					owned++;
					take(g, &local, &nlocal);
				}
			}
		}
	}
	atomic_store(&cs.stop, true);
	for (int i = 0; i < NTHIEVES; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	/* What the thieves left behind. */
	g_t *g;
	while ((g = goro__runqget(cs.owner, &inherit)) != NULL) {
		owned++;
		take(g, &local, &nlocal);
	}
	ck_assert(goro__runqempty(cs.owner));
	ck_assert_uint_eq(goro__sched.runqsize, 0);

	int64_t put = nextid - 1, stolen = 0;
	for (int i = 0; i < NTHIEVES; i++)
		stolen += atomic_load(&cs.stolen[i]);
	ck_assert_int_eq(cs.duplicates, 0);
	ck_assert_int_eq(cs.taken, put);
	ck_assert_int_eq(owned + stolen, put);
	int64_t missing = 0;
	for (int64_t id = 1; id <= put; id++)
		if (atomic_load_explicit(&cs.seen[id], memory_order_relaxed) != 1)
			missing++;
	ck_assert_msg(missing == 0, "%lld of %lld Gs lost or duplicated",
	    (long long)missing, (long long)put);
	/* The test only means something if all parties really raced. */
	ck_assert_int_gt(put, 100000);
	ck_assert_int_gt(stolen, 0);
	ck_assert_int_gt(owned, 0);
	fprintf(stderr, "concurrent stealers: %lld Gs put, %lld taken by the owner, "
	    "%lld stolen (%lld/%lld/%lld)\n", (long long)put, (long long)owned,
	    (long long)stolen, (long long)atomic_load(&cs.stolen[0]),
	    (long long)atomic_load(&cs.stolen[1]), (long long)atomic_load(&cs.stolen[2]));
	free((void *)cs.seen);
	free(cs.owner);
	free(pool);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

int
main(void)
{
	Suite *s = suite_create("runq");

	tcase(s, "put/get FIFO", test_fifo, 0, 1, 30);
	tcase(s, "runnext", test_runnext, 0, 1, 30);
	tcase(s, "steal half", test_steal_half, 0, 1, 30);
	tcase(s, "grab", test_grab, 0, 1, 30);
	tcase(s, "overflow to the global queue", test_overflow, 0, 1, 30);
	tcase(s, "overflow from runnext", test_overflow_runnext, 0, 1, 30);
	tcase(s, "global queue get", test_globrunqget, 0, 1, 30);
	tcase(s, "newest first after a park, the oldest once a ms", test_lifo, 0, 1, 30);
	tcase(s, "concurrent stealers", test_concurrent_stealers, 0, 1, 60);
	return goro_test_main(s);
}
