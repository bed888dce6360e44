/*
 * sched.c - the schedule loop: finding a G, running it, and the ways a G
 * enters the scheduler (yield, park, preemption, exit).
 *
 * schedule_loop runs on an M's g0 with a P: expired timers first, then
 * every 61st tick the global queue, runnext, the local ring, and at last
 * findrunnable, which steals and, finding nothing, parks the M (m.c).
 * execute switches into the chosen G.  A G enters the scheduler with
 * mcall (to g0, where park_m, gosched_m, gopreempt_m or goexit0 run), or,
 * when it parks with a lock or yields on one P, switches straight to the
 * next G of its P (park_direct, gosched_direct); finish_switch completes
 * such a switch on the G switched to.
 *
 * Part of the runtime's single translation unit (goro.c).
 */

/* ---- the schedule loop --------------------------------------------------- */

/*
 * Patient stealing.  A thief takes a P's work only once its oldest G (the
 * ring's head, or runnext) has sat there STEAL_AGE_NS: work its owner gets
 * to sooner is cheaper run where it is than moved (a spawning loop's short
 * Gs, stolen, made both Ps fight over the same cache lines: 95 ns a spawn
 * against 50 on one P).  Work that stays -- a fork-join program's pending
 * subtrees, a second CPU-bound G -- is stolen after that delay.  A spinning
 * M waits for it up to STEAL_SPIN_NS, longer than the age, so a G that
 * stays is always taken.  The observation lives in the victim (thieves
 * share it; a race only delays or hastens one steal).
 */
#define STEAL_AGE_NS 20000
#define STEAL_SPIN_NS 60000

/* The G a thief would look at first: the ring's head, or runnext. */
static g_t *oldest(p_t *victim)
{
	uint32_t h = atomic_load_explicit(&victim->runqhead, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&victim->runqtail, memory_order_acquire);
	return h != t ? atomic_load_explicit(&victim->runq[h % RUNQ_SIZE], memory_order_relaxed) :
	    atomic_load_explicit(&victim->runnext, memory_order_relaxed);
}

