/*
 * sysmon.c - the monitor thread: preemption, syscall hand-off, schedtrace.
 *
 * sysmon runs on its own thread and never holds a P, so it keeps working
 * when every P is stuck (hogged, or blocked in the kernel).  Each round it:
 *
 *   1. preempts every G that has run on its P past the quantum, or that
 *      sits on a P whose timers have expired behind it (a sleeper waits);
 *   2. retakes every P whose M has been in a system call for 20 us while
 *      there is other work, or for a quantum in any case, and hands it to
 *      a spare M; it also catches Ms blocked in calls nobody wrapped
 *      (their thread sleeps in the kernel) and treats them the same way;
 *   3. prints the schedtrace report when its period has passed.
 *
 * Go's sysmon polls every 20 us and backs off to 10 ms when idle, which
 * makes preemption and hand-off latency depend on the luck of the tick
 * (a hog runs ~19 ms under a 10 ms quantum; a hand-off under load takes
 * 5-15 ms).  goro's sysmon is deadline driven instead: it computes the
 * earliest moment anything can become due -- a running G's quantum end, a
 * syscall's 20 us mark, a timer expiring behind a busy P, the next
 * schedtrace line -- and sleeps exactly until then on a futex.  Anyone who
 * moves a deadline closer wakes it (goro__sysmon_wake); a G entering a
 * syscall does so only when sysmon would otherwise sleep past its 20 us
 * mark.
 *
 * What it costs is its wake-ups: one costs 12-25 us of CPU on this VM
 * whatever sysmon then does, a SIGURG to a busy thread about 6 us more.
 * So it wakes as rarely as the work allows:
 *
 *   - with nothing waiting for a P it does not watch running Gs at all
 *     (work queued later wakes it: goro__sysmon_workqueued);
 *   - Ps preempted in the same round start their slices together, and a
 *     slice past half a quantum is cut when another P's quantum ends, so
 *     with every P running CPU-bound Gs one wake-up per quantum serves
 *     all Ps ("shareable");
 *   - a G it stopped for its quantum (CPU-bound, g->cpubound) times its
 *     later slices with its own thread's CPU-clock timer (slicetimer.c);
 *     sysmon looks at such a slice only after SLICETIMER_BACKSTOP quanta;
 *   - it looks for Ms blocked in calls nobody wrapped a millisecond into
 *     a G's run, then at doubling intervals up to half a quantum; a
 *     CPU-bound G only at its quantum's end (or the backstop, if timed).
 *     A G that is not CPU-bound and starts while sysmon sleeps long wakes
 *     it (goro__sysmon_gstart);
 *   - a P that churns through short Gs (a yield loop, a ping-pong) is
 *     looked at less and less often, up to once a quantum (churnival),
 *     or every SLICETIMER_BACKSTOP quanta once its M's timer watches it
 *     (churnwatch);
 *   - hints that wake it early (work queued, a P leaving the idle list,
 *     a fresh G) are ignored for DEAF_QUANTA quanta after one woke it
 *     (see sysmon_main).
 *
 * Measured (bench/sysmoncost, 10 ms quantum): every P busy and nothing
 * waiting, 21 rounds a second and 0.03-0.08 % of a core; 8 call-free
 * loops on 2 Ps, 43 rounds and 0.07-0.15 %; 4 on 1 P, 43 rounds and
 * 0.13-0.25 % (each wake-up lands on the idle vCPU: twice the price); a
 * yield loop on 1 P, 34 rounds and 0.16-0.19 %; a channel ping-pong on
 * 2 Ps, 140-160 rounds and 0.24-0.33 %.  Before slice timers sysmon woke
 * once a quantum for the call-free loops (0.45-0.8 % on 1 P) and the
 * yield loop.  Following the lone busy P to its CPU (sched_setaffinity)
 * halved the 1-P figure then, but made its goroutines pay it instead:
 * not done.
 *
 * It never signals a thread the kernel shows asleep, a G that has just
 * resumed (it must have run a millisecond itself, see "overdue"), or an
 * M that entered a syscall (a handshake in syscall.c): a signal there
 * would be an EINTR.
 */
