/*
 * m.c - Ms: the threads that run Gs, how they start, park and are woken.
 *
 * An M is a pthread.  It runs Gs only while it holds a P; without one it
 * is idle, parked on its note (a futex) on sched.midle, or spinning in
 * findrunnable (sched.c) looking for work to steal.  Ms are created on
 * demand (startm, when a P has work and no idle M exists) up to
 * sched.maxmcount, and never destroyed while the runtime runs: an M that
 * comes back from a system call to find no P parks for reuse.
 *
 * Each M's scheduler stack (its g0) is its own pthread stack; it leaves
 * the scheduler for good by jumping back to the frame its thread started
 * in (schedexit), so the thread ends by returning, never by pthread_exit
 * through scheduler frames.
 *
 * Hand-off: handoffp gives the P of an M blocked in a system call to
 * another M.  A stand-by M (standby_take) is one sysmon woke early for a
 * call it expects to block: at the 20 us mark it takes the P itself.
 *
 * Part of the runtime's single translation unit (goro.c): statics from
 * proc.c are visible here, and this file's are visible to sched.c.
 */

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
	m->errnop = &errno;
	m->tid = (pid_t)syscall(SYS_gettid);
	m->thread = pthread_self();
	if (pthread_getcpuclockid(m->thread, &m->cpuclock) != 0)
		m->cpuclock = CLOCK_THREAD_CPUTIME_ID;
	if (goro__sigaltstack_init(m) != 0)
		goro__throw("cannot allocate a signal stack");
	goro__preempt_minit(m);
	goro__slicetimer_minit(m);
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
	goro__slicetimer_mexit(m);
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
		/* Counted like pidleput's: a later pidleget takes one off. */
		atomic_fetch_add(&goro__sched.npidle, 1);
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