static bool stealable(p_t *victim, int64_t now)
{
	g_t *g = oldest(victim);
	if (g == NULL)
		return false;
	if (atomic_load_explicit(&victim->stealg, memory_order_relaxed) != g) {
		atomic_store_explicit(&victim->stealg, g, memory_order_relaxed);
		atomic_store_explicit(&victim->stealseen, now, memory_order_relaxed);
		return false;
	}
	return now - atomic_load_explicit(&victim->stealseen, memory_order_relaxed) >= STEAL_AGE_NS;
}


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
	int64_t spinstart = now;
	bool young;
	do {
		young = false;
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
				if (goro__runqempty(victim))
					continue;
				if (!stealable(victim, now)) {
					young = true;
					continue;
				}
				g = goro__runqsteal(p, victim, last);
				if (g) {
					m->futile = 0;
					atomic_fetch_add_explicit(&goro__sched.steals, 1, memory_order_relaxed);
					*inherit = false;
					return g;
				}
			}
		}
		if (young) {
			for (int k = 0; k < 100; k++)
				goro__cpu_relax();
			now = goro__nanotime();
		}
	} while (young && now - spinstart < STEAL_SPIN_NS);
	if (young)
		m->futile++;

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
		/*
		 * Work that churned through our spinning twice is left to its
		 * P -- unless its oldest G has stayed since a thief saw it.
		 */
		p_t *q = goro__sched.allp[i];
		if ((!goro__runqempty(q) && (m->futile < 2 || (oldest(q) != NULL &&
		    oldest(q) == atomic_load_explicit(&q->stealg, memory_order_relaxed)))) ||
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
	m->futile = 0;	/* woken: a new search */
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
		m->futile = 0;
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
	m->futile = 0;
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
/*
 * Make g the G running on m (holding p) from time now, in cycles: a new
 * run segment, and a new time slice unless it inherits the running one
 * (runnext).  Every switch to a G -- execute and the direct switches --
 * goes through here.
 */
static inline __attribute__((always_inline)) void startg(m_t *m, p_t *p, g_t *g, uint64_t now,
    bool inherit)
{
	m->curg = g;
	g->m = m;
	atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
	m->segstart = now;
	if (!inherit) {
		atomic_store_explicit(&p->schedtick, p->schedtick + 1, memory_order_relaxed);
		atomic_store_explicit(&p->runstart, now, memory_order_relaxed);
	}
	atomic_store_explicit(&p->switches, p->switches + 1, memory_order_relaxed);
}

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
	startg(m, p, g, goro__cycles(), inherit);
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
static inline __attribute__((always_inline)) void finish_switch(m_t *m);

static inline void mcall(void (*fn)(g_t *))
{
	/*
	 * From here on this is scheduler code (insched): no preemption, no
	 * P theft.  The fence and re-check are goro__acquirem's protocol.
	 */
	m_t *m = goro__getm();
	atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	goro__theft_fence();
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
	atomic_store_explicit(&g->cpubound, false, memory_order_relaxed);	/* see gosched_direct */
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	goro__runqput(m->p, g, false);
	schedule_loop();
}

/*
 * goro_yield with a single P: switch straight to the head of the local
 * ring, without the trip through g0.  With one P only its owner touches
 * the ring -- except a thief on a P that goro_maxprocs is creating right
 * now, which is why the head moves by CAS, and why the yielding G is
 * queued only after we have left its stack (by the G switched to, in
 * finish_switch: m->pendingreadyg).  Anything unusual (timers due, the
 * global queue, runnext, a G that has no stack yet or is locked to an M,
 * the runtime exiting or resizing) takes the general path.
 *
 * The hot path of the yield benchmark, so written lean: nothing is live
 * across the switch (the resumed G reloads what it needs from its M), so
 * it needs no callee-saved registers of its own -- the switch saves them
 * once.  Returns false if it did not switch.
 */
static inline __attribute__((always_inline)) bool gosched_direct(void)
{
	m_t *m = goro__m;
	p_t *p = m->p;
	g_t *cur = m->curg;
	if (m->locks != 0 || cur->lockedm || p == NULL || p->id != 0 ||
	    atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed) != 1 ||
	    atomic_load_explicit(&p->timer0when, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&p->runnext, memory_order_relaxed) != NULL ||
	    atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed))
		return false;	/* (no 61st-pick rule: the global queue is empty) */
	/* Runtime code from here: the protocol of mcall (no preemption, no theft). */
	atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	goro__theft_fence();
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
	g_t *next = atomic_load_explicit(&p->runq[h % RUNQ_SIZE], memory_order_relaxed);
	if (unlikely(atomic_load_explicit(&m->pstolen, memory_order_relaxed)) || t == h ||
	    next->stack_lo == NULL || next->lockedm ||
	    !atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + 1,
	    memory_order_release, memory_order_relaxed)) {
		atomic_store_explicit(&m->insched, false, memory_order_release);
		return t == h && !atomic_load_explicit(&m->pstolen, memory_order_relaxed);
	}
	uint64_t now = goro__cycles();
	cur->cpucycles += now - m->segstart;
	cur->saved_errno = *m->errnop;
	cur->m = NULL;
	atomic_store_explicit(&cur->status, G_RUNNABLE, memory_order_relaxed);
	/* Yielding within its slice: not CPU-bound (else each yield would arm a timer). */
	atomic_store_explicit(&cur->cpubound, false, memory_order_relaxed);
	m->pendingreadyg = cur;
	startg(m, p, next, now, false);
	goro__ctx_switch(&cur->ctx, &next->ctx);
	/* Resumed (by execute or by another direct switch), maybe elsewhere. */
	finish_switch(goro__getm());
	m = goro__getm();
	*m->errnop = m->curg->saved_errno;
	return true;
}

void goro__gosched(void)
{
	if (gosched_direct())
		return;
	mcall(gosched_m);
}

/*
 * A spawner over its backlog (proc.c) steps aside to the head of its P's
 * ring, behind the Gs it spawned, which the P takes newest first
 * (goro__runqget_lifo); the global queue if the ring is full.  Thieves
 * leave a young head alone (stealable), so the spawner stays here.
 */
static void spawnyield_m(g_t *g)
{
	m_t *m = goro__m;
	p_t *p = m->p;
	dropg(m, g);
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	if (!goro__runqputhead(p, g))
		goro__globrunqput(g);
	bool inherit;
	g_t *next = goro__runqget_lifo(p, &inherit, goro__cycles());
	if (next)
		execute(next, inherit);
	schedule_loop();
}

