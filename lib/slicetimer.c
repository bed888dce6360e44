/*
 * slicetimer.c - slice timers: a CPU-bound G's own thread stops it at the
 * end of its quantum, so that sysmon need not wake up for it.
 *
 * sysmon preempts by waking at a slice's end and signalling the M.  On
 * this kind of machine each such round costs sysmon 50-75 us of CPU (the
 * wake-up on an idle CPU, the thread's CPU clock, the tgkill with its
 * interrupt to the other CPU): with call-free loops queued behind each
 * other on a P, 100 rounds a second, 0.75 % of a core.  A G stopped for
 * running a whole quantum is CPU-bound (g->cpubound) until it yields or
 * waits; when one starts a slice, its M arms a timer on its own thread's CPU
 * clock (timer_create(2), CLOCK_THREAD_CPUTIME_ID, SIGEV_THREAD_ID) that
 * delivers SIGURG to that thread near the slice's end.  The handler
 * (preempt.c) takes it like sysmon's request, and sysmon looks at a P
 * whose slice is so timed only after SLICETIMER_BACKSTOP quanta.
 *
 * Why a CPU clock: it advances only while the thread runs, so the signal
 * cannot arrive while the thread sleeps in a system call (where it would
 * be an EINTR for a call nobody wrapped: see goro(7)).  The kernel checks
 * CPU timers at its scheduler tick, so an expiry is seen up to a tick
 * late; the timer is armed a tick (and SLICE_MARGIN_NS) before the
 * quantum ends.  The tick is the resolution of the coarse clocks
 * (clock_getres(CLOCK_MONOTONIC_COARSE)): 4 ms on this machine's 250 Hz
 * kernel.  A timed slice then lasts between quantum - tick and the
 * quantum; here, where a slice that follows a timed one starts just after
 * a tick, two ticks: 8 ms of the default 10.  (Learning the lateness from
 * the expiries instead does not work: with slices starting on a tick, the
 * lateness seen is the distance from the armed time to the next tick, and
 * follows the estimate down until a slice overshoots by a tick.)  With a
 * quantum shorter than two ticks, no timer is armed and sysmon preempts as
 * before.
 *
 * The same timer serves as a watchdog for a P that churns through short
 * Gs (goro__slicetimer_watch, which sysmon calls): then sysmon need not
 * look at that P each quantum in case one of them runs on.
 *
 * Invariants:
 *   - a P's slice is timed iff p->timedm is the M running it and
 *     p->timedtick equals p->schedtick (the slice has not changed since);
 *     a P is watched iff p->watchm is the M running it; acquirep clears
 *     both, and so does the handler when it asks the G to stop;
 *   - an M's timer measures that M's thread only (created on it, in
 *     minit); an expiry for a slice that ended early is recognised by the
 *     handler and ignored.
 *
 * Part of the runtime's single translation unit (goro.c).
 */

#define SLICE_MARGIN_NS 100000		/* arm this much before the tick before the end */

/* The value every slice timer's signal carries: the handler's proof that it is ours. */
const char goro__slicetimer_tag = 0;

static _Atomic uint64_t watchfires;	/* watchdog expiries so far, for tests */

/* The kernel's tick (ns), as the coarse clocks tell it; 0 if unknown. */
static int64_t tick_ns;

static int64_t slicetick(void)
{
	int64_t t = __atomic_load_n(&tick_ns, __ATOMIC_RELAXED);
	if (t == 0) {
		struct timespec res;
		t = clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 ?
		    (int64_t)res.tv_sec * 1000000000 + res.tv_nsec : -1;
		__atomic_store_n(&tick_ns, t, __ATOMIC_RELAXED);
	}
	return t;
}

/* Set m's timer to expire after ns of its thread's CPU time.  async-signal-safe. */
static bool arm(m_t *m, int64_t ns)
{
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = ns / 1000000000;
	its.it_value.tv_nsec = ns % 1000000000;
	int saved = errno;
	bool ok = timer_settime(m->slicetimer, 0, &its, NULL) == 0;
	errno = saved;
	return ok;
}

/* On m's own thread (minit).  Without a timer, sysmon preempts as before. */
void goro__slicetimer_minit(m_t *m)
{
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGURG;
	sev.sigev_value.sival_ptr = (void *)&goro__slicetimer_tag;
	sev._sigev_un._tid = m->tid;
	m->slicetimer_ok = slicetick() > 0 &&
	    timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &m->slicetimer) == 0;
}

/* When m's thread ends. */
void goro__slicetimer_mexit(m_t *m)
{
	if (m->slicetimer_ok) {
		timer_delete(m->slicetimer);
		m->slicetimer_ok = false;
	}
}

/*
 * A CPU-bound G resumes on m (finish_switch): if it starts a new slice
 * (startg set the slice's and the segment's start to the same instant),
 * arm the timer.  Out of line: the switch paths only test g->cpubound.
 */
__attribute__((noinline)) void goro__slicetimer_start(m_t *m)
{
	p_t *p = m->p;
	if (p == NULL || atomic_load_explicit(&p->runstart, memory_order_relaxed) != m->segstart ||
	    goro__slicetimed(p, m, atomic_load_explicit(&p->schedtick, memory_order_relaxed)))
		return;
	int64_t quantum = atomic_load_explicit(&goro__sched.quantum, memory_order_relaxed);
	int64_t tick = __atomic_load_n(&tick_ns, __ATOMIC_RELAXED);
	atomic_store_explicit(&p->timedm, NULL, memory_order_relaxed);
	if (!m->slicetimer_ok || goro__sched.asyncpreemptoff || goro__sched.slicetimeroff ||
	    quantum < 2 * tick)
		return;
	int64_t ns = quantum - tick - SLICE_MARGIN_NS;
	if (!arm(m, ns))
		return;
	p->timedtick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
	atomic_store_explicit(&p->timedm, m, memory_order_release);
}