#include "runtime.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SYSCALL_MARK_NS 20000		/* hand off a syscall P after this */
#define IDLE_SLEEP_NS 100000000		/* nothing due: check back at least this often */
#define RETRY_NS 1000000		/* re-signal an M whose G did not stop */
#define BLOCKCHECK_NS 1000000		/* first look for an unwrapped blocking call */
#define BACKSTOP_NS 50000000		/* see "wanted" in sysmon_round */
#define QUANTUM_SLACK_NS 50000		/* a slice this close to its end is over */
#define SPIN_NS 25000			/* deadlines closer than this: spin */
#define OWNRUN_NS 1000000		/* see "overdue" in sysmon_round */
#define STOLEN_RUN_NS 100000		/* see scan_stolen */
#define REFRESH_NS 100000000		/* look for dlopen/dlclose this often */
#define STANDBY_SLACK_NS 50000		/* a stand-by M's head start at a mark */
#define STANDBY_EVERY_NS 1000000		/* at most one stand-by per P per ms: a loop
					 * of short calls must not wake an M each time */

static goro__note_t wakenote;
static _Atomic int64_t sleepuntil;	/* when sysmon will next wake (ns); 0 awake */
static _Atomic bool stopping;
static _Atomic bool stopped;
static m_t *sysmon_m;

/* Per-P bookkeeping owned by the sysmon thread. */
static struct pstate {
	uint32_t schedtick;		/* last seen p->schedtick */
	uint64_t switches;		/* last seen p->switches */
	uint32_t syscalltick;		/* last seen p->syscalltick */
	int64_t blocknext;		/* next look for an unwrapped blocking call */
	int64_t blockival;		/* ... and the interval that led to it */
	int churn;			/* looks in a row that found it between Gs or on a young one */
	int64_t lastsignal;		/* when we last signalled its M */
	g_t *target;			/* G we last asked to stop */
	uint32_t standbytick;		/* syscall a stand-by M was woken for */
	int64_t laststandby;		/* when we last woke one (at most one a ms) */
} pstate[GORO_MAXPROCS_LIMIT];

g_t *goro__sysmon_preempt_target(p_t *p)
{
	return pstate[p->id].target;
}