void goro__spawnyield(void)
{
	mcall(spawnyield_m);
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
/*
 * The rarer parts of finish_switch, out of line so that the common one
 * keeps no value alive across a call (and so needs no callee-saved
 * registers of its own in the hot switch paths).
 */
static __attribute__((noinline)) void finish_switch_slow(m_t *m)
{
	g_t *dg = m->pendingdeadg;
	if (dg) {
		/* A direct exit's G, off its stack now: to the free list. */
		m->pendingdeadg = NULL;
		gfput(m->p, dg);
	}
	g_t *yg = m->pendingreadyg;
	if (yg) {
		m->pendingreadyg = NULL;
		runqput(m->p, yg, false);
	}
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
}

static inline __attribute__((always_inline)) void finish_switch(m_t *m)
{
	g_t *yg = m->pendingreadyg;
	if (unlikely(m->pendingdeadg != NULL || m->pendingunlockf != NULL)) {
		finish_switch_slow(m);
		m = goro__getm();
	} else if (yg) {
		/* A direct yield's G, off its stack now: to the tail. */
		p_t *p = m->p;
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (likely(t - h < RUNQ_SIZE)) {
			atomic_store_explicit(&p->runq[t % RUNQ_SIZE], yg, memory_order_relaxed);
			atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
			m->pendingreadyg = NULL;
		} else {
			finish_switch_slow(m);
			m = goro__getm();
		}
	}
	/* (Here, not before the switch, like sysmon_gstart: fewer live registers there.) */
	if (unlikely(atomic_load_explicit(&m->curg->cpubound, memory_order_relaxed)))
		goro__slicetimer_start(m);
	atomic_store_explicit(&m->insched, false, memory_order_release);
	goro__sysmon_gstart(m->curg);
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
	uint64_t now = goro__cycles();
	g_t *next = goro__runqget_lifo(p, &inherit, now);
	if (next == NULL)
		return false;
	if (next->stack_lo == NULL || next->lockedm) {
		goro__runqput(p, next, true);	/* back where it was: runs next */
		return false;
	}
	atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	g->cpucycles += now - m->segstart;
	g->m = NULL;
	g->saved_errno = errno;
	atomic_store_explicit(&g->status, G_WAITING, memory_order_release);
	m->pendingunlockf = unlockf;
	m->pendingarg = arg;
	m->pendingg = g;
	startg(m, p, next, now, inherit);
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
	atomic_store_explicit(&g->cpubound, false, memory_order_relaxed);
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
	goro__gcount_add(p, -1);
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

/*
 * A dying G switches straight to the next G of its P's queue, as a
 * parking one does (park_direct), skipping the scheduler stack: the
 * common end of a short G.  Its G goes to the free list from the G
 * switched to (finish_switch: m->pendingdeadg), once we have left its
 * stack.  Anything unusual takes goexit0.  Returns only if it did not
 * switch.
 */
static void goexit_direct(m_t *m, g_t *g)
{
	p_t *p = m->p;
	if (m->locks != 0 || g->lockedm || g->goid == 1 || p == NULL ||
	    m->pendingunlockf || m->pendingreadyg || m->pendingdeadg ||
	    p->id >= atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed) ||
	    atomic_load_explicit(&p->timer0when, memory_order_relaxed) != 0 ||
	    atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed) ||
	    (p->schedtick % 61 == 0 && atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) > 0))
		return;
	/* Runtime code from here: the protocol of mcall (no preemption, no theft). */
	atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	goro__theft_fence();
	if (unlikely(atomic_load_explicit(&m->pstolen, memory_order_relaxed))) {
		atomic_store_explicit(&m->insched, false, memory_order_release);
		return;
	}
	bool inherit;
	uint64_t now = goro__cycles();
	g_t *next = goro__runqget_lifo(p, &inherit, now);
	if (next == NULL || next->stack_lo == NULL || next->lockedm) {
		if (next)
			goro__runqput(p, next, true);	/* back where it was: runs next */
		atomic_store_explicit(&m->insched, false, memory_order_release);
		return;
	}
	g->cpucycles += now - m->segstart;
	g->m = NULL;
	atomic_store_explicit(&g->status, G_DEAD, memory_order_release);
	goro__gcount_add(p, -1);
	g->fn = NULL;
	g->arg = NULL;
	m->pendingdeadg = g;
	startg(m, p, next, now, inherit);
	goro__ctx_jump(&next->ctx);
}

void goro__goexit1(void)
{
	goexit_direct(goro__getm(), goro__getm()->curg);
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