/*
 * sysmon, for a P that churns through short Gs (a yield loop, a
 * ping-pong), which it would otherwise look at once a quantum in case a
 * G that starts there runs on: make m's timer a watchdog instead.  It
 * expires at every tick of the thread's CPU time while the P is watched
 * (the handler re-arms it).  An expiry stops the running G only if that
 * same G ran through the whole tick before it -- so at least a tick of
 * CPU, which a G descheduled by the kernel does not fake -- and its run
 * has reached quantum - tick: a G that starts there and runs on is
 * stopped between quantum - tick and the quantum (6-10 ms here), and is
 * then CPU-bound and timed as such.  (A first version went by the run's
 * wall time alone: on a busy host it stopped yielders the kernel had
 * descheduled, and marked them CPU-bound.)  Each expiry costs the M a
 * signal, 250 a second on a 250 Hz kernel.  True if p is watched so.
 */
bool goro__slicetimer_watch(p_t *p, m_t *m)
{
	int64_t quantum = atomic_load_explicit(&goro__sched.quantum, memory_order_relaxed);
	int64_t tick = __atomic_load_n(&tick_ns, __ATOMIC_RELAXED);
	if (!m->slicetimer_ok || goro__sched.asyncpreemptoff || goro__sched.slicetimeroff ||
	    quantum < 2 * tick)
		return false;
	if (atomic_load_explicit(&p->watchm, memory_order_acquire) == m)
		return true;
	m->watchg = NULL;	/* the first expiry starts the record */
	atomic_store_explicit(&p->watchm, m, memory_order_release);
	if (!arm(m, tick - SLICE_MARGIN_NS)) {
		atomic_store_explicit(&p->watchm, NULL, memory_order_relaxed);
		return false;
	}
	return true;
}

bool goro__slicetimer_watched(p_t *p, m_t *m)
{
	return atomic_load_explicit(&p->watchm, memory_order_acquire) == m;
}

/* sysmon: is the slice p runs now (on m, at schedtick tick) timed? */
bool goro__slicetimed(p_t *p, m_t *m, uint32_t tick)
{
	return atomic_load_explicit(&p->timedm, memory_order_acquire) == m &&
	    p->timedtick == tick;
}

/*
 * The handler, for a SIGURG from m's slice timer: should the G running
 * now stop?  Only if the expiry is for the slice in progress (not one that
 * ended early).  The slice is no longer timed: if the G cannot stop here,
 * sysmon's usual retries take over.  async-signal-safe.
 */
bool goro__slicetimer_fired(m_t *m)
{
	p_t *p = m->p;
	if (p == NULL)
		return false;
	uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
	bool timed = goro__slicetimed(p, m, tick);
	bool watched = goro__slicetimer_watched(p, m);
	if (!timed && !watched)
		return false;	/* for a slice that ended early */
	if (watched)
		atomic_fetch_add_explicit(&watchfires, 1, memory_order_relaxed);
	int64_t quantum = atomic_load_explicit(&goro__sched.quantum, memory_order_relaxed);
	int64_t tns = __atomic_load_n(&tick_ns, __ATOMIC_RELAXED);
	/*
	 * A timed slice's expiry comes after quantum - tick of CPU time, so
	 * of wall time too.  A watchdog's finds a G at any age: it stops only
	 * one that ran through the whole last tick and has run (by itself:
	 * Gs that pass a slice on through runnext, each running briefly,
	 * are sysmon's to cut, as before) for quantum - tick.  Both tests,
	 * since sysmon may arm the watchdog just as the M arms the timer for
	 * a slice.
	 */
	g_t *g = m->curg;
	uint64_t sw = atomic_load_explicit(&p->switches, memory_order_relaxed);
	bool through = g != NULL && g == m->watchg && sw == m->watchsw;
	m->watchg = g;
	m->watchsw = sw;
	uint64_t start = timed ? atomic_load_explicit(&p->runstart, memory_order_relaxed) :
	    m->segstart;
	uint64_t now = goro__cycles();
	int64_t ran = start < now ? goro__cycles2ns(now - start) : 0;
	int64_t due = quantum - tns - SLICE_MARGIN_NS;
	if (g == NULL || ran < due || (!timed && !through)) {
		if (!arm(m, watched ? tns - SLICE_MARGIN_NS : due - ran))
			atomic_store_explicit(&p->watchm, NULL, memory_order_relaxed);
		return false;
	}
	atomic_store_explicit(&p->timedm, NULL, memory_order_relaxed);
	atomic_store_explicit(&p->watchm, NULL, memory_order_relaxed);
	atomic_fetch_add_explicit(&goro__sched.preempt_timer, 1, memory_order_relaxed);
	/* It ran for its quantum: CPU-bound, as if sysmon had stopped it. */
	atomic_store_explicit(&g->cpubound, true, memory_order_relaxed);
	atomic_store_explicit(&g->preempt, true, memory_order_release);
	return true;
}

/* Is the first P watched by the M running it?  For tests. */
bool goro__slicetimer_p0_watched(void)
{
	p_t *p = goro__sched.allp[0];
	m_t *m = p ? p->m : NULL;
	return m != NULL && goro__slicetimer_watched(p, m);
}

uint64_t goro__slicetimer_watchfires(void)
{
	return atomic_load_explicit(&watchfires, memory_order_relaxed);
}

/* The kernel tick slice timers go by (ns; -1 unknown, 0 not yet read), for tests. */
int64_t goro__slicetimer_tick(void)
{
	return __atomic_load_n(&tick_ns, __ATOMIC_RELAXED);
}