static inline int64_t min_deadline(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* A wake-up asked for while sysmon was awake: its round may have missed it. */
static _Atomic bool kick;

void goro__sysmon_wake(void)
{
	int64_t until = atomic_load_explicit(&sleepuntil, memory_order_acquire);
	if (until == 0) {
		atomic_store(&kick, true);	/* awake: look again before sleeping */
		return;
	}
	if (atomic_compare_exchange_strong(&sleepuntil, &until, 0)) {
		uint32_t zero = 0;
		/* A note may be woken once; the CAS above makes us the only waker. */
		if (atomic_compare_exchange_strong(&wakenote.key, &zero, 1))
			goro__notewakeup_raw(&wakenote);
	}
}

void goro__sysmon_syscall_entered(void)
{
	int64_t until = atomic_load_explicit(&sleepuntil, memory_order_seq_cst);
	if (until == 0 || until - goro__nanotime() > SYSCALL_MARK_NS)
		goro__sysmon_wake();
}

/*
 * sysmon sleeps past the next millisecond without watching the running
 * Gs at all (nothing waited for a P at its last round: no quantum ends,
 * no blocked Ms matter).  Work queued from now on may wait behind a G past
 * its quantum or an M blocked in an unwrapped call: the first to queue
 * some wakes sysmon, which then watches again.
 */
static _Atomic bool sleeplong;

static _Atomic bool hintwake;	/* the last wake-up came from a hint */

void goro__sysmon_workqueued(void)
{
	if (atomic_load_explicit(&sleeplong, memory_order_relaxed) &&
	    atomic_exchange(&sleeplong, false)) {
		atomic_store_explicit(&hintwake, true, memory_order_relaxed);
		goro__sysmon_wake();
	}
}

/*
 * sysmon sleeps past the next millisecond while work waits, because the
 * Gs it saw running are CPU-bound.  A G that starts from now on and is
 * not known to be CPU-bound wakes it (goro__sysmon_gstart), so that its
 * first look comes a millisecond into its run.
 */
_Atomic bool goro__sysmon_watchfresh;

void goro__sysmon_freshg(void)
{
	if (atomic_exchange(&goro__sysmon_watchfresh, false)) {
		atomic_store_explicit(&hintwake, true, memory_order_relaxed);
		goro__sysmon_wake();
	}
}

static _Atomic bool listening;	/* sysmon takes hints (see sysmon_main) */

/*
 * A P left the idle list: sysmon must look at it within a quantum -- unless
 * it is deaf to hints for now (see sysmon_main), and looks soon anyway.
 */
void goro__sysmon_pbusy(void)
{
	int64_t until = atomic_load_explicit(&sleepuntil, memory_order_relaxed);
	if (until != 0 && atomic_load_explicit(&listening, memory_order_relaxed) &&
	    until - goro__nanotime() > atomic_load(&goro__sched.quantum)) {
		atomic_store_explicit(&hintwake, true, memory_order_relaxed);
		goro__sysmon_wake();
	}
}

/*
 * Is there work that a P stuck in a syscall is keeping from running?
 * Only Gs actually waiting count.  (Go also retakes when no P is idle, to
 * keep one free for work to come; with a 20 us mark that hands off the P
 * of every short call the kernel happens to deschedule on a busy machine,
 * and each such hand-off may cost a thread.  Work queued later is seen at
 * sysmon's next look; a quantum bounds the rest.)
 */
static bool work_waits(p_t *p)
{
	return !goro__runqempty(p) ||
	    atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) > 0;
}

/* Take p from its M in a syscall and give it to another M. */
static bool retake_syscall(p_t *p)
{
	uint32_t st = P_SYSCALL;
	if (!atomic_compare_exchange_strong(&p->status, &st, P_IDLE))
		return false;
	atomic_fetch_add(&goro__sched.handoffs, 1);
	goro__handoffp(p);
	return true;
}

/*
 * Ms whose P we took while they were blocked or stuck (syscall.c).  Once
 * such a thread runs again, it runs a G without a P: signal it until it
 * reaches a safe point or a runtime call, where it re-acquires a P.
 * Only the sysmon thread touches this list.
 */
#define MAXSTOLEN 256
static m_t *stolen[MAXSTOLEN];
static int nstolen;

void goro__sysmon_track_stolen(m_t *m)
{
	for (int i = 0; i < nstolen; i++)
		if (stolen[i] == m)
			return;
	if (nstolen < MAXSTOLEN)
		stolen[nstolen++] = m;
}

static int64_t scan_stolen(int64_t now, int64_t next)
{
	for (int i = 0; i < nstolen; i++) {
		m_t *m = stolen[i];
		if (!atomic_load(&m->pstolen)) {
			stolen[i--] = stolen[--nstolen];
			continue;
		}
		struct timespec ts;
		int64_t cpu = -1;
		if (clock_gettime(m->cpuclock, &ts) == 0)
			cpu = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		/*
		 * Running again: bring it to a safe point.  But only once it has
		 * run 100 us of user code: a thread that returns from its call
		 * reaches a runtime call (and takes a P back) within
		 * microseconds, usually, and may go straight into its next call,
		 * where our signal would be an EINTR.  And the kernel must say
		 * runnable too: the clock also moves while a thread enters a call.
		 */
		if (cpu - m->lastcpu > STOLEN_RUN_NS && !goro__sysmon_asleep(m)) {
			m->lastcpu = cpu;
			g_t *g = m->curg;
			if (g) {
				atomic_store(&g->preempt, true);
				if (!goro__sched.asyncpreemptoff && !atomic_exchange(&m->signalpending, true))
					goro__tgkill(m, SIGURG);
			}
		}
		next = min_deadline(next, now + BLOCKCHECK_NS);
	}
	return next;
}

