/*
 * proc.c - the scheduler: Gs, Ps and Ms, and the loop that binds them.
 *
 * This is Go's proc.go in C.  An M (thread) runs Gs (goroutines) only
 * while it holds a P (processor); there are gomaxprocs Ps, so at most that
 * many Gs execute user code at once, however many threads are blocked in
 * system calls.  Each M runs schedule() on its own pthread stack (its g0,
 * the "scheduler stack"): a G enters the scheduler with goro__mcall, which
 * saves the G's context and calls a function on g0 -- so when the G is
 * queued or woken, nobody is still running on its stack.
 *
 * Finding work (findrunnable), in order: this P's expired timers; every
 * 61st tick the global queue first, so a pair of Gs ping-ponging through
 * runnext cannot starve it; runnext; the local ring; the global queue;
 * then stealing half of a random victim's ring (and, on the last pass,
 * its runnext and expired timers).  At most gomaxprocs/2 Ms spin; an M
 * that finds nothing releases its P and parks on its note.  Whoever makes
 * a G runnable calls wakep(), which starts a spinning M if some P is idle
 * and nobody spins -- the spinning M, once it finds work, wakes the next.
 * This keeps one M searching at most per burst of new work, and a parked
 * P never misses work: before parking, an M rechecks every queue after it
 * gave up its P and stopped spinning (the "delicate dance" of Go's
 * findrunnable).
 *
 * Rejected: a single global queue (lock contention, no locality); an M
 * per G (kernel context switches and 8 MiB stacks); waking every idle M
 * on new work (thundering herd).
 *
 * The main G's return ends the runtime: sched.exiting is set, M0 (the
 * thread in goro_run) leaves at its next trip through the scheduler, and
 * every other M exits its thread when it next finds itself there.
 *
 * The scheduler is four files: this one (Gs: allocation, free lists, ids;
 * the idle P and M lists), m.c (threads: start, park, wake, hand-off),
 * sched.c (the schedule loop and the ways into it) and run.c (goro_run,
 * resizing, teardown).
 */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct goro__sched goro__sched;

const char *const goro__waitreason_str[WAIT_NREASONS] = {
	[WAIT_NONE] = "",
	[WAIT_SLEEP] = "sleep",
	[WAIT_CHAN_SEND] = "chan send",
	[WAIT_CHAN_RECV] = "chan receive",
	[WAIT_SELECT] = "select",
	[WAIT_SELECT_NOCASES] = "select (no cases)",
	[WAIT_MUTEX] = "sync.Mutex.Lock",
	[WAIT_WG] = "sync.WaitGroup.Wait",
	[WAIT_LOCKED_THREAD] = "locked thread",
	[WAIT_PREEMPTED] = "preempted",
};

/* Every G ever allocated (they are reused, never freed while running). */
static goro__lock_t allglock;
static g_t **allgs;
static size_t nallgs, capallgs;

static m_t *m0;
static int mnext;		/* next M id (sched.lock) */
static _Atomic int mlive;	/* threads started and not yet exited */

static void schedule_loop(void) __attribute__((noreturn));
static void execute(g_t *g, bool inherit) __attribute__((noreturn));

/* ---- G allocation -------------------------------------------------------- */

static void allgadd(g_t *g)
{
	goro__lock(&allglock);
	if (nallgs == capallgs) {
		size_t cap = capallgs ? capallgs * 2 : 1024;
		g_t **n = realloc(allgs, cap * sizeof *n);
		if (!n)
			goro__throw("out of memory growing allgs");
		allgs = n;
		capallgs = cap;
	}
	allgs[nallgs++] = g;
	goro__unlock(&allglock);
}

/* Visit every G; f runs with allglock held (no allocation, no parking). */
void goro__forallg(void (*f)(g_t *g, void *arg), void *arg)
{
	goro__lock(&allglock);
	for (size_t i = 0; i < nallgs; i++)
		f(allgs[i], arg);
	goro__unlock(&allglock);
}

/* Put a dead G on p's free list; spill half to the global list when long. */
static void gfput(p_t *p, g_t *g)
{
	g->schedlink = p->gfree;
	p->gfree = g;
	if (++p->gfreecnt < GFREE_MAX)
		return;
	goro__lock(&goro__sched.lock);
	while (p->gfreecnt > GFREE_MAX / 2) {
		g_t *x = p->gfree;
		p->gfree = x->schedlink;
		p->gfreecnt--;
		x->schedlink = goro__sched.gfree;
		goro__sched.gfree = x;
		goro__sched.ngfree++;
	}
	goro__unlock(&goro__sched.lock);
}

