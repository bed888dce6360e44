/*
 * syscall.c - system calls and locked threads: Go's entersyscall,
 * exitsyscall and LockOSThread.
 *
 * A G about to block in the kernel calls goro_syscall_enter(): its P stays
 * with the M but is marked P_SYSCALL and detached (p->m = NULL), so that
 * sysmon may take it (CAS P_SYSCALL -> P_IDLE) and hand it to another M
 * if the call lasts (20 us while other work waits, a quantum otherwise).
 * goro_syscall_exit() takes the old P back if nobody took it (one CAS: the
 * fast path, which is what a short call costs), else any idle P, else
 * queues the G globally and parks the M on the idle list for reuse.
 *
 * Whoever owns a P_SYSCALL P: nobody runs on it; the CAS decides between
 * the returning M and sysmon, exactly one wins.
 *
 * A locked G (goro_lock_thread) runs only on its M, and that M runs only
 * it: when the G blocks, the M gives its P away and sleeps on its note
 * (stoplockedm); when another M picks the G from a queue, it hands its own
 * P to the locked M and wakes it (startlockedm).
 */
#include "runtime.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

/* Mark the current G as in a syscall; its P may be retaken. */
void goro__entersyscall(void)
{
	m_t *m = goro__acquirem();
	g_t *g = m->curg;
	p_t *p = m->p;
	g->saved_errno = errno;
	/*
	 * Handshake with sysmon's preemption signal, Dekker style: we set
	 * insyscall then look at signalpending; sysmon sets signalpending
	 * then looks at insyscall.  Either it does not signal, or we wait
	 * here until its signal has landed (microseconds) -- never in the
	 * call, where the signal would be an EINTR.
	 */
	atomic_store_explicit(&m->insyscall, true, memory_order_seq_cst);
	while (atomic_load_explicit(&m->signalpending, memory_order_seq_cst))
		goro__cpu_relax();
	atomic_store_explicit(&g->status, G_SYSCALL, memory_order_relaxed);
	atomic_store_explicit(&g->cpubound, false, memory_order_relaxed);
	atomic_store_explicit(&p->syscalltick, p->syscalltick + 1, memory_order_relaxed);
	uint64_t now = goro__cycles();
	atomic_store_explicit(&p->syscallwhen, now, memory_order_relaxed);
	g->cpucycles += now - m->segstart;	/* goro_cputime: not the call */
	m->oldp = p;
	m->p = NULL;
	p->m = NULL;
	atomic_store_explicit(&p->status, P_SYSCALL, memory_order_release);
	goro__releasem(m);
	goro__sysmon_syscall_entered();
	errno = g->saved_errno;
}

static void exitsyscall0(g_t *g)
{
	m_t *m = goro__m;
	m->curg = NULL;
	g->m = NULL;
	atomic_store_explicit(&m->insched, true, memory_order_relaxed);
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	goro__lock(&goro__sched.lock);
	p_t *p = goro__pidleget();
	if (p == NULL)
		goro__globrunqput_locked(g);
	goro__unlock(&goro__sched.lock);
	if (p == NULL)
		goro__sysmon_workqueued();	/* it waits for a P: sysmon may have to preempt */
	if (p) {
		goro__acquirep(p);
		goro__execute(g, false);
	}
	if (m->lockedg) {
		/* Our G is queued; wait until someone hands it back with a P. */
		goro__stoplockedm();
	}
	goro__stopm_idle();
	goro__schedule();
}

