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
	atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
	g->lockedm = NULL;
	g->lockcount = 0;
	g->waitreason = WAIT_NONE;
	g->redirect_slot = NULL;
	g->errnodefer = 0;
	if (g->stack_lo)	/* a reused stack: fresh context now */
		goro__ctx_make(&g->ctx, g->stack_hi, gentry);
	atomic_fetch_add_explicit(&goro__sched.ngoroutines, 1, memory_order_relaxed);
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
	 * Back-pressure: a G that spawns faster than the Ps can run what it
	 * spawns builds a backlog of Gs that each need a fresh stack (a page
	 * fault and a guard: microseconds here).  Past a backlog of 1024 per
	 * P it yields, so that the backlog runs, dies and comes back as warm
	 * Gs for the next spawns.  Go has no such rule; its 2 KiB stacks come
	 * from a heap allocator.
	 */
	if (p && atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) >
	    1024 * (uint64_t)atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed)) {
		g_t *cur = m->curg;
		if (cur && cur->preemptoff == 0 && cur->lockedm == NULL)
			goro__gosched();
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

/* ---- Ms -------------------------------------------------------------------- */

static m_t *allocm(void)
{
	m_t *m = calloc(1, sizeof *m);
	if (m == NULL)
		goro__throw("out of memory allocating an M");
	m->statfd = -1;
	goro__lock(&goro__sched.lock);
	m->id = mnext++;
	m->alllink = goro__sched.allm;
	goro__sched.allm = m;
	goro__unlock(&goro__sched.lock);
	return m;
}

/* Per-thread set-up of an M, run on the new thread itself. */
static void minit(m_t *m)
{
	goro__m = m;
	m->tid = (pid_t)syscall(SYS_gettid);
	m->thread = pthread_self();
	if (pthread_getcpuclockid(m->thread, &m->cpuclock) != 0)
		m->cpuclock = CLOCK_THREAD_CPUTIME_ID;
	if (goro__sigaltstack_init(m) != 0)
		goro__throw("cannot allocate a signal stack");
	goro__preempt_minit(m);
}

static void mstart_m(void)
{
	m_t *m = goro__m;
	if (m->nextp) {
		p_t *p = m->nextp;
		m->nextp = NULL;
		acquirep(p);
	}
	m->segstart = goro__cycles();
	schedule_loop();
}

static void *mstart_thread(void *arg)
{
	m_t *m = arg;
	minit(m);
	if (m->mstartfn) {
		m->mstartfn();
	} else {
		/*
		 * g0 is this pthread stack, below this frame.  We leave it
		 * by jumping back to g0ctx (schedexit), so the thread ends
		 * by returning from here: no pthread_exit unwinding through
		 * scheduler frames that have no way back.
		 */
		char *sp = (char *)__builtin_frame_address(0) - 8192;
		m->g0sp = (void *)((uintptr_t)sp & ~(uintptr_t)15);
		goro__ctx_t start;
		goro__ctx_make(&start, m->g0sp, mstart_m);
		goro__ctx_switch(&m->g0ctx, &start);
	}
	atomic_fetch_sub(&mlive, 1);
	goro__m = NULL;
	return NULL;
}

/* Start a new thread for M m.  Throws past the thread limit. */
static void newosproc(m_t *m)
{
	int n = atomic_fetch_add(&goro__sched.mcount, 1) + 1;
	if (n > goro__sched.maxmcount) {
		char msg[128];
		snprintf(msg, sizeof msg,
		    "thread exhaustion: program exceeds the %d-thread limit of goro",
		    goro__sched.maxmcount);
		goro__throw(msg);
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 1 << 20);
	atomic_fetch_add(&mlive, 1);
	int rc = pthread_create(&m->thread, &attr, mstart_thread, m);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		char msg[128];
		snprintf(msg, sizeof msg, "pthread_create failed (%s) with %d threads",
		    strerror(rc), n);
		goro__throw(msg);
	}
}

/* Create an M to run p (spinning or not). */
static void newm(p_t *p, bool spinning)
{
	m_t *m = allocm();
	m->nextp = p;
	m->spinning = spinning;
	newosproc(m);
}

/* Start a thread that is not an M of the scheduler (sysmon). */
m_t *goro__newm_sys(void (*fn)(void))
{
	m_t *m = allocm();
	m->mstartfn = fn;
	goro__lock(&goro__sched.lock);
	goro__sched.nmsys++;
	goro__unlock(&goro__sched.lock);
	/* sysmon does not count against the thread limit */
	atomic_fetch_sub(&goro__sched.mcount, 1);
	newosproc(m);
	return m;
}

/* Leave the scheduler for good: M0 returns to goro_run, others exit. */
static void schedexit(m_t *m) __attribute__((noreturn));
static void schedexit(m_t *m)
{
	if (m->p) {
		goro__lock(&goro__sched.lock);
		p_t *p = releasep();
		p->link = goro__sched.pidle;	/* runq may be non-empty: abandoned */
		goro__sched.pidle = p;
		goro__unlock(&goro__sched.lock);
	}
	goro__ctx_jump(&m->g0ctx);	/* M0: back in goro_run; others: thread returns */
}