static g_t *gfget(p_t *p)
{
	if (p->gfree == NULL && goro__sched.ngfree > 0) {
		goro__lock(&goro__sched.lock);
		while (p->gfreecnt < GFREE_MAX / 2 && goro__sched.gfree) {
			g_t *x = goro__sched.gfree;
			goro__sched.gfree = x->schedlink;
			goro__sched.ngfree--;
			x->schedlink = p->gfree;
			p->gfree = x;
			p->gfreecnt++;
		}
		goro__unlock(&goro__sched.lock);
	}
	g_t *g = p->gfree;
	if (g) {
		p->gfree = g->schedlink;
		p->gfreecnt--;
	}
	return g;
}

/* Move all of p's free Gs to the global list (p is being destroyed). sched.lock held. */
static void gfpurge_locked(p_t *p)
{
	while (p->gfree) {
		g_t *x = p->gfree;
		p->gfree = x->schedlink;
		x->schedlink = goro__sched.gfree;
		goro__sched.gfree = x;
		goro__sched.ngfree++;
	}
	p->gfreecnt = 0;
}

static void gfpurge(p_t *p)
{
	goro__lock(&goro__sched.lock);
	gfpurge_locked(p);
	goro__unlock(&goro__sched.lock);
}

int64_t goro__newgoid(p_t *p)
{
	enum { BATCH = 16 };
	if (p == NULL)
		return atomic_fetch_add(&goro__sched.goidgen, 1) + 1;
	if (p->goidcache == p->goidcacheend) {
		p->goidcache = atomic_fetch_add(&goro__sched.goidgen, BATCH) + 1;
		p->goidcacheend = p->goidcache + BATCH;
	}
	return p->goidcache++;
}

static void gentry(void) __attribute__((noreturn));

#define SPAWN_BACKLOG 64	/* see "Back-pressure" in goro__newproc */

int64_t goro__gcount(void)
{
	int64_t n = atomic_load_explicit(&goro__sched.ngoroutines, memory_order_relaxed);
	int nall = goro__sched.nallp;
	for (int i = 0; i < nall; i++)
		n += atomic_load_explicit(&goro__sched.allp[i]->gdelta, memory_order_relaxed);
	return n;
}

/*
 * Create a runnable G.  Called by goro_go on a G (with a P) or, rarely,
 * from a thread outside the runtime (then p is NULL and the G goes to the
 * global queue).  Returns the G's id or -1 (ENOMEM).
 */
int64_t goro__newproc(const goro_attr_t *attr, void (*fn)(void *), void *arg)
{
	m_t *m = goro__acquirem();
	p_t *p = m ? m->p : NULL;
	if (p && atomic_load_explicit(&m->insyscall, memory_order_relaxed))
		p = NULL;	/* between syscall enter and exit: not ours to use */
	size_t ss = attr && attr->stack_size ? attr->stack_size : GORO_STACK_DEFAULT;
	g_t *g = p ? gfget(p) : NULL;
	if (g) {
		if (g->stack_size != ss) {
			goro__stackfree(g);
			g->stack_size = ss;
		}
	} else {
		g = calloc(1, sizeof *g);
		if (g == NULL) {
			goro__releasem(m);
			errno = ENOMEM;
			return -1;
		}
		g->stack_size = ss;
		g->status = G_DEAD;
		allgadd(g);
	}
	g->fn = fn;
	g->arg = arg;
	g->name = attr ? attr->name : NULL;
	g->goid = goro__newgoid(p);
	g->saved_errno = 0;
	g->cpucycles = 0;
	g->preemptoff = 0;
	g->preempt_pending = false;
	g->spawnslow = false;
	atomic_store_explicit(&g->cpubound, false, memory_order_relaxed);
	atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
	g->lockedm = NULL;
	g->lockcount = 0;
	g->waitreason = WAIT_NONE;
	g->redirect_slot = NULL;
	g->errnodefer = 0;
	if (g->stack_lo)	/* a reused stack: fresh context now */
		goro__ctx_make(&g->ctx, g->stack_hi, gentry);
	goro__gcount_add(p, 1);
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
	int64_t id = g->goid;
	if (p) {
		goro__runqput(p, g, true);
	} else {
		goro__globrunqput(g);
	}
	goro__wakep();
	goro__releasem(m);
	/*
	 * Back-pressure: a G that spawns faster than its P runs what it
	 * spawns builds a backlog of Gs that each need a stack: past a few
	 * dozen they no longer fit in the caches, past a ring they spill to
	 * the global queue, and fresh ones cost page faults.  So past
	 * SPAWN_BACKLOG queued on its P it yields, and short Gs cycle
	 * through a few warm stacks.  But a backlog of long Gs (CPU-bound
	 * ones, each running a quantum) would hold the spawner up for many
	 * quanta: a yield that took over a millisecond marks it
	 * (g->spawnslow), and it then yields only past a backlog of 1024
	 * per P in the global queue.  Go has no such rule; its 2 KiB stacks
	 * come from a heap allocator.
	 */
	if (p && goro__runqlen(p) > SPAWN_BACKLOG) {
		g_t *cur = m->curg;
		if (cur && cur->preemptoff == 0 && cur->lockedm == NULL &&
		    (!cur->spawnslow || atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) >
		    1024 * (uint64_t)atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed))) {
			uint64_t t0 = goro__cycles();
			goro__spawnyield();
			cur->spawnslow = goro__cycles() - t0 > goro__ns2cycles(1000000);
		}
	}
	return id;
}