void goro__exitsyscall(void)
{
	m_t *m = goro__m;
	g_t *g = m->curg;
	int e = errno;
	p_t *p = m->oldp;
	m->oldp = NULL;
	uint32_t st = P_SYSCALL;
	if (p && atomic_compare_exchange_strong(&p->status, &st, P_RUNNING)) {
		/* Fast path: nobody took our P.  A new time slice begins. */
		m->p = p;
		p->m = m;
		atomic_store_explicit(&p->runstart, goro__cycles(), memory_order_relaxed);
	} else {
		goro__lock(&goro__sched.lock);
		p = goro__pidleget();
		goro__unlock(&goro__sched.lock);
		if (p)
			goro__acquirep(p);
	}
	atomic_store_explicit(&m->insyscall, false, memory_order_relaxed);
	m->segstart = goro__cycles();
	if (p) {
		atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
		errno = e;
		if (unlikely(atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed)))
			goro__gosched();
		goro__preempt_check();
		return;
	}
	/* Slow path: no P anywhere; queue ourselves and park the M. */
	g->saved_errno = e;
	goro__mcall_fn(exitsyscall0);
}

/* 0 if the caller may enter a syscall bracket, else the errno to report. */
static int enter_check(m_t *m)
{
	if (m == NULL || m->curg == NULL)
		return EPERM;
	if (m->p == NULL || atomic_load_explicit(&m->insyscall, memory_order_relaxed))
		return EINVAL;	/* already inside a bracket */
	return 0;
}

GORO__EXPORT void goro_syscall_enter(void)
{
	int e = enter_check(goro__m);
	if (e) {
		errno = e;
		return;
	}
	goro__entersyscall();
}

GORO__EXPORT void goro_syscall_exit(void)
{
	m_t *m = goro__m;
	if (m == NULL || m->curg == NULL) {
		errno = EPERM;
		return;
	}
	if (atomic_load_explicit(&m->curg->status, memory_order_relaxed) != G_SYSCALL) {
		errno = EINVAL;
		return;
	}
	goro__exitsyscall();
}

GORO__EXPORT void goro_syscall_enter_blocking(void)
{
	m_t *m = goro__m;
	int e0 = enter_check(m);
	if (e0) {
		errno = e0;
		return;
	}
	int e = errno;
	m = goro__acquirem();
	p_t *p = m->p;
	goro__entersyscall();
	uint32_t st = P_SYSCALL;
	if (atomic_compare_exchange_strong(&p->status, &st, P_IDLE)) {
		atomic_fetch_add(&goro__sched.handoffs, 1);
		goro__handoffp(p);
	}
	goro__releasem(m);
	goro__set_errno(e);
}

/* goro_syscall_exit that never changes errno, even on misuse (GORO_SYSCALL). */
GORO__EXPORT void goro_syscall_leave(void)
{
	m_t *m = goro__m;
	if (m == NULL || m->curg == NULL ||
	    atomic_load_explicit(&m->curg->status, memory_order_relaxed) != G_SYSCALL)
		return;
	goro__exitsyscall();	/* keeps errno, on whichever thread it returns */
}

GORO__EXPORT ssize_t goro_read(int fd, void *buf, size_t n)
{
	m_t *m = goro__m;
	if (m == NULL || m->curg == NULL || m->p == NULL)
		return read(fd, buf, n);
	goro__entersyscall();
	ssize_t r = read(fd, buf, n);
	goro__exitsyscall();
	return r;
}

GORO__EXPORT ssize_t goro_write(int fd, const void *buf, size_t n)
{
	m_t *m = goro__m;
	if (m == NULL || m->curg == NULL || m->p == NULL)
		return write(fd, buf, n);
	goro__entersyscall();
	ssize_t r = write(fd, buf, n);
	goro__exitsyscall();
	return r;
}

/* ---- locked threads ------------------------------------------------------- */

GORO__EXPORT void goro_lock_thread(void)
{
	m_t *m = goro__m;
	g_t *g = m ? m->curg : NULL;
	if (g == NULL) {
		errno = EPERM;
		return;
	}
	if (g->lockcount++ == 0) {
		g->lockedm = m;
		m->lockedg = g;
	}
}

GORO__EXPORT void goro_unlock_thread(void)
{
	m_t *m = goro__m;
	g_t *g = m ? m->curg : NULL;
	if (g == NULL) {
		errno = EPERM;
		return;
	}
	if (g->lockcount == 0) {
		errno = EINVAL;
		return;
	}
	if (--g->lockcount == 0) {
		g->lockedm = NULL;
		m->lockedg = NULL;
	}
}