static bool standby_take(m_t *m);

/*
 * Park the current M until it is handed a P (or the runtime ends).
 * timeout > 0: also wake then, to run timers (the M has no P after that).
 * Precondition: no P held.
 */
static void stopm(int64_t timeout)
{
	m_t *m = goro__m;
	if (m->p)
		goro__throw("stopm holding p");
	if (m->spinning)
		goro__throw("stopm spinning");
	goro__lock(&goro__sched.lock);
	if (atomic_load(&goro__sched.exiting)) {
		goro__unlock(&goro__sched.lock);
		schedexit(m);
	}
	mput(m);
	m->blocked = true;
	goro__unlock(&goro__sched.lock);
	/* The note is cleared by whoever consumes a wake-up, after it. */
	bool woken = goro__notetsleep(&m->park, timeout > 0 ? timeout : -1);
	if (!woken) {
		goro__lock(&goro__sched.lock);
		if (mremove(m)) {
			/* Nobody claimed us: a timer wake-up. */
			m->blocked = false;
			goro__unlock(&goro__sched.lock);
			m->segstart = goro__cycles();
			return;
		}
		/* Someone took us off the list: their wake-up is coming. */
		goro__unlock(&goro__sched.lock);
		goro__notesleep(&m->park);
	}
	goro__noteclear(&m->park);
	m->blocked = false;
	if (atomic_load(&goro__sched.exiting))
		schedexit(m);
	if (m->standbyp && !standby_take(m)) {
		stopm(timeout);		/* not needed after all: idle again */
		return;
	}
	p_t *np = __atomic_load_n(&m->nextp, __ATOMIC_ACQUIRE);
	if (np) {
		m->nextp = NULL;
		acquirep(np);
	}
	m->segstart = goro__cycles();
}

/*
 * Woken as a stand-by (sysmon.c): spin until the mark of the syscall we
 * watch, then take its P ourselves if the call still lasts -- one CAS,
 * no wake-up latency, sysmon not involved.  Give up if the call ends
 * first.  True if we now hold the P.
 */
static bool standby_take(m_t *m)
{
	p_t *p = m->standbyp;
	m->standbyp = NULL;
	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(&p->status, memory_order_acquire) != P_SYSCALL ||
		    atomic_load_explicit(&p->syscalltick, memory_order_relaxed) != m->standbytick ||
		    atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed))
			return false;
		if ((i & 15) == 0 && goro__cycles() >= m->standbymark)
			break;
		goro__cpu_relax();
	}
	uint32_t st = P_SYSCALL;
	if (atomic_load_explicit(&p->syscalltick, memory_order_relaxed) != m->standbytick ||
	    !atomic_compare_exchange_strong(&p->status, &st, P_IDLE))
		return false;
	atomic_fetch_add(&goro__sched.handoffs, 1);
	if (goro__runqempty(p) && atomic_load(&goro__sched.runqsize) == 0) {
		/* The work went elsewhere meanwhile: the P is just idle. */
		goro__lock(&goro__sched.lock);
		goro__pidleput(p);
		goro__unlock(&goro__sched.lock);
		return false;
	}
	p->m = NULL;
	acquirep(p);
	return true;
}

/* sysmon: wake an idle M to stand by for p's syscall; false if none idle. */
bool goro__standby_wake(p_t *p, uint32_t tick, uint64_t mark)
{
	goro__lock(&goro__sched.lock);
	m_t *m = mget();
	goro__unlock(&goro__sched.lock);
	if (m == NULL)
		return false;
	m->nextp = NULL;
	m->standbyp = p;
	m->standbytick = tick;
	m->standbymark = mark;
	goro__notewakeup(&m->park);	/* publishes the fields above */
	return true;
}

/*
 * Run some M on p (NULL: an idle P, if any).  spinning: the M is started
 * spinning; the caller has already incremented nmspinning.
 */
void goro__startm(p_t *p, bool spinning)
{
	goro__lock(&goro__sched.lock);
	if (p == NULL) {
		p = goro__pidleget();
		if (p == NULL) {
			goro__unlock(&goro__sched.lock);
			if (spinning && atomic_fetch_sub(&goro__sched.nmspinning, 1) <= 0)
				goro__throw("startm: negative nmspinning");
			return;
		}
	}
	m_t *m = mget();
	goro__unlock(&goro__sched.lock);
	if (m == NULL) {
		newm(p, spinning);
		return;
	}
	if (m->nextp)
		goro__throw("startm: M has a P");
	m->spinning = spinning;
	m->nextp = p;
	goro__notewakeup(&m->park);
}

/*
 * Hand off p from an M that is blocked (in a syscall, or in unsafe code):
 * start an M for it if there is work, else put it on the idle list.
 */
static void killp(p_t *p);

