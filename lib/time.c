/*
 * time.c - per-P timer heaps, goro_sleep and goro_now.
 *
 * Each P keeps a binary min-heap of timers under its own timerlock (Go's
 * per-P timers): a sleeping G adds its timer to the P it runs on, so
 * timers spread over Ps and no global lock is hot.  p->timer0when mirrors
 * the heap's top so that the scheduler and sysmon can read it without the
 * lock.
 *
 * Who runs a P's timers: its own M on every pass through the scheduler;
 * a spinning M, which steals expired timers from a victim on its last
 * stealing pass; an M with nothing to run sleeps until the earliest timer
 * of all Ps.  A timer that expires behind a G hogging its P is sysmon's
 * business: it preempts the hog (sysmon/sysmon.c), so sleepers do not
 * starve behind call-free loops.
 *
 * A timer's callback runs on the scheduler stack of an M holding a P,
 * without the timer lock; it may ready Gs.
 */
#include "runtime.h"

#include <stdlib.h>
#include <time.h>

static void siftup(goro__timer_t **h, int i)
{
	goro__timer_t *t = h[i];
	while (i > 0) {
		int parent = (i - 1) / 2;
		if (h[parent]->when <= t->when)
			break;
		h[i] = h[parent];
		h[i]->idx = i;
		i = parent;
	}
	h[i] = t;
	t->idx = i;
}

static void siftdown(goro__timer_t **h, int n, int i)
{
	goro__timer_t *t = h[i];
	for (;;) {
		int c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1]->when < h[c]->when)
			c++;
		if (h[c]->when >= t->when)
			break;
		h[i] = h[c];
		h[i]->idx = i;
		i = c;
	}
	h[i] = t;
	t->idx = i;
}

static void update0(p_t *p)
{
	atomic_store_explicit(&p->timer0when, p->ntimers ? p->timers[0]->when : 0,
	    memory_order_release);
}

/* p->timerlock held. */
static void heap_add(p_t *p, goro__timer_t *t)
{
	if (p->ntimers == p->timerscap) {
		int cap = p->timerscap ? p->timerscap * 2 : 64;
		goro__timer_t **n = realloc(p->timers, (size_t)cap * sizeof *n);
		if (n == NULL)
			goro__throw("out of memory growing a timer heap");
		p->timers = n;
		p->timerscap = cap;
	}
	p->timers[p->ntimers] = t;
	atomic_store_explicit(&t->p, p, memory_order_release);
	siftup(p->timers, p->ntimers++);
	update0(p);
}

/* p->timerlock held; t is on p's heap. */
static void heap_del(p_t *p, goro__timer_t *t)
{
	int i = t->idx;
	if (i < 0 || i >= p->ntimers || p->timers[i] != t)
		goro__throw("deltimer: timer heap corrupted");
	int last = --p->ntimers;
	if (i != last) {
		p->timers[i] = p->timers[last];
		p->timers[i]->idx = i;
		siftdown(p->timers, p->ntimers, i);
		siftup(p->timers, p->timers[i]->idx);
	}
	atomic_store_explicit(&t->p, NULL, memory_order_release);
	update0(p);
}

/*
 * The G running on p added a timer at `when`: if other Gs wait on p, the
 * timer may expire behind one of them; sysmon must know the new deadline.
 */
static void timer_added(p_t *p, int64_t when)
{
	if (p->timers[0]->when == when &&
	    (!goro__runqempty(p) || atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) > 0))
		goro__sysmon_wake();
}

void goro__addtimer(p_t *p, goro__timer_t *t)
{
	goro__lock(&p->timerlock);
	heap_add(p, t);
	timer_added(p, t->when);
	goro__unlock(&p->timerlock);
}

bool goro__deltimer(goro__timer_t *t)
{
	for (;;) {
		p_t *p = atomic_load_explicit(&t->p, memory_order_acquire);
		if (p == NULL)
			return false;
		goro__lock(&p->timerlock);
		if (atomic_load_explicit(&t->p, memory_order_relaxed) != p) {
			goro__unlock(&p->timerlock);
			continue;	/* moved or fired meanwhile */
		}
		heap_del(p, t);
		goro__unlock(&p->timerlock);
		return true;
	}
}

int64_t goro__runtimers(p_t *p, int64_t now)
{
	int64_t w = atomic_load_explicit(&p->timer0when, memory_order_acquire);
	if (w == 0 || w > now)
		return w;
	bool fired = false;
	goro__lock(&p->timerlock);
	while (p->ntimers > 0 && p->timers[0]->when <= now) {
		goro__timer_t *t = p->timers[0];
		heap_del(p, t);
		goro__unlock(&p->timerlock);
		t->f(t);
		fired = true;
		goro__lock(&p->timerlock);
	}
	w = p->ntimers ? p->timers[0]->when : 0;
	goro__unlock(&p->timerlock);
	/*
	 * A G woken by a timer goes to runnext, and a G from runnext inherits
	 * the time slice -- here, the slice of whatever ran before (a hog,
	 * preempted for this very timer): it would look overdue and be
	 * preempted again at once, to the back of the global queue.  So a
	 * fresh slice begins (only on our own P: a victim's running G keeps
	 * its slice).
	 */
	m_t *m = goro__m;
	if (fired && m && m->p == p)
		atomic_store_explicit(&p->runstart, goro__cycles(), memory_order_relaxed);
	return w;
}

void goro__movetimers(p_t *p, p_t *dst)
{
	if (p == dst)
		return;
	goro__lock(&p->timerlock);
	goro__lock(&dst->timerlock);
	while (p->ntimers > 0) {
		goro__timer_t *t = p->timers[p->ntimers - 1];
		heap_del(p, t);
		heap_add(dst, t);
	}
	goro__unlock(&dst->timerlock);
	goro__unlock(&p->timerlock);
}

/* ---- goro_sleep ----------------------------------------------------------- */

static void sleep_fire(goro__timer_t *t)
{
	goro__ready(t->arg, true);
}

static bool sleep_commit(g_t *g, void *arg)
{
	p_t *p = arg;
	goro__unlock(&p->timerlock);
	return true;
}

GORO__EXPORT int64_t goro_now(void)
{
	return goro__nanotime();
}

GORO__EXPORT int goro_sleep(int64_t ns)
{
	g_t *g = getg();
	if (g == NULL) {
		if (ns <= 0)
			return 0;
		/* Outside a goroutine: an ordinary thread sleep. */
		struct timespec ts = { ns / 1000000000, ns % 1000000000 };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		return 0;
	}
	if (ns <= 0) {
		goro__gosched();
		return 0;
	}
	goro__timer_t t = { 0 };
	t.when = goro__nanotime() + ns;
	if (t.when < 0)		/* overflow: forever, as far as anyone can tell */
		t.when = INT64_MAX;
	t.f = sleep_fire;
	t.arg = g;
	m_t *m = goro__acquirem();
	p_t *p = m->p;
	/*
	 * Hold the heap's lock until we are parked: the timer may fire on
	 * another M (stolen) as soon as the lock drops.
	 */
	goro__lock(&p->timerlock);
	heap_add(p, &t);
	timer_added(p, t.when);
	goro__releasem(m);
	goro__gopark(sleep_commit, p, WAIT_SLEEP);
	return 0;
}