/*
 * The current M's locked G cannot run now: give the P away and sleep
 * until someone hands the G back with a P; then run it.  On g0.
 */
void goro__stoplockedm(void)
{
	m_t *m = goro__m;
	if (m->lockedg == NULL || m->lockedg->lockedm != m)
		goro__throw("stoplockedm: inconsistent locking");
	if (m->p) {
		p_t *p = goro__releasep();
		goro__handoffp(p);
	}
	goro__lock(&goro__sched.lock);
	goro__sched.nmidlelocked++;
	goro__checkdead();
	goro__unlock(&goro__sched.lock);
	goro__notesleep(&m->park);
	goro__noteclear(&m->park);
	goro__lock(&goro__sched.lock);
	goro__sched.nmidlelocked--;
	goro__unlock(&goro__sched.lock);
	if (atomic_load(&goro__sched.exiting))
		goro__schedexit();
	p_t *p = m->nextp;
	m->nextp = NULL;
	goro__acquirep(p);
	g_t *g = m->lockedg;
	if (atomic_load(&g->status) != G_RUNNABLE)
		goro__throw("stoplockedm: locked G not runnable");
	goro__execute(g, false);
}

/* Hand our P to g's locked M and wake it; then park this M.  On g0. */
void goro__startlockedm(g_t *g)
{
	m_t *mp = g->lockedm;
	p_t *p = goro__releasep();
	mp->nextp = p;
	goro__notewakeup(&mp->park);
	goro__stopm_idle();
}

/* ---- calls nobody wrapped ------------------------------------------------- */

/*
 * The M noticed (goro__acquirem) that sysmon took its P while its thread
 * was blocked.  Turn the situation into a syscall exit: the old P back if
 * sysmon has not handed it on yet, else any idle P, else queue the G and
 * park the M.
 */
void goro__reacquirep(void)
{
	m_t *m = goro__m;
	g_t *g = m->curg;
	int e = errno;
	/*
	 * One CAS decides between us and sysmon undoing the theft (it does
	 * when it finds us in runtime code after marking): the loser leaves
	 * the P alone.
	 */
	bool was = true;
	if (!atomic_compare_exchange_strong(&m->pstolen, &was, false))
		return;		/* sysmon gave the P back */
	m->oldp = m->p;
	m->p = NULL;
	atomic_store_explicit(&g->status, G_SYSCALL, memory_order_relaxed);
	atomic_store_explicit(&m->insyscall, true, memory_order_relaxed);
	errno = e;
	goro__exitsyscall();
}

/* ---- the asymmetric fence of the theft handshake (runtime.h) ---------------- */

#include <linux/membarrier.h>

bool goro__asymfence;