void goro__handoffp(p_t *p)
{
	if (p->id >= atomic_load(&goro__sched.gomaxprocs)) {
		/* A P beyond gomaxprocs (maxprocs shrank): nobody runs it again. */
		killp(p);
		goro__wakep();
		return;
	}
	if (!goro__runqempty(p) || atomic_load(&goro__sched.runqsize) > 0) {
		goro__startm(p, false);
		return;
	}
	/* No local work: a spinning M is welcome if nobody spins. */
	if (atomic_load(&goro__sched.nmspinning) + atomic_load(&goro__sched.npidle) == 0) {
		int zero = 0;
		if (atomic_compare_exchange_strong(&goro__sched.nmspinning, &zero, 1)) {
			goro__startm(p, true);
			return;
		}
	}
	goro__lock(&goro__sched.lock);
	if (atomic_load(&goro__sched.runqsize) > 0) {
		goro__unlock(&goro__sched.lock);
		goro__startm(p, false);
		return;
	}
	/* Its timers must keep firing: someone must sleep until the first one. */
	int64_t when = atomic_load(&p->timer0when);
	goro__pidleput(p);
	goro__unlock(&goro__sched.lock);
	if (when != 0)
		goro__wakep();
}

void goro__wakep(void)
{
	if (atomic_load_explicit(&goro__sched.npidle, memory_order_relaxed) == 0) {
		/* Work that must wait for a P: sysmon's cue to watch for blocked Ms. */
		goro__sysmon_workqueued();
		return;
	}
	int zero = 0;
	if (atomic_load_explicit(&goro__sched.nmspinning, memory_order_relaxed) != 0 ||
	    !atomic_compare_exchange_strong(&goro__sched.nmspinning, &zero, 1))
		return;
	goro__startm(NULL, true);
}

static void resetspinning(void)
{
	m_t *m = goro__m;
	m->spinning = false;
	if (atomic_fetch_sub(&goro__sched.nmspinning, 1) <= 0)
		goro__throw("findrunnable: negative nmspinning");
	/* We found work; maybe there is more: let another M look. */
	goro__wakep();
}

/* ---- the schedule loop --------------------------------------------------- */

/* The P is beyond gomaxprocs: drain it and let it die.  Called by its M. */
static void killp(p_t *p)
{
	bool inherit;
	g_t *g;
	while ((g = goro__runqget(p, &inherit)) != NULL)
		goro__globrunqput(g);
	goro__movetimers(p, goro__sched.allp[0]);
	gfpurge(p);
	p->m = NULL;
	atomic_store(&p->status, P_DEAD);
}

static void destroyp(m_t *m)
{
	p_t *p = m->p;
	m->p = NULL;
	killp(p);
}

/* Earliest timer of all live Ps (0 if none). */
static int64_t earliest_timer(void)
{
	int n = atomic_load(&goro__sched.gomaxprocs);
	int64_t best = 0;
	for (int i = 0; i < n; i++) {
		int64_t w = atomic_load_explicit(&goro__sched.allp[i]->timer0when, memory_order_relaxed);
		if (w != 0 && (best == 0 || w < best))
			best = w;
	}
	return best;
}

/*
 * Find a runnable G, blocking (parking the M) until one exists.  Returns
 * with a P held.  *inherit: the G shares the current time slice.
 */
static g_t *findrunnable(bool *inherit)
{
	m_t *m = goro__m;
	p_t *p;
	g_t *g;
	int64_t now;
	int procs;
	bool wasspinning = false;
top:
	p = m->p;
	if (atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed))
		schedexit(m);
	if (p->id >= atomic_load(&goro__sched.gomaxprocs)) {
		destroyp(m);
		if (m->spinning) {
			m->spinning = false;
			atomic_fetch_sub(&goro__sched.nmspinning, 1);
		}
		wasspinning = false;
		goto nop;
	}
	now = 0;
	if (atomic_load_explicit(&p->timer0when, memory_order_relaxed) != 0) {
		now = goro__nanotime();
		goro__runtimers(p, now);
	}

	g = goro__runqget(p, inherit);
	if (g)
		return g;
	if (atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) > 0) {
		goro__lock(&goro__sched.lock);
		g = goro__globrunqget(p, 0);
		goro__unlock(&goro__sched.lock);
		if (g) {
			*inherit = false;
			return g;
		}
	}

	/* Steal, if not too many Ms are already at it. */
	procs = atomic_load(&goro__sched.gomaxprocs);
	if (!m->spinning &&
	    2 * atomic_load(&goro__sched.nmspinning) >= procs - atomic_load(&goro__sched.npidle))
		goto stop;
	if (!m->spinning) {
		m->spinning = true;
		atomic_fetch_add(&goro__sched.nmspinning, 1);
	}
	if (now == 0)
		now = goro__nanotime();
	for (int i = 0; i < 4; i++) {
		bool last = i == 3;
		uint32_t start = goro__fastrand();
		for (int k = 0; k < procs; k++) {
			p_t *victim = goro__sched.allp[(start + (uint32_t)k) % (uint32_t)procs];
			if (victim == p)
				continue;
			if (last && atomic_load_explicit(&victim->timer0when, memory_order_relaxed) != 0 &&
			    atomic_load_explicit(&victim->timer0when, memory_order_relaxed) <= now) {
				goro__runtimers(victim, now);
				g = goro__runqget(p, inherit);
				if (g)
					return g;
			}
			if (!goro__runqempty(victim)) {
				g = goro__runqsteal(p, victim, last);
				if (g) {
					atomic_fetch_add_explicit(&goro__sched.steals, 1, memory_order_relaxed);
					*inherit = false;
					return g;
				}
			}
		}
	}