/* ---- P and M lists (sched.lock held) -------------------------------------- */

/* Put p on the idle list.  sched.lock held; p's ring must be empty. */
void goro__pidleput(p_t *p)
{
	if (!goro__runqempty(p))
		goro__throw("pidleput: P has a non-empty run queue");
	p->m = NULL;
	atomic_store_explicit(&p->idlesince, goro__cycles(), memory_order_relaxed);
	atomic_store(&p->status, P_IDLE);
	p->link = goro__sched.pidle;
	goro__sched.pidle = p;
	atomic_fetch_add(&goro__sched.npidle, 1);
}

/* Take an idle P.  sched.lock held.  NULL if none. */
p_t *goro__pidleget(void)
{
	p_t *p = goro__sched.pidle;
	if (p) {
		goro__sched.pidle = p->link;
		p->link = NULL;
		atomic_fetch_sub(&goro__sched.npidle, 1);
	}
	return p;
}

/* Remove p from the idle list if it is there.  sched.lock held. */
static bool pidleremove(p_t *p)
{
	for (p_t **pp = &goro__sched.pidle; *pp; pp = &(*pp)->link) {
		if (*pp == p) {
			*pp = p->link;
			p->link = NULL;
			atomic_fetch_sub(&goro__sched.npidle, 1);
			return true;
		}
	}
	return false;
}

static void mput(m_t *m)
{
	m->link = goro__sched.midle;
	goro__sched.midle = m;
	goro__sched.nmidle++;
	goro__checkdead();
}

static m_t *mget(void)
{
	m_t *m = goro__sched.midle;
	if (m) {
		goro__sched.midle = m->link;
		m->link = NULL;
		goro__sched.nmidle--;
	}
	return m;
}

static bool mremove(m_t *m)
{
	for (m_t **pp = &goro__sched.midle; *pp; pp = &(*pp)->link) {
		if (*pp == m) {
			*pp = m->link;
			m->link = NULL;
			goro__sched.nmidle--;
			return true;
		}
	}
	return false;
}

/* Attach p to the current M. */
static void acquirep(p_t *p)
{
	m_t *m = goro__m;
	if (m->p != NULL || p->m != NULL)
		goro__throw("acquirep: P or M already attached");
	if (atomic_load(&p->status) == P_DEAD)
		goro__throw("acquirep: dead P");
	m->p = p;
	p->m = m;
	/* A fresh slice: its first G may come from runnext, which inherits one. */
	atomic_store_explicit(&p->runstart, goro__cycles(), memory_order_relaxed);
	atomic_store_explicit(&p->timedm, NULL, memory_order_relaxed);
	atomic_store_explicit(&p->watchm, NULL, memory_order_relaxed);
	atomic_store(&p->status, P_RUNNING);
	goro__sysmon_pbusy();
}

static p_t *releasep(void)
{
	m_t *m = goro__m;
	p_t *p = m->p;
	if (p == NULL || p->m != m)
		goro__throw("releasep: invalid P state");
	m->p = NULL;
	p->m = NULL;
	atomic_store(&p->status, P_IDLE);
	return p;
}