/* At start: may sysmon pay for the handshake's fences with membarrier(2)? */
void goro__theft_init(void)
{
	goro__asymfence = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/*
 * sysmon, between its store of m->pstolen and its reads of the M's state.
 * False if the fence could not be had (membarrier can fail for lack of
 * memory): the caller then gives up this theft.
 */
bool goro__theft_sync(void)
{
	return !goro__asymfence ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* The state letter of the thread's /proc stat, or 0. */
static char threadstate(m_t *m)
{
	char buf[256];
	if (m->statfd < 0)
		return 0;
	ssize_t n = pread(m->statfd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : 0;
}

static bool asleep_in_kernel(m_t *m)
{
	char st = threadstate(m);
	return st == 'S' || st == 'D';
}

/*
 * Read m's CPU clock: did the thread run throughout the time since the
 * last reading, give or take RUNNING_SLACK_NS?  Then it is running now
 * (DESIGN.md's recipe, made strict: a clock that merely advanced may
 * belong to a thread that ran, then blocked).  A call entered within the
 * slack is the window DESIGN.md accepts.  Over a short span the answer
 * means nothing, so it is no.  Sets *moved if the clock advanced at all.
 */
#define RUNNING_SLACK_NS 100000

static bool ran_throughout(m_t *m, bool *moved)
{
	struct timespec ts;
	*moved = false;
	if (clock_gettime(m->cpuclock, &ts) != 0)
		return false;
	int64_t now = goro__nanotime();
	int64_t cpu = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	int64_t span = now - m->lastcheck;
	bool r = m->lastcheck != 0 && span >= 4 * RUNNING_SLACK_NS &&
	    cpu - m->lastcpu >= span - RUNNING_SLACK_NS;
	*moved = cpu != m->lastcpu;
	m->lastcpu = cpu;
	m->lastcheck = now;
	if (r)
		m->runningat = now;
	return r;
}

/*
 * sysmon, before it signals: is m's thread asleep in the kernel right
 * now?  Just seen running (this round), or running throughout since the
 * last reading: no.  Only otherwise ask /proc, which costs five times as
 * much as the clock.
 */
bool goro__sysmon_asleep(m_t *m)
{
	bool moved;
	if (goro__nanotime() - m->runningat < RUNNING_SLACK_NS || ran_throughout(m, &moved))
		return false;
	return asleep_in_kernel(m);
}

/*
 * sysmon, for each M running a G while work waits (a millisecond into the
 * G's run, then less often, see sysmon.c): if the thread is asleep in the
 * kernel, it is blocked in a call nobody wrapped: take its P (as if it had
 * called goro_syscall_enter) so the other Gs keep running.  Never signal
 * such a thread: SIGURG would turn its call into EINTR.  The same
 * hand-off serves a G stuck in unsafe code (libc) for a quantum past its
 * preemption request: its thread keeps running, the P goes on without it.
 */
bool goro__sysmon_check_blocked(p_t *p, m_t *m, int64_t ran)
{
	g_t *g = m->curg;
	if (g == NULL || m->locks > 0 || atomic_load(&m->insched) || atomic_load(&m->insyscall) ||
	    atomic_load(&m->pstolen) || m->lockedg)
		return false;
	/* ran < 0: sysmon just saw the thread asleep; skip the clock test. */
	bool moved = false;
	bool running = ran >= 0 && ran_throughout(m, &moved);
	int64_t quantum = atomic_load(&goro__sched.quantum);
	/*
	 * Stuck in unsafe code: the same G, asked to stop a quantum ago,
	 * still running (a Gs ping-ponging through runnext share a slice and
	 * are not stuck: sysmon's request names one G).
	 */
	bool stuck_unsafe = !goro__sched.asyncpreemptoff && moved && ran >= 2 * quantum &&
	    g == goro__sysmon_preempt_target(p) &&
	    atomic_load(&g->preempt) && g->preemptoff == 0;
	if (!stuck_unsafe && (running || !asleep_in_kernel(m)))
		return false;
	/* Claim the P, then make sure the thread did not wake meanwhile. */
	uint32_t st = P_RUNNING;
	if (!atomic_compare_exchange_strong(&p->status, &st, P_SYSCALL))
		return false;
	atomic_store(&m->pstolen, true);	/* seq_cst: pairs with goro__theft_fence */
	bool synced = goro__theft_sync();
	if (!synced || m->locks > 0 || atomic_load(&m->insched) || atomic_load(&m->insyscall) ||
	    m->curg != g || (!stuck_unsafe && !asleep_in_kernel(m))) {
		bool was = true;
		if (atomic_compare_exchange_strong(&m->pstolen, &was, false)) {
			st = P_SYSCALL;
			atomic_compare_exchange_strong(&p->status, &st, P_RUNNING);
			return false;
		}
		/* It noticed already and is re-acquiring: let it. */
	}
	st = P_SYSCALL;
	if (!atomic_compare_exchange_strong(&p->status, &st, P_IDLE))
		return true;	/* the M took it back */
	p->m = NULL;
	atomic_store_explicit(&g->cpubound, false, memory_order_relaxed);
	atomic_fetch_add(&goro__sched.handoffs, 1);
	goro__sysmon_track_stolen(m);
	goro__handoffp(p);
	return true;
}