stop:
	goro__lock(&goro__sched.lock);
	if (atomic_load(&goro__sched.runqsize) > 0) {
		g = goro__globrunqget(p, 0);
		goro__unlock(&goro__sched.lock);
		*inherit = false;
		return g;
	}
	releasep();
	goro__pidleput(p);
	goro__unlock(&goro__sched.lock);

	wasspinning = m->spinning;
	if (m->spinning) {
		m->spinning = false;
		if (atomic_fetch_sub(&goro__sched.nmspinning, 1) <= 0)
			goro__throw("findrunnable: negative nmspinning");
	}
	/*
	 * We gave up our P and stopped spinning; work readied in between
	 * would have seen nmspinning == 0 and called wakep -- unless it was
	 * readied before we decremented.  So look once more.
	 */
nop:
	procs = atomic_load(&goro__sched.gomaxprocs);
	for (int i = 0; i < procs; i++) {
		if (!goro__runqempty(goro__sched.allp[i]) ||
		    atomic_load(&goro__sched.runqsize) > 0) {
			goro__lock(&goro__sched.lock);
			p = goro__pidleget();
			goro__unlock(&goro__sched.lock);
			if (p) {
				acquirep(p);
				if (wasspinning) {
					m->spinning = true;
					atomic_fetch_add(&goro__sched.nmspinning, 1);
				}
				goto top;
			}
			break;
		}
	}
	/* Sleep until the first timer, if any, so sleepers wake on time. */
	int64_t when = earliest_timer();
	int64_t timeout = 0;
	if (when != 0) {
		now = goro__nanotime();
		timeout = when > now ? when - now : 1;
	}
	stopm(timeout);
	if (m->p == NULL) {
		/* Timer wake-up: find an idle P to run the timers. */
		goro__lock(&goro__sched.lock);
		p = goro__pidleget();
		goro__unlock(&goro__sched.lock);
		if (p == NULL) {
			wasspinning = false;
			goto nop;
		}
		acquirep(p);
	}
	wasspinning = false;
	goto top;
}

/*
 * One round of scheduling: find a G and run it.  Runs on g0 with a P.
 * Never returns (execute jumps into the G).
 */
static void schedule_loop(void)
{
	m_t *m = goro__m;
	if (m->curg)
		goro__throw("schedule: M has a current G");
	if (m->lockedg)
		goro__stoplockedm();	/* never returns: runs the locked G */
	p_t *p = m->p;
	if (p == NULL || atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed) ||
	    p->id >= atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed)) {
		bool inherit;
		/* An M that lost its P (from a syscall): look for one. */
		while (m->p == NULL) {
			goro__lock(&goro__sched.lock);
			p = goro__pidleget();
			goro__unlock(&goro__sched.lock);
			if (p != NULL)
				acquirep(p);
			else
				stopm(0);
		}
		g_t *g = findrunnable(&inherit);
		if (m->spinning)
			resetspinning();
		execute(g, inherit);
	}
	g_t *g = NULL;
	bool inherit = false;
	bool fired = false;
	if (atomic_load_explicit(&p->timer0when, memory_order_relaxed) != 0) {
		g_t *rn = atomic_load_explicit(&p->runnext, memory_order_relaxed);
		goro__runtimers(p, goro__nanotime());
		fired = rn != atomic_load_explicit(&p->runnext, memory_order_relaxed);
	}
	/*
	 * Fairness: sometimes take from the global queue first -- but not
	 * right after a timer readied a sleeper, which would then wait a
	 * whole quantum behind a G from the global queue.
	 */
	if (!fired && p->schedtick % 61 == 0 &&
	    atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) > 0) {
		goro__lock(&goro__sched.lock);
		/* ... unless its head is the G just preempted here: not its turn. */
		if (goro__sched.runqhead != p->lastpreempted)
			g = goro__globrunqget(p, 1);
		goro__unlock(&goro__sched.lock);
	}
	p->lastpreempted = NULL;
	if (g == NULL)
		g = goro__runqget(p, &inherit);
	if (g == NULL)
		g = findrunnable(&inherit);
	if (m->spinning)
		resetspinning();
	execute(g, inherit);
}

void goro__schedule(void)
{
	schedule_loop();
}

/*
 * Run g on the current M and P.  inherit: g shares the time slice of the
 * G before it (it came from runnext), so sysmon's quantum is not reset.
 * Never returns.
 */