/* Is any G waiting for a P? */
static bool work_anywhere(void)
{
	if (atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) > 0)
		return true;
	int np = atomic_load(&goro__sched.gomaxprocs);
	for (int i = 0; i < np; i++)
		if (!goro__runqempty(goro__sched.allp[i]))
			return true;
	return false;
}

/*
 * When to look next for an unwrapped blocking call on a P (see the
 * opening comment): a millisecond into a G's run, then twice as long
 * after each look that found it running, up to half a quantum; a G
 * known to be CPU-bound only at its quantum's end.
 */
static int64_t blockcap(int64_t quantum)
{
	return quantum / 2 > BLOCKCHECK_NS ? quantum / 2 : BLOCKCHECK_NS;
}

/*
 * A slice is cut once it has run this long when sysmon is awake anyway
 * (another P's quantum ended).  Ps preempted together start their next
 * slices together, so with every P running CPU-bound Gs one wake-up per
 * quantum serves them all, instead of one per P at scattered times.  A
 * slice is never shorter than half a quantum, and never longer than one.
 */
static int64_t shareable(int64_t quantum)
{
	return quantum / 2;
}

/*
 * A P that churns through short Gs (a yield loop, a channel ping-pong) is
 * not stuck: every look finds it between two Gs or on one that started
 * microseconds ago.  Looking at it each millisecond, as at a P that holds
 * one G, would cost a wake-up a millisecond for nothing.  So after
 * CHURN_LOOKS such looks in a row the next one comes later: 2, 4, 8 ms,
 * up to a quantum -- or SLICETIMER_BACKSTOP quanta once its M's timer
 * watches it (churnwatch).  A look that finds a G a millisecond old checks it
 * there and then, so a G that blocks on a churning P is caught at the
 * next look; and that look resets the count, as do a system call, a
 * hand-off and a quantum idle.  (A P of a 2-P ping-pong idles for a
 * millisecond now and then; resetting on that, and waiting for 8 looks
 * rather than 3, kept sysmon at 420 rounds a second there.)
 */
#define CHURN_LOOKS 3
#define DEAF_QUANTA 2		/* see sysmon_main */
static bool churning;		/* some P churned at this round */

static int64_t churnival(const struct pstate *ps, int64_t quantum, bool watched)
{
	if (ps->churn < CHURN_LOOKS)
		return BLOCKCHECK_NS;
	churning = true;
	int shift = ps->churn - CHURN_LOOKS + 1 < 6 ? ps->churn - CHURN_LOOKS + 1 : 6;
	int64_t ival = (int64_t)BLOCKCHECK_NS << shift;
	int64_t cap = watched ? SLICETIMER_BACKSTOP * quantum : quantum;
	if (cap < BLOCKCHECK_NS)
		cap = BLOCKCHECK_NS;
	return ival < cap ? ival : cap;
}

/*
 * A P that has churned for a while gets its M's slice timer as a watchdog
 * (slicetimer.c): then a G that starts there and runs on is stopped within
 * its quantum without us, and we look only for blocked threads, at most
 * every SLICETIMER_BACKSTOP quanta.
 */
static bool churnwatch(p_t *p, m_t *m, const struct pstate *ps)
{
	return ps->churn >= CHURN_LOOKS + 2 && goro__slicetimer_watch(p, m);
}

static void churned(struct pstate *ps)
{
	if (ps->churn < 30)
		ps->churn++;
}