static void execute(g_t *g, bool inherit)
{
	m_t *m = goro__m;
	p_t *p = m->p;
	if (g->lockedm && g->lockedm != m) {
		/* A locked G: give our P to its M and wait for new work. */
		goro__startlockedm(g);
		schedule_loop();
	}
	if (unlikely(g->stack_lo == NULL)) {
		if (goro__stackalloc(g) != 0)
			goro__throw("out of memory allocating a goroutine stack");
		goro__ctx_make(&g->ctx, g->stack_hi, gentry);
	}
	m->curg = g;
	g->m = m;
	atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
	uint64_t now = goro__cycles();
	m->segstart = now;
	if (!inherit) {
		atomic_store_explicit(&p->schedtick, p->schedtick + 1, memory_order_relaxed);
		atomic_store_explicit(&p->runstart, now, memory_order_relaxed);
	}
	atomic_store_explicit(&p->switches, p->switches + 1, memory_order_relaxed);
	atomic_store_explicit(&m->insched, false, memory_order_release);
	goro__ctx_jump(&g->ctx);
}

/* Detach g from the current M (on g0), charging its run time. */
static inline void dropg(m_t *m, g_t *g)
{
	atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	g->cpucycles += goro__cycles() - m->segstart;
	m->curg = NULL;
	g->m = NULL;
}

/* ---- entering the scheduler from a G ------------------------------------- */

/* Switch to g0 and run fn(g) there; returns when g is resumed. */
static inline void finish_switch(m_t *m);

static inline void mcall(void (*fn)(g_t *))
{
	/*
	 * From here on this is scheduler code (insched): no preemption, no
	 * P theft.  The fence and re-check are goro__acquirem's protocol.
	 */
	m_t *m = goro__getm();
	atomic_store_explicit(&m->insched, true, memory_order_seq_cst);
	/*
	 * With runtime locks held (parking with a channel lock, say) we must
	 * not move: sysmon saw m->locks > 0 after marking and undoes it.
	 */
	if (unlikely(atomic_load_explicit(&m->pstolen, memory_order_relaxed)) && m->locks == 0) {
		atomic_store_explicit(&m->insched, false, memory_order_relaxed);
		goro__reacquirep();
		m = goro__getm();
		atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	}
	g_t *g = m->curg;
	g->saved_errno = errno;
	goro__mcall(&g->ctx, m->g0sp, fn, g);
	/*
	 * Resumed, perhaps on another M: the compiler may have kept the
	 * old thread's &errno in a register (__errno_location is const), so
	 * set it through a function that computes it afresh.
	 */
	finish_switch(goro__getm());
	goro__set_errno(g->saved_errno);
}

static void gosched_m(g_t *g)
{
	m_t *m = goro__m;
	dropg(m, g);
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	goro__runqput(m->p, g, false);
	schedule_loop();
}

/*
 * goro_yield with a single P: switch straight to the next G of the local
 * ring, without the trip through g0.  Safe only because with one P no
 * other M can take a G from this ring (stealing needs a P), so the
 * yielding G, queued before the switch, cannot be run elsewhere while we
 * are still on its stack.  Anything unusual (timers due, the global
 * queue, a G that has no stack yet or is locked to another M, the runtime
 * exiting or resizing) takes the general path.  Returns false if it did
 * not switch.
 */
static bool gosched_direct(void)
{
	m_t *m = goro__acquirem();
	p_t *p = m->p;
	g_t *cur = m->curg;
	if (m->locks != 1 || cur->lockedm ||
	    atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed) != 1 ||
	    p->id != 0 || atomic_load_explicit(&p->timer0when, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed) ||
	    p->schedtick % 61 == 0) {
		goro__releasem(m);
		return false;
	}
	bool inherit;
	g_t *next = goro__runqget(p, &inherit);
	if (next == NULL) {
		goro__releasem(m);
		return true;	/* nobody else to run: keep going */
	}
	if (next->stack_lo == NULL || next->lockedm) {
		/* Put it back at the head's place: next in line, as it was. */
		goro__runqput(p, next, true);
		goro__releasem(m);
		return false;
	}
	atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	atomic_store_explicit(&cur->status, G_RUNNABLE, memory_order_relaxed);
	uint64_t now = goro__cycles();
	cur->cpucycles += now - m->segstart;
	cur->m = NULL;
	cur->saved_errno = errno;
	goro__runqput(p, cur, false);
	m->curg = next;
	next->m = m;
	atomic_store_explicit(&next->status, G_RUNNING, memory_order_relaxed);
	m->segstart = now;
	atomic_store_explicit(&p->schedtick, p->schedtick + 1, memory_order_relaxed);
	atomic_store_explicit(&p->runstart, now, memory_order_relaxed);
	atomic_store_explicit(&p->switches, p->switches + 1, memory_order_relaxed);
	m->locks--;
	atomic_store_explicit(&m->insched, false, memory_order_release);
	goro__ctx_switch(&cur->ctx, &next->ctx);
	/* Resumed (by execute or by another direct switch), maybe elsewhere. */
	finish_switch(goro__getm());
	goro__set_errno(cur->saved_errno);
	return true;
}

void goro__gosched(void)
{
	if (gosched_direct())
		return;
	mcall(gosched_m);
}

/* Preempted (by signal or at a check): to the global queue, like Go's gopreempt_m. */
static void gopreempt_m(g_t *g)
{
	m_t *m = goro__m;
	dropg(m, g);
	if (m->p)
		m->p->lastpreempted = g;
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	goro__globrunqput(g);
	schedule_loop();
}

void goro__gopreempt(void)
{
	mcall(gopreempt_m);
}

static void park_m(g_t *g)
{
	m_t *m = goro__m;
	dropg(m, g);
	atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
	bool (*f)(g_t *, void *) = m->waitunlockf;
	if (f) {
		m->waitunlockf = NULL;
		if (!f(g, m->waitarg)) {
			atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
			execute(g, true);
		}
	}
	schedule_loop();
}

static bool unlock_lock(g_t *g, void *lock)
{
	goro__unlock(lock);
	return true;
}

/*
 * Complete a direct park (park_direct) on the G that was switched to: run
 * the parked G's unlock function -- now that nobody runs on its stack --
 * and leave the scheduler state.  Every place where a G resumes calls
 * this: the return from mcall, from a direct switch, and a new G's entry.
 */
static inline void finish_switch(m_t *m)
{
	bool (*f)(g_t *, void *) = m->pendingunlockf;
	if (f) {
		g_t *pg = m->pendingg;
		m->pendingunlockf = NULL;
		m->pendingg = NULL;
		if (!f(pg, m->pendingarg)) {
			/* The wait was cancelled: the parked G runs again soon. */
			atomic_store_explicit(&pg->status, G_RUNNABLE, memory_order_relaxed);
			goro__runqput(m->p, pg, true);
		}
	}
	atomic_store_explicit(&m->insched, false, memory_order_release);
}

/*
 * Park the current G and switch straight to the next G of this P's queue,
 * without the trip through g0.  Safe with any number of Ps because the
 * parked G is reachable by a waker only through the object whose lock
 * unlockf releases -- and that happens after the switch, on the next G
 * (finish_switch).  The next G comes from our own queue (owner only).
 * Anything unusual takes the general path.  Returns false if it did not
 * switch.
 */
static bool park_direct(m_t *m, g_t *g, bool (*unlockf)(g_t *, void *), void *arg)
{
	p_t *p = m->p;
	if (unlockf == NULL || m->locks == 0 || g->lockedm || m->pendingunlockf ||
	    p->id >= atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed) ||
	    atomic_load_explicit(&p->timer0when, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed) ||
	    atomic_load_explicit(&m->pstolen, memory_order_relaxed) ||
	    (p->schedtick % 61 == 0 && atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) > 0))
		return false;
	bool inherit;
	g_t *next = goro__runqget(p, &inherit);
	if (next == NULL)
		return false;
	if (next->stack_lo == NULL || next->lockedm) {
		goro__runqput(p, next, true);	/* back where it was: runs next */
		return false;
	}
	atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	uint64_t now = goro__cycles();
	g->cpucycles += now - m->segstart;
	g->m = NULL;
	g->saved_errno = errno;
	atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
	m->pendingunlockf = unlockf;
	m->pendingarg = arg;
	m->pendingg = g;
	m->curg = next;
	next->m = m;
	atomic_store_explicit(&next->status, G_RUNNING, memory_order_relaxed);
	m->segstart = now;
	if (!inherit) {
		atomic_store_explicit(&p->schedtick, p->schedtick + 1, memory_order_relaxed);
		atomic_store_explicit(&p->runstart, now, memory_order_relaxed);
	}
	atomic_store_explicit(&p->switches, p->switches + 1, memory_order_relaxed);
	goro__ctx_switch(&g->ctx, &next->ctx);
	/* Resumed, perhaps on another M. */
	finish_switch(goro__getm());
	goro__set_errno(g->saved_errno);
	return true;
}

void goro__gopark(bool (*unlockf)(g_t *, void *), void *arg, int reason)
{
	m_t *m = goro__m;
	g_t *g = m->curg;
	if (g == NULL)
		goro__throw("gopark outside a goroutine");
	g->waitreason = reason;
	if (park_direct(m, g, unlockf, arg))
		return;
	m->waitunlockf = unlockf;
	m->waitarg = arg;
	mcall(park_m);
}

void goro__park(goro__lock_t *lock, int reason)
{
	goro__gopark(lock ? unlock_lock : NULL, lock, reason);
}

void goro__ready(g_t *g, bool next)
{
	uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
	if (st != G_WAITING)
		goro__throwf("ready: bad G status", st);
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	m_t *m = goro__acquirem();
	p_t *p = m ? m->p : NULL;
	if (p && m->curg && atomic_load_explicit(&m->insyscall, memory_order_relaxed))
		p = NULL;	/* the P may be retaken under us */
	if (p)
		goro__runqput(p, g, next);
	else
		goro__globrunqput(g);
	goro__wakep();
	goro__releasem(m);
}