/* Has the slice of some G running on a P reached the quantum? */
static bool slice_over(int nall, uint64_t nowc, int64_t quantum)
{
	uint64_t q = goro__ns2cycles(quantum);
	for (int i = 0; i < nall; i++) {
		p_t *p = goro__sched.allp[i];
		m_t *m = p->m;
		if (atomic_load_explicit(&p->status, memory_order_relaxed) != P_RUNNING || m == NULL ||
		    atomic_load_explicit(&m->insched, memory_order_relaxed) ||
		    goro__slicetimed(p, m, atomic_load_explicit(&p->schedtick, memory_order_relaxed)))
			continue;
		uint64_t start = atomic_load_explicit(&p->runstart, memory_order_relaxed);
		if (start < nowc && nowc - start + goro__ns2cycles(QUANTUM_SLACK_NS) >= q)
			return true;
	}
	return false;
}

static _Atomic uint64_t nrounds;

/* Rounds sysmon has run (each is one wake-up or less), for tests and benches. */
uint64_t goro__sysmon_rounds(void)
{
	return atomic_load_explicit(&nrounds, memory_order_relaxed);
}

/* One round; returns the time of the next round. */
static int64_t sysmon_round(int64_t now)
{
	churning = false;
	atomic_store_explicit(&nrounds, nrounds + 1, memory_order_relaxed);
	static int64_t lasttrace;
	int64_t next = now + IDLE_SLEEP_NS;
	uint64_t nowc = goro__cycles();
	int np = atomic_load(&goro__sched.gomaxprocs);
	int64_t quantum = atomic_load(&goro__sched.quantum);
	int64_t cap = blockcap(quantum);
	/* A blocked M holding its P only costs something when other work waits. */
	bool waiting = work_anywhere();

	/* Ps beyond gomaxprocs still in use after a shrink are seen too. */
	int nall = goro__sched.nallp;
	bool quantumround = waiting && slice_over(nall, nowc, quantum);
	for (int i = 0; i < nall; i++) {
		p_t *p = goro__sched.allp[i];
		struct pstate *ps = &pstate[i];
		uint32_t st = atomic_load_explicit(&p->status, memory_order_acquire);
		bool dying = i >= np;
		if (dying && st == P_SYSCALL) {
			retake_syscall(p);	/* handoffp kills it */
			continue;
		}
		if (st == P_SYSCALL) {
			ps->churn = 0;	/* whatever runs next is new */
			uint32_t t = atomic_load(&p->syscalltick);
			uint64_t since = atomic_load(&p->syscallwhen);
			int64_t in = since < nowc ? goro__cycles2ns(nowc - since) : 0;
			bool waits = work_waits(p);
			if ((waits && in >= SYSCALL_MARK_NS + STANDBY_SLACK_NS) || in >= quantum ||
			    (waits && in >= SYSCALL_MARK_NS && ps->standbytick != t)) {
				if (retake_syscall(p))
					continue;
			}
			/*
			 * Wake an idle M now to take the P itself at the mark: its
			 * wake-up latency overlaps the wait instead of following it.
			 * sysmon retakes only if that M did not, a little later.
			 */
			if (waits && in < SYSCALL_MARK_NS && ps->standbytick != t &&
			    now - ps->laststandby >= STANDBY_EVERY_NS &&
			    goro__standby_wake(p, t, since + goro__ns2cycles(SYSCALL_MARK_NS))) {
				ps->standbytick = t;
				ps->laststandby = now;
			}
			if (waits && ps->standbytick == t)
				in -= STANDBY_SLACK_NS;	/* our own deadline is later */
			next = min_deadline(next, now + (waits ? SYSCALL_MARK_NS - in : quantum - in));
			continue;
		}
		if (st != P_RUNNING) {
			/* Idle a while (not between two quick Gs): not churning. */
			uint64_t since = atomic_load_explicit(&p->idlesince, memory_order_relaxed);
			if (st == P_IDLE && since < nowc && goro__cycles2ns(nowc - since) >= quantum)
				ps->churn = 0;
			continue;
		}
		m_t *m = p->m;
		if (m == NULL)
			continue;
		uint32_t tick = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
		if (tick != ps->schedtick) {
			ps->schedtick = tick;
			ps->lastsignal = 0;
			ps->target = NULL;
		}
		bool insched = atomic_load_explicit(&m->insched, memory_order_relaxed);
		if (insched) {
			/* No G to preempt now; but the one it runs next may sit on a timer. */
			int64_t w = atomic_load_explicit(&p->timer0when, memory_order_relaxed);
			if (w != 0)
				next = min_deadline(next, w > now ? w : now + RETRY_NS / 10);
			churned(ps);
			if (waiting)	/* see the G it starts within a millisecond, or so */
				next = min_deadline(next, now + churnival(ps, quantum,
				    churnwatch(p, m, ps)));
			continue;
		}
		uint64_t start = atomic_load_explicit(&p->runstart, memory_order_relaxed);
		int64_t ran = start < nowc ? goro__cycles2ns(nowc - start) : 0;
		uint64_t seg = atomic_load_explicit((_Atomic uint64_t *)&m->segstart, memory_order_relaxed);
		int64_t own = seg < nowc ? goro__cycles2ns(nowc - seg) : 0;
		/*
		 * A slice its M times itself (slicetimer.c) ends without us;
		 * we step in only if it lasts SLICETIMER_BACKSTOP quanta.  So
		 * does, on a P whose M's timer watches it, the slice of a G
		 * that runs on by itself (its run began the slice); a slice
		 * passed on through runnext is still ours to cut.
		 */
		bool watched = own < BLOCKCHECK_NS ? churnwatch(p, m, ps) :
		    goro__slicetimer_watched(p, m);
		int64_t pq = goro__slicetimed(p, m, tick) || (watched && seg == start) ?
		    SLICETIMER_BACKSTOP * quantum : quantum;

		/*
		 * Unwrapped blocking calls and long unsafe code (syscall.c).
		 * A new run segment (a switch, or a return from a wrapped
		 * syscall) starts a new schedule of looks.
		 */
		uint64_t sw = atomic_load_explicit(&p->switches, memory_order_relaxed);
		uint32_t sc = atomic_load_explicit(&p->syscalltick, memory_order_relaxed);
		if (sw != ps->switches || sc != ps->syscalltick || ps->blockival == 0) {
			g_t *g = m->curg;
			ps->switches = sw;
			ps->syscalltick = sc;
			ps->blockival = g && atomic_load_explicit(&g->cpubound, memory_order_relaxed) ?
			    pq : BLOCKCHECK_NS;
			ps->blocknext = now - own + ps->blockival;
			if (ps->churn >= CHURN_LOOKS && ps->blocknext < now + churnival(ps, quantum, watched))
				ps->blocknext = now + churnival(ps, quantum, watched);
		}
		if (own < BLOCKCHECK_NS)
			churned(ps);
		else
			ps->churn = 0;	/* a G that has run a while: watch it closely */
		if (waiting) {
			/* Due soon counts as due: one wake-up serves all Ps. */
			if (ps->blocknext - now <= ps->blockival / 4) {
				if (goro__sysmon_check_blocked(p, m, ran)) {
					ps->churn = 0;
					continue;
				}
				ps->blockival = 2 * ps->blockival < cap ? 2 * ps->blockival :
				    ps->blockival > cap ? ps->blockival : cap;
				ps->blocknext = now + ps->blockival;
			}
		}

		int64_t t0 = atomic_load_explicit(&p->timer0when, memory_order_relaxed);
		bool timerlate = t0 != 0 && t0 <= now;
		if (timerlate && atomic_load(&goro__sched.npidle) > 0) {
			/* An idle P can run the expired timer: no need to stop anyone. */
			goro__wakep();
			timerlate = false;
		}
		if (t0 > now)
			next = min_deadline(next, t0);
		/*
		 * Preempting is pointless when nothing else wants the P.  Then
		 * there is no deadline for it either: work queued from now on
		 * wakes sysmon (goro__sysmon_workqueued) if it sleeps long.
		 */
		bool exiting = atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed);
		bool wanted = timerlate || waiting || exiting || dying;
		if (!wanted) {
			ps->target = NULL;
			/* ... but for work queued while this round ran (a narrow window). */
			next = min_deadline(next, now + (2 * quantum > BACKSTOP_NS ? 2 * quantum : BACKSTOP_NS));
			continue;
		}
		/*
		 * A slice passes from G to G through runnext, so `ran` may be
		 * old for a G that has just resumed -- and a G that has just
		 * resumed is the one likely to be entering a call nobody
		 * wrapped, where our signal would be an EINTR.  So for the
		 * quantum, the G must also have run a millisecond itself (or a
		 * quantum, if shorter), or the slice be two quanta old.  A slice
		 * past shareable() is cut now when the round was due for
		 * another P's quantum, rather than costing a wake-up of its own.
		 */
		int64_t ownrun = quantum < OWNRUN_NS ? quantum : OWNRUN_NS;
		int64_t quantum_end = now - ran + pq;
		bool overdue = (ran >= pq - QUANTUM_SLACK_NS ||
		    (quantumround && ran >= shareable(quantum))) &&
		    (own >= ownrun || ran >= 2 * pq);
		if (overdue || timerlate || exiting || dying) {
			if (ps->lastsignal == 0 || now - ps->lastsignal >= RETRY_NS) {
				/*
				 * Never signal a thread asleep in the kernel: that
				 * would be an EINTR for a call nobody wrapped.
				 * Hand its P off instead.
				 */
				if (goro__sysmon_asleep(m)) {
					goro__sysmon_check_blocked(p, m, -1);
					continue;
				}
				ps->lastsignal = now;
				ps->target = m->curg;
				/* Stopped for running a quantum: CPU-bound (see blockival). */
				if (overdue && ps->target)
					atomic_store_explicit(&ps->target->cpubound, true, memory_order_relaxed);
				goro__preemptone(p, m);
				ps->blockival = 0;	/* its successor's looks start afresh */
				/* ... and if it is not CPU-bound, it tells us it started. */
				atomic_store(&goro__sysmon_watchfresh, true);
				/*
				 * No retry deadline: the G stops within microseconds,
				 * or the handler defers and wakes us (preempt.c).  The
				 * G that comes next is CPU-bound (the slice's new
				 * look, a quantum away) or wakes us itself
				 * (goro__sysmon_gstart: watchfresh is set from
				 * here, so a G that starts before we sleep wakes
				 * us too).
				 */
				next = min_deadline(next, now + quantum);
				continue;
			} else if (!atomic_load(&m->signalpending)) {
				next = min_deadline(next, ps->lastsignal + RETRY_NS);	/* deferred */
			} else {
				next = min_deadline(next, now + cap);	/* not yet delivered */
			}
		} else if (quantum_end > now) {
			next = min_deadline(next, quantum_end);
		} else {
			/*
			 * Quantum over, waiting for the G's own millisecond -- which
			 * the Gs of a churning P, passing the slice on through
			 * runnext, never reach: then the slice's second quantum.
			 */
			next = min_deadline(next, ps->churn >= CHURN_LOOKS ? now - ran + 2 * quantum :
			    now + ownrun - own);
		}
		if (waiting)
			next = min_deadline(next, ps->blocknext);
	}

	next = scan_stolen(now, next);

	/* Objects loaded or unloaded since: the preemptible-text table follows. */
	static int64_t lastrefresh;
	if (now - lastrefresh >= REFRESH_NS) {
		lastrefresh = now;
		goro__preempt_refresh();
	}

	if (goro__sched.schedtrace_ms > 0) {
		int64_t period = goro__sched.schedtrace_ms * 1000000;
		if (lasttrace == 0)
			lasttrace = goro__sched.starttime;
		if (now - lasttrace >= period) {
			goro__schedtrace(2, goro__sched.scheddetail);
			lasttrace = now;
		}
		next = min_deadline(next, lasttrace + period);
	}
	return next;
}