static void goexit0(g_t *g)
{
	m_t *m = goro__m;
	p_t *p = m->p;
	dropg(m, g);
	atomic_store_explicit(&g->status, G_DEAD, memory_order_release);
	atomic_fetch_sub_explicit(&goro__sched.ngoroutines, 1, memory_order_relaxed);
	if (g->lockedm) {
		/* Exited while locked: the thread is tainted; Go kills it. We unlock. */
		g->lockedm = NULL;
		m->lockedg = NULL;
	}
	bool ismain = g->goid == 1;
	g->fn = NULL;
	g->arg = NULL;
	gfput(p, g);
	if (ismain) {
		atomic_store(&goro__sched.exiting, true);
		/* Wake M0 if it is parked, so goro_run can return. */
		goro__lock(&goro__sched.lock);
		bool parked = m0 != m && mremove(m0);
		goro__unlock(&goro__sched.lock);
		if (parked) {
			m0->nextp = NULL;
			goro__notewakeup(&m0->park);
		} else {
			goro__sysmon_wake();	/* it stops whatever runs on M0 */
		}
		schedexit(m);
	}
	schedule_loop();
}

void goro__goexit1(void)
{
	mcall(goexit0);
	goro__throw("goexit returned");
}

static void gentry(void)
{
	m_t *m = goro__m;
	finish_switch(m);
	g_t *g = m->curg;
	errno = 0;
	g->fn(g->arg);
	goro__goexit1();
	__builtin_unreachable();
}

/* ---- Ps ------------------------------------------------------------------- */

static p_t *allocp(int id)
{
	p_t *p = goro__sched.allp[id];
	if (p == NULL) {
		p = calloc(1, sizeof *p);
		if (p == NULL)
			return NULL;
		p->id = id;
		goro__sched.allp[id] = p;
		if (id >= goro__sched.nallp)
			goro__sched.nallp = id + 1;
	}
	atomic_store(&p->status, P_IDLE);
	return p;
}

/*
 * Change the number of Ps while running.  Growing revives or creates Ps
 * and puts them on the idle list; shrinking marks the excess Ps so that
 * their Ms drain and kill them at their next scheduling point (the G
 * running there is asked to stop).  No stop-the-world is needed: Ps are
 * never freed, and a dead P's queues are empty.
 */
int goro__procresize(int n)
{
	goro__lock(&goro__sched.lock);
	int old = atomic_load(&goro__sched.gomaxprocs);
	if (n > old) {
		for (int i = old; i < n; i++) {
			p_t *p = goro__sched.allp[i];
			uint32_t st = p ? atomic_load(&p->status) : P_DEAD;
			if (p && st != P_DEAD)
				continue;	/* still draining from an earlier shrink */
			if (allocp(i) == NULL) {
				goro__unlock(&goro__sched.lock);
				errno = ENOMEM;
				return -1;
			}
			goro__pidleput(goro__sched.allp[i]);
		}
		atomic_store(&goro__sched.gomaxprocs, n);
	} else if (n < old) {
		atomic_store(&goro__sched.gomaxprocs, n);
		for (int i = n; i < old; i++) {
			p_t *p = goro__sched.allp[i];
			if (pidleremove(p)) {
				goro__movetimers(p, goro__sched.allp[0]);
				gfpurge_locked(p);
				atomic_store(&p->status, P_DEAD);
			} else if (p->m && p->m->curg) {
				atomic_store(&p->m->curg->preempt, true);
			}
		}
	}
	goro__unlock(&goro__sched.lock);
	if (n > old)
		for (int i = old; i < n; i++)
			goro__wakep();
	return old;
}

/* ---- start and stop ------------------------------------------------------- */

static void calibrate_tsc(void)
{
	int64_t t0 = goro__nanotime();
	uint64_t c0 = goro__cycles();
	while (goro__nanotime() - t0 < 2000000)
		;
	int64_t t1 = goro__nanotime();
	uint64_t c1 = goro__cycles();
	goro__sched.ns_per_cycle = (double)(t1 - t0) / (double)(c1 - c0);
}

int64_t goro__cycles2ns(uint64_t c)
{
	return (int64_t)((double)c * goro__sched.ns_per_cycle);
}

uint64_t goro__ns2cycles(int64_t ns)
{
	return (uint64_t)((double)ns / goro__sched.ns_per_cycle);
}

static int default_procs(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n > GORO_MAXPROCS_LIMIT ? GORO_MAXPROCS_LIMIT : n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (n > GORO_MAXPROCS_LIMIT ? GORO_MAXPROCS_LIMIT : (int)n) : 1;
}

int goro__procs_from_env(void);

/* M0's scheduler entry: run on the g0 carved below goro_run's frame. */
static void mstart0(void)
{
	m_t *m = goro__m;
	m->segstart = goro__cycles();
	schedule_loop();
}

/* Wait (a while) until at most `left` threads of the runtime remain. */
static void teardown_wait(int left)
{
	for (int i = 0; i < 500 && atomic_load(&mlive) > left; i++) {
		/* Wake idle Ms so they see exiting and leave. */
		goro__lock(&goro__sched.lock);
		m_t *m;
		while ((m = mget()) != NULL) {
			m->nextp = NULL;
			goro__notewakeup(&m->park);
		}
		goro__unlock(&goro__sched.lock);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* Free everything of a finished runtime, if no thread of it is left. */
static bool teardown(void)
{
	teardown_wait(0);
	if (atomic_load(&mlive) > 0)
		return false;	/* some M still runs an abandoned G */
	for (size_t i = 0; i < nallgs; i++) {
		goro__stackfree(allgs[i]);
		free(allgs[i]);
	}
	free(allgs);
	allgs = NULL;
	nallgs = capallgs = 0;
	for (int i = 0; i < goro__sched.nallp; i++) {
		goro__stackcache_free(goro__sched.allp[i]);
		free(goro__sched.allp[i]->timers);
		free(goro__sched.allp[i]);
	}
	for (m_t *m = goro__sched.allm, *next; m; m = next) {
		next = m->alllink;
		if (m != m0) {
			if (m->sigstack)
				goro__sigaltstack_free(m);
			free(m);
		}
	}
	return true;
}

static _Atomic int runstate;	/* 0 free, 1 running, 2 finished with stragglers */

int goro__run(void (*main_fn)(void *), void *arg)
{
	int zero = 0;
	if (!atomic_compare_exchange_strong(&runstate, &zero, 1)) {
		errno = EALREADY;
		return -1;
	}
	memset(&goro__sched, 0, sizeof goro__sched);
	mnext = 0;
	atomic_store(&mlive, 0);
	goro__sched.maxmcount = 10000;
	goro__sched.quantum = 10000000;
	calibrate_tsc();
	goro__sched.starttime = goro__nanotime();
	int procs = default_procs();
	goro__parse_env(&procs);
	goro__stack_siginit();
	goro__preempt_init();
	goro__sched.quantum_cycles = goro__ns2cycles(goro__sched.quantum);

	for (int i = 0; i < procs; i++) {
		if (allocp(i) == NULL) {
			atomic_store(&runstate, 0);
			errno = ENOMEM;
			return -1;
		}
	}
	atomic_store(&goro__sched.gomaxprocs, procs);
	for (int i = procs - 1; i >= 1; i--)
		goro__pidleput(goro__sched.allp[i]);

	m_t *m = allocm();
	m0 = m;
	m->isM0 = true;
	atomic_store(&goro__sched.mcount, 1);
	stack_t oldss;
	sigaltstack(NULL, &oldss);
	minit(m);
	acquirep(goro__sched.allp[0]);
	atomic_store(&goro__sched.running, true);

	goro_attr_t attr = { 0, "main" };
	if (goro__newproc(&attr, main_fn, arg) < 0) {
		int e = errno;
		atomic_store(&runstate, 0);
		errno = e;
		return -1;
	}
	goro__sysmon_start();
	/*
	 * One spare M, idle from the start: the first syscall hand-off then
	 * costs a wake-up that overlaps the 20 us wait, not a thread start.
	 */
	newm(NULL, false);

	/* M0's g0: the stack below this frame, with room for the switch. */
	char *sp = (char *)__builtin_frame_address(0) - 8192;
	m->g0sp = (void *)((uintptr_t)sp & ~(uintptr_t)15);
	goro__ctx_t start;
	goro__ctx_make(&start, m->g0sp, mstart0);
	goro__ctx_switch(&m->g0ctx, &start);

	/*
	 * Back from schedexit: the main G has returned.  sysmon keeps
	 * preempting whatever still runs (sched.exiting), so the other Ms
	 * reach their scheduler and leave; then sysmon itself stops.
	 */
	teardown_wait(1);
	goro__sysmon_stop();
	atomic_store(&goro__sched.running, false);
	goro__m = NULL;
	sigaltstack(&oldss, NULL);
	if (m->sigstack)
		goro__sigaltstack_free(m);
	bool clean = teardown();
	free(m);
	m0 = NULL;
	atomic_store(&runstate, clean ? 0 : 2);
	return 0;
}


/* ---- entry points for syscall.c and preempt.c ------------------------------- */

void goro__acquirep(p_t *p) { acquirep(p); }
p_t *goro__releasep(void) { return releasep(); }
void goro__execute(g_t *g, bool inherit) { execute(g, inherit); }
void goro__schedexit(void) { schedexit(goro__m); }

/* Park this M (no P held) until it is given one; then schedule. */
void goro__stopm_idle(void)
{
	stopm(0);
	schedule_loop();
}

void goro__globrunqput_locked(g_t *g)
{
	g->schedlink = NULL;
	if (goro__sched.runqtail)
		goro__sched.runqtail->schedlink = g;
	else
		goro__sched.runqhead = g;
	goro__sched.runqtail = g;
	atomic_fetch_add(&goro__sched.runqsize, 1);
}

void goro__mcall_fn(void (*fn)(g_t *))
{
	mcall(fn);
}

void *goro__gentry_addr(void)
{
	return (void *)gentry;
}

/*
 * After anything that may move the calling G to another thread, read the
 * thread's state through these: out of line, so no TLS address computed
 * before the move is reused after it.
 */
__attribute__((noinline)) m_t *goro__getm(void)
{
	return goro__m;
}

__attribute__((noinline)) void goro__set_errno(int e)
{
	errno = e;
}