static void sysmon_main(void)
{
	sysmon_m = goro__m;
	/* Deadlines of 20 us mean nothing under the default 50 us timer slack. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	/*
	 * The hints that wake sysmon early (work queued, a P leaving the idle
	 * list, a fresh G starting: see above) fire all the time when two Ps
	 * pass Gs back and forth, and the work is usually gone again before
	 * sysmon looks.  After a hinted wake-up, sysmon takes no hints for
	 * DEAF_QUANTA quanta, and looks at least that often instead (the
	 * delay goro(7) allows for work that arrives after sysmon last
	 * looked).  With one quantum, a 2-P ping-pong still woke it 100
	 * times a second through hints alone.
	 */
	int64_t deaf = 0;
	while (!atomic_load(&stopping)) {
		atomic_store(&kick, false);
		int64_t now = goro__nanotime();
		bool hinted = atomic_exchange_explicit(&hintwake, false, memory_order_relaxed);
		int64_t next = sysmon_round(now);
		if (hinted)
			deaf = now + DEAF_QUANTA * atomic_load(&goro__sched.quantum);
		now = goro__nanotime();
		bool listen = now >= deaf;
		atomic_store_explicit(&listening, listen, memory_order_relaxed);
		if (!listen)
			next = min_deadline(next, deaf);
		if (next <= now)
			continue;
		/*
		 * A deadline this close (a syscall's 20 us mark) is met by
		 * spinning: a timed futex sleep wakes tens of microseconds late.
		 */
		if (next - now <= SPIN_NS) {
			while (goro__nanotime() < next && !atomic_load_explicit(&kick, memory_order_relaxed))
				goro__cpu_relax();
			continue;
		}
		atomic_store(&wakenote.key, 0);
		bool waits = work_anywhere();
		atomic_store(&sleeplong, listen && next - now > BLOCKCHECK_NS && !waits);
		/* (Not for churning Ps: fresh Gs start there all the time.) */
		atomic_store(&goro__sysmon_watchfresh, listen && next - now > BLOCKCHECK_NS && waits &&
		    !churning);
		atomic_store_explicit(&sleepuntil, next, memory_order_seq_cst);
		/*
		 * A deadline that moved during the round set kick (we were
		 * awake); one that moves from now on finds sleepuntil set and
		 * wakes the note.  Both seq_cst: one of the two always sees
		 * the other.
		 */
		if (atomic_load_explicit(&kick, memory_order_seq_cst)) {
			atomic_store(&sleepuntil, 0);
			atomic_store(&sleeplong, false);
			atomic_store(&goro__sysmon_watchfresh, false);
			continue;
		}
		goro__notetsleep(&wakenote, next - now);
		atomic_store(&sleeplong, false);
		atomic_store(&goro__sysmon_watchfresh, false);
		atomic_store_explicit(&sleepuntil, 0, memory_order_release);
	}
	atomic_store(&stopped, true);
}

void goro__sysmon_start(void)
{
	atomic_store(&stopping, false);
	atomic_store(&stopped, false);
	atomic_store(&sleepuntil, 0);
	memset(pstate, 0, sizeof pstate);
	nstolen = 0;
	goro__newm_sys(sysmon_main);
}

void goro__sysmon_stop(void)
{
	atomic_store(&stopping, true);
	for (int i = 0; i < 10000 && !atomic_load(&stopped); i++) {
		int64_t until = atomic_load(&sleepuntil);
		if (until != 0 && atomic_compare_exchange_strong(&sleepuntil, &until, 0)) {
			uint32_t zero = 0;
			if (atomic_compare_exchange_strong(&wakenote.key, &zero, 1))
				goro__notewakeup_raw(&wakenote);
		}
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
}

/* sysmon's CPU time so far (ns), for the goro(7) figure and tests. */
int64_t goro__sysmon_cputime(void)
{
	m_t *m = sysmon_m;
	struct timespec ts;
	if (m == NULL || clock_gettime(m->cpuclock, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
