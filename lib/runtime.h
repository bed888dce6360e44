/*
 * runtime.h - the internal types of goro: G, P, M and sched.
 *
 * The one internal header.  It follows Go's runtime2.go: a G is a
 * goroutine, a P a logical processor (what a G needs to run: a run queue,
 * caches, timers), an M an OS thread.  An M runs Gs only while it holds a
 * P; an M without a P is idle (parked on its futex), spinning (looking for
 * work), in a system call, or sysmon.
 *
 * Locking order (outer first): sched.lock, then p->timerlock; channel and
 * sync-object locks are taken on their own, except that a select arming
 * its time-out takes p->timerlock under its channel locks (nobody takes a
 * channel lock under a timer lock: timer callbacks run without it).
 * Channel and mutex locks are never held across a park: goro__park()
 * drops them on the scheduler stack once the G is off its own stack, so a
 * waker can never run a G that is still executing.
 */
#ifndef GORO_RUNTIME_H
#define GORO_RUNTIME_H

#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "goro.h"
#include "arch.h"

#define GORO__EXPORT __attribute__((visibility("default")))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

typedef struct goro__g g_t;
typedef struct goro__p p_t;
typedef struct goro__m m_t;

/* ---- fatal errors and locks (lock.c) ----------------------------------- */

/* Print "goro: fatal error: msg" with write(2) and abort().  Invariants. */
void goro__throw(const char *msg) __attribute__((noreturn));
/* Like goro__throw, with a number appended. */
void goro__throwf(const char *msg, long long v) __attribute__((noreturn));
/* Write a string to fd with write(2); async-signal-safe. */
void goro__writestr(int fd, const char *s);
/* Format v in decimal into buf (at least 24 bytes); async-signal-safe. */
char *goro__itoa(char *buf, long long v);

/*
 * A runtime lock: a futex-backed mutex for short critical sections in the
 * scheduler (sched.lock, timer heaps, channels).  While an M holds one,
 * m->locks > 0 and the G on it is not preemptible.
 */
typedef struct { _Atomic uint32_t key; } goro__lock_t;
void goro__lock(goro__lock_t *l);
void goro__unlock(goro__lock_t *l);

/* A one-shot sleep/wake-up event (Go's note) on a futex. */
typedef struct { _Atomic uint32_t key; } goro__note_t;
void goro__noteclear(goro__note_t *n);
void goro__notewakeup(goro__note_t *n);
void goro__notewakeup_raw(goro__note_t *n);
void goro__notesleep(goro__note_t *n);
/* Sleep until woken or ns elapsed (ns < 0: forever); true if woken. */
bool goro__notetsleep(goro__note_t *n, int64_t ns);

int64_t goro__nanotime(void);
uint32_t goro__fastrand(void);

/* ---- contexts (lib/arch/<arch>/switch.S) ------------------------------- */

/*
 * A saved context is just a stack pointer: the switch pushes the
 * callee-saved registers, MXCSR and the x87 control word on the stack it
 * leaves, and pops them from the one it enters.
 */
typedef struct { void *sp; } goro__ctx_t;

/* Save the current context in *from and resume *to. */
void goro__ctx_switch(goro__ctx_t *from, goro__ctx_t *to);
/* Resume *to, abandoning the current context. */
void goro__ctx_jump(goro__ctx_t *to) __attribute__((noreturn));
/*
 * Save the current context in *from, switch to the stack whose top is
 * g0sp and call fn(g) there.  fn never returns; the saved context is
 * resumed later by a goro__ctx_jump/switch to *from.
 */
void goro__mcall(goro__ctx_t *from, void *g0sp, void (*fn)(g_t *), g_t *g);
/* Prepare ctx so that resuming it calls entry() on the stack [lo, hi). */
void goro__ctx_make(goro__ctx_t *ctx, void *hi, void (*entry)(void));

/* ---- G ----------------------------------------------------------------- */

/* G status, numbered like Go's so scheddetail reads the same. */
enum {
	G_IDLE = 0,	/* just allocated, not yet initialised */
	G_RUNNABLE = 1,	/* on a run queue; not executing; owns no M */
	G_RUNNING = 2,	/* may execute user code; owns its stack; has an M and a P */
	G_SYSCALL = 3,	/* in a system call (or unsafe code) with an M, maybe no P */
	G_WAITING = 4,	/* parked: on some wait list, not on a run queue */
	G_DEAD = 6,	/* unused: on a free list, or being set up */
	G_PREEMPTED = 9,/* stopped by async preemption; about to be queued */
};

/* Why a G waits; the text is printed by scheddetail and deadlock reports. */
enum {
	WAIT_NONE, WAIT_SLEEP, WAIT_CHAN_SEND, WAIT_CHAN_RECV, WAIT_SELECT,
	WAIT_SELECT_NOCASES, WAIT_MUTEX, WAIT_WG, WAIT_LOCKED_THREAD,
	WAIT_PREEMPTED, WAIT_NREASONS
};
extern const char *const goro__waitreason_str[WAIT_NREASONS];

/* A timer on a P's heap (time.c). */
typedef struct goro__timer goro__timer_t;
struct goro__timer {
	int64_t when;		/* absolute goro__nanotime() */
	void (*f)(goro__timer_t *t);	/* runs on the scheduler stack, P held */
	void *arg;
	_Atomic(p_t *) p;	/* heap it is on; NULL when not queued */
	int idx;		/* position in p->timers; protected by p->timerlock */
};

/* A waiting G on a channel or sync object (Go's sudog). */
typedef struct goro__sudog goro__sudog_t;
struct goro__sudog {
	g_t *g;
	goro__sudog_t *next, *prev;	/* on the object's wait queue */
	void *elem;		/* data to send or where to receive */
	void *c;		/* the channel */
	int idx;		/* select case index */
	bool success;		/* woken by a completed operation (not close) */
	bool isselect;
};

struct goro__g {
	/* Saved by the context switch; offset 0 (switch.S relies on it). */
	goro__ctx_t ctx;

	_Atomic uint32_t status;	/* G_*; written by the owner of the G */
	int64_t goid;			/* > 0; never reused */
	void (*fn)(void *);
	void *arg;

	/* Stack [stack_lo, stack_hi); guard page below stack_lo. */
	char *stack_lo, *stack_hi;
	size_t stack_size;		/* usable bytes asked for */
	void *stack_map;		/* start of the mapping (guard included) */
	size_t stack_maplen;

	m_t *m;				/* M running it; NULL when not running */
	m_t *lockedm;			/* goro_lock_thread: the M it is pinned to */
	int lockcount;			/* nesting of goro_lock_thread */
	g_t *schedlink;			/* global run queue or free list link */
	goro__sudog_t *waiting;		/* sudogs of a parked channel op */
	int waitreason;			/* WAIT_*; valid while G_WAITING */
	const char *name;
	int saved_errno;		/* errno while not running */
	bool selectdone;		/* a select case has been claimed (chan.c) */

	/* Preemption (preempt.c).  preempt is set by sysmon or a waker. */
	_Atomic bool preempt;		/* a stop is requested */
	int preemptoff;			/* goro_preempt_off nesting */
	bool preempt_pending;		/* requested while preemptoff > 0 */
	uintptr_t redirect_ret;		/* original return address of a redirect */
	uintptr_t *redirect_slot;	/* where the trampoline address was written */
	int errnodefer;			/* signals deferred for a live &errno (preempt.c) */
	/*
	 * sysmon stopped it for running a whole quantum, and it has not
	 * blocked since: a CPU-bound G, which sysmon checks for unwrapped
	 * blocking calls less often (sysmon.c).  Set by sysmon as it asks
	 * the G to stop; cleared by a park, a wrapped syscall, or a hand-off
	 * of its P while it slept in an unwrapped one.
	 */
	_Atomic bool cpubound;
	bool spawnslow;			/* its last back-pressure yield was slow (proc.c) */

	/* Time on a thread, in TSC cycles, up to its last switch-out. */
	uint64_t cpucycles;
};

/* ---- P ----------------------------------------------------------------- */

enum { P_IDLE = 0, P_RUNNING = 1, P_SYSCALL = 2, P_DEAD = 4 };

#define RUNQ_SIZE 256
#define GFREE_MAX 64

struct goro__p {
	int id;
	_Atomic uint32_t status;	/* P_*; see proc.c for who changes it */
	p_t *link;			/* idle P list (sched.lock) */
	m_t *m;				/* M holding it, NULL when idle */
	_Atomic uint32_t schedtick;	/* incremented on every G scheduled */
	_Atomic uint32_t syscalltick;	/* incremented on every syscall */
	_Atomic uint64_t switches;	/* Gs switched to on this P (owner writes) */
	_Atomic uint64_t runstart;	/* cycles when the current time slice began */
	/* The slice's end is timed by its M (slicetimer.c): see the invariants there. */
	_Atomic(m_t *) timedm;
	_Atomic(m_t *) watchm;		/* the M whose timer watches this churning P */
	uint32_t timedtick;		/* schedtick of the timed slice */
	_Atomic uint64_t syscallwhen;	/* cycles when its M entered a syscall */

	/* Run queue: lock-free, one producer (the owner), many consumers. */
	_Atomic uint32_t runqhead;
	_Atomic uint32_t runqtail;
	_Atomic(g_t *) runq[RUNQ_SIZE];
	_Atomic(g_t *) runnext;		/* G readied by the running G: runs next */
	_Atomic int nstealing;		/* thieves in goro__runqgrab (runq.c) */

	g_t *lastpreempted;		/* G preempted here last (owner only; a hint) */
	/*
	 * Gs created here minus Gs that exited here (owner writes, anyone
	 * sums: goro__gcount).  Per P, so that spawning and exiting on two
	 * Ps do not bounce one counter's cache line between them.
	 */
	_Atomic int64_t gdelta;
	uint64_t headpull;		/* cycles: goro__runqget_lifo last took the oldest */
	_Atomic uint64_t idlesince;	/* cycles: when it last went idle (for sysmon) */

	/* What thieves saw at the head and since when (sched.c: stealable). */
	_Alignas(64) _Atomic(g_t *) stealg;
	_Atomic int64_t stealseen;

	/* Unused default-size stacks with guards (stack.c; owner only). */
#define STACKCACHE 32
	char *stackcache[STACKCACHE];
	int nstackcache;

	/* Dead Gs with stacks, for reuse (owned by the P's M). */
	g_t *gfree;
	int gfreecnt;

	/* Timers (time.c): a min-heap on when. */
	goro__lock_t timerlock;
	goro__timer_t **timers;
	int ntimers, timerscap;
	_Atomic int64_t timer0when;	/* earliest when, 0 if none */

	/* goid allocation cache (Go's goidcache). */
	int64_t goidcache, goidcacheend;
};

/* ---- M ----------------------------------------------------------------- */

struct goro__m {
	int id;
	pid_t tid;
	pthread_t thread;
	g_t *curg;		/* G running on this M, NULL on the scheduler stack */
	p_t *p;			/* attached P; NULL if none */
	p_t *nextp;		/* P handed to it before wake-up */
	p_t *oldp;		/* P held before a syscall (for the fast exit) */
	m_t *link;		/* idle M list (sched.lock) */
	m_t *alllink;		/* allm list */
	goro__note_t park;	/* idle M sleeps here */
	void *g0sp;		/* top of the scheduler stack */
	goro__ctx_t g0ctx;	/* M0 only: goro_run's frame to return to */
	g_t *lockedg;		/* G pinned to this M */
	uint64_t segstart;	/* cycles when curg's current run segment began */
	bool (*waitunlockf)(g_t *, void *);	/* goro__gopark's, for park_m */
	void *waitarg;
	/* A direct park's unlock, run by the G switched to (proc.c). */
	bool (*pendingunlockf)(g_t *, void *);
	void *pendingarg;
	g_t *pendingg;
	g_t *pendingreadyg;	/* a direct yield's G, queued by the G switched to */
	g_t *pendingdeadg;	/* a direct exit's G, freed by the G switched to */
	int *errnop;		/* this thread's errno (set by minit) */
	bool isM0;		/* the thread that called goro_run */
	/*
	 * Stand-by for a syscall hand-off (sysmon.c): sysmon wakes an idle M
	 * early with the P whose M is in a syscall, the call's syscalltick
	 * and the cycle count of its 20 us mark; at the mark the M takes the
	 * P itself if the call still lasts.  Set before the wake-up.
	 */
	p_t *standbyp;
	uint32_t standbytick;
	uint64_t standbymark;
	bool spinning;		/* looking for work */
	int futile;		/* spins in a row that found only young work (sched.c) */
	bool blocked;		/* parked on its note */
	int locks;		/* runtime locks held: no preemption while > 0 */
	_Atomic bool insched;	/* on the scheduler stack (runtime code) */
	_Atomic bool insyscall;	/* between syscall_enter and exit */
	/*
	 * sysmon took this M's P while its thread slept in a call nobody
	 * wrapped (or sat in unsafe code past a quantum).  m->p is stale
	 * until the M notices at its next runtime entry (goro__acquirem).
	 */
	_Atomic bool pstolen;
	void *sigstack;
	size_t sigstacklen;

	/* Preemption (preempt.c, sysmon). */
	_Atomic bool signalpending;	/* a SIGURG sent, not yet handled */
	clockid_t cpuclock;		/* this thread's CPU clock */
	int statfd;			/* /proc/self/task/TID/stat, for sysmon */
	int64_t lastcpu;		/* sysmon's last reading of cpuclock */
	int64_t lastcheck;		/* ... and when it took it */
	int64_t runningat;		/* when sysmon last found it running throughout */
	timer_t slicetimer;		/* on this thread's CPU clock (slicetimer.c) */
	bool slicetimer_ok;
	g_t *watchg;			/* as a watchdog: the G and the P's switch count */
	uint64_t watchsw;		/* ... at its last expiry */
	void (*mstartfn)(void);
};

/* ---- sched ------------------------------------------------------------- */

struct goro__sched {
	goro__lock_t lock;

	/* Global run queue (lock). */
	g_t *runqhead, *runqtail;
	_Atomic uint64_t runqsize;

	/* Idle Ms and Ps (lock). */
	m_t *midle;
	int nmidle;
	int nmidlelocked;
	p_t *pidle;
	_Atomic int npidle;
	_Atomic int nmspinning;

	/* All Ms (lock for writes). */
	m_t *allm;
	_Atomic int mcount;
	int maxmcount;
	int nmsys;		/* sysmon etc., not counted against the limit */

	/* Free Gs with stacks (lock). */
	g_t *gfree;
	int ngfree;

	/* Ps: allp[0..gomaxprocs) are live. */
	_Atomic int gomaxprocs;
	int nallp;
	p_t *allp[GORO_MAXPROCS_LIMIT];

	_Atomic int64_t goidgen;
	_Atomic int64_t ngoroutines;	/* live Gs created without a P; see p->gdelta */
	_Atomic int nrunning;		/* Gs in G_RUNNING or G_SYSCALL */
	_Atomic bool exiting;		/* goro_run's main G returned */
	_Atomic bool running;		/* a runtime is running in this process */

	/* Counters for goro_stats. */
	_Atomic uint64_t steals, handoffs;	/* switches: per P */
	_Atomic uint64_t preempt_async, preempt_deferred, preempt_redirected;
	_Atomic uint64_t preempt_timer;	/* slicetimer.c */

	int64_t starttime;
	double ns_per_cycle;		/* TSC calibration */
	_Atomic int64_t quantum;	/* ns */
	_Atomic uint64_t quantum_cycles;
	_Atomic uint64_t ms_cycles;	/* a millisecond in cycles */
	bool asyncpreemptoff;
	bool slicetimeroff;	/* GORODEBUG=slicetimeroff=1: sysmon times every slice */
	int64_t schedtrace_ms;
	bool scheddetail;
};
extern struct goro__sched goro__sched;

/* The M running on this thread; NULL on threads goro did not start. */
/* initial-exec: one %fs-relative load, also from the shared library. */
extern __thread m_t *goro__m __attribute__((tls_model("initial-exec")));

static inline g_t *getg(void) { m_t *m = goro__m; return m ? m->curg : NULL; }

/*
 * After anything that may move the calling G to another thread, read the
 * thread's M through this: the compiler takes the thread pointer (%fs)
 * for a constant within a function, so a plain goro__m read after a
 * switch could reuse the old thread's TLS address.  A volatile asm with a
 * memory clobber is read afresh, and stays after the switch.
 */
static inline __attribute__((always_inline)) m_t *goro__getm(void)
{
	m_t *m;
	__asm__ volatile("movq goro__m@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0"
	    : "=r"(m) : : "memory");
	return m;
}
void goro__set_errno(int e);

/* syscall.c: the M's P was stolen; re-acquire one like exitsyscall. */
void goro__reacquirep(void);

/*
 * The G side of the P-theft handshake (sysmon sets m->pstolen, then reads
 * m->locks and m->insched; a G sets those, then reads m->pstolen): a
 * store-load fence on each side.  Thefts are rare and runtime entries
 * are not, so where the kernel has membarrier(2) sysmon pays for both
 * (goro__theft_sync) and this is only a compiler barrier.
 */
extern bool goro__asymfence;
bool goro__theft_sync(void);
void goro__theft_init(void);
static inline __attribute__((always_inline)) void goro__theft_fence(void)
{
	if (likely(goro__asymfence))
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

/*
 * Enter runtime code on a G that uses m->p (Go's acquirem): until
 * goro__releasem, the G is not preempted and sysmon does not take the P.
 * If sysmon took the P while the thread was blocked, get one back first
 * (perhaps moving to another M).  The fence pairs with sysmon's store of
 * m->pstolen followed by its read of m->locks (Dekker), so one of the two
 * always sees the other.  Returns the M (NULL off-runtime).
 */
static inline m_t *goro__acquirem(void)
{
	m_t *m = goro__m;
	if (m == NULL)
		return NULL;
	if (m->locks++ == 0 && m->curg) {
		goro__theft_fence();
		if (unlikely(atomic_load_explicit(&m->pstolen, memory_order_relaxed))) {
			m->locks--;
			goro__reacquirep();
			m = goro__getm();
			m->locks++;
		}
	}
	return m;
}

static inline void goro__releasem(m_t *m)
{
	if (m && --m->locks < 0)
		goro__throw("releasem: lock count");
}

/* ---- proc.c: the scheduler --------------------------------------------- */

/*
 * Park the calling G (status G_WAITING, reason) and run something else.
 * If lock is non-NULL it is a goro__lock_t held by the caller; it is
 * released on the scheduler stack after the G has left its stack, so
 * whoever readies the G (under that lock) cannot run it early.
 * Returns when another G or a timer calls goro__ready(g).
 */
void goro__park(goro__lock_t *lock, int reason);
/*
 * The general form (Go's gopark): after the G is off its stack, call
 * unlockf(g, arg) on the scheduler stack; if it returns false, the G is
 * made runnable again at once (the wait was cancelled).
 */
void goro__gopark(bool (*unlockf)(g_t *g, void *arg), void *arg, int reason);
/*
 * Make a parked G runnable.  next: put it in the current P's runnext (the
 * waker yields to it soon, as Go's ready does).  Callable from a G, from
 * the scheduler stack with a P, or without a P (then via the global queue).
 */
void goro__ready(g_t *g, bool next);
/* Put g on the global run queue (takes sched.lock). */
void goro__globrunqput(g_t *g);
/* Start an M for an idle P if there is work and no M spinning. */
void goro__wakep(void);
/* Preempted at a safe point (preempt.c): queue the G globally and reschedule. */
void goro__gopreempt(void);
/* Called on the scheduler stack by any runtime code that wants to switch. */
void goro__schedule(void) __attribute__((noreturn));
/* Hand P off from an M that blocks (syscall.c, sysmon). */
void goro__handoffp(p_t *p);
p_t *goro__pidleget(void);
void goro__pidleput(p_t *p);
void goro__startm(p_t *p, bool spinning);
bool goro__standby_wake(p_t *p, uint32_t tick, uint64_t mark);
int64_t goro__newgoid(p_t *p);
int64_t goro__newproc(const goro_attr_t *attr, void (*fn)(void *), void *arg);
void goro__gosched(void);
void goro__goexit1(void) __attribute__((noreturn));
int goro__procresize(int n);
int goro__run(void (*main_fn)(void *), void *arg);
int64_t goro__cycles2ns(uint64_t c);
uint64_t goro__ns2cycles(int64_t ns);
m_t *goro__newm_sys(void (*fn)(void));
/* Visit every G; f runs with the allg lock held (no allocation, no parking). */
void goro__forallg(void (*f)(g_t *g, void *arg), void *arg);
/* Locked threads (syscall.c): hand our P to g's M; park a locked M. */
void goro__startlockedm(g_t *g);
void goro__stoplockedm(void) __attribute__((noreturn));
/* proc.c internals used by syscall.c and preempt.c (on g0 unless noted). */
void goro__acquirep(p_t *p);
p_t *goro__releasep(void);
void goro__execute(g_t *g, bool inherit) __attribute__((noreturn));
void goro__schedexit(void) __attribute__((noreturn));
void goro__stopm_idle(void) __attribute__((noreturn));
void goro__globrunqput_locked(g_t *g);	/* sched.lock held */
/* On a G: save errno, switch to g0 and call fn(g); returns when g resumes. */
void goro__mcall_fn(void (*fn)(g_t *));
/* sysmon: a G entered a syscall (wake sysmon if it sleeps past the 20 us mark). */
void goro__sysmon_syscall_entered(void);
/* A P went from idle to running: wake sysmon if it sleeps past a quantum. */
void goro__sysmon_pbusy(void);
/* Work was queued with no idle P: wake sysmon if it sleeps without watching
 * for blocked Ms (one relaxed load when it does not). */
void goro__sysmon_workqueued(void);
/*
 * Set while sysmon sleeps past the next millisecond although work waits:
 * a G that starts then and is not known to be CPU-bound may be about to
 * block in a call nobody wrapped, so it wakes sysmon to watch it.
 */
extern _Atomic bool goro__sysmon_watchfresh;
void goro__sysmon_freshg(void);
static inline __attribute__((always_inline)) void goro__sysmon_gstart(g_t *g)
{
	if (unlikely(atomic_load_explicit(&goro__sysmon_watchfresh, memory_order_relaxed)) &&
	    !atomic_load_explicit(&g->cpubound, memory_order_relaxed))
		goro__sysmon_freshg();
}

/* ---- runq.c ------------------------------------------------------------ */

bool goro__runqput(p_t *p, g_t *g, bool next);	/* owner only */
g_t *goro__runqget(p_t *p, bool *inherit);	/* owner only */
uint32_t goro__runqgrab(p_t *p, g_t **batch, uint32_t batchhead, bool stealnext);
g_t *goro__runqsteal(p_t *p, p_t *victim, bool stealnext);
bool goro__runqempty(p_t *p);
uint32_t goro__runqlen(p_t *p);
g_t *goro__runqpoptail(p_t *p);
bool goro__runqputhead(p_t *p, g_t *g);
g_t *goro__runqget_lifo(p_t *p, bool *inherit, uint64_t now);
/* A spawner over its backlog: to the head of its P's ring, behind the rest. */
void goro__spawnyield(void);
/* Live Gs: sched.ngoroutines plus every P's gdelta. */
int64_t goro__gcount(void);
/* Count a G created (+1) or exited (-1) by the M holding p (may be NULL). */
static inline void goro__gcount_add(p_t *p, int d)
{
	if (p)
		atomic_store_explicit(&p->gdelta,
		    atomic_load_explicit(&p->gdelta, memory_order_relaxed) + d, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&goro__sched.ngoroutines, d, memory_order_relaxed);
}

/* Move half of p's ring plus g to the global queue (runq full). */
bool goro__runqputslow(p_t *p, g_t *g, uint32_t h, uint32_t t);
/* sched.lock held. */
g_t *goro__globrunqget(p_t *p, int max);

/* ---- stack.c ----------------------------------------------------------- */

size_t goro__pagesize(void);
/* Give g a stack of g->stack_size usable bytes (with a guard page). */
int goro__stackalloc(g_t *g);
void goro__stackfree(g_t *g);
void goro__stackcache_free(p_t *p);
/* Install the SIGSEGV handler that reports stack overflows. */
void goro__stack_siginit(void);
/* Allocate and install the calling thread's sigaltstack. */
int goro__sigaltstack_init(m_t *m);
void goro__sigaltstack_free(m_t *m);

/* ---- time.c ------------------------------------------------------------ */

/* Add t to p's heap (p is usually the current P). */
void goro__addtimer(p_t *p, goro__timer_t *t);
/* Remove t from whatever heap it is on; true if it was still queued. */
bool goro__deltimer(goro__timer_t *t);
/* Run p's expired timers (scheduler stack, P held by this M or stolen). Returns
 * the next when (0 none). */
int64_t goro__runtimers(p_t *p, int64_t now);
/* Move every timer of p (dying) to dst. */
void goro__movetimers(p_t *p, p_t *dst);

/* ---- preempt.c / sysmon ------------------------------------------------ */

void goro__preempt_init(void);		/* install SIGURG handler, tables */
void goro__preempt_minit(m_t *m);	/* per M: sigaltstack, unwinder warm-up */
/* slicetimer.c: a CPU-bound G's thread times its slice itself. */
#define SLICETIMER_BACKSTOP 3		/* quanta before sysmon looks at a timed slice */
extern const char goro__slicetimer_tag;
void goro__slicetimer_minit(m_t *m);
void goro__slicetimer_mexit(m_t *m);
void goro__slicetimer_start(m_t *m);
bool goro__slicetimer_fired(m_t *m);
bool goro__slicetimed(p_t *p, m_t *m, uint32_t tick);
bool goro__slicetimer_watch(p_t *p, m_t *m);
bool goro__slicetimer_watched(p_t *p, m_t *m);
void goro__sysmon_start(void);
void goro__sysmon_wake(void);		/* a deadline moved closer */
void goro__sysmon_stop(void);
/* Check at a cooperative point whether a deferred preemption should happen now. */
void goro__preempt_check(void);
/* sysmon: request that the G on m (holding p) stop; sends SIGURG. */
void goro__preemptone(p_t *p, m_t *m);
void goro__tgkill(m_t *m, int sig);
/* sysmon: m's P was taken while it was blocked; watch it until it notices. */
void goro__sysmon_track_stolen(m_t *m);
/* sysmon: rebuild the preemptible-text table if objects were (un)loaded. */
void goro__preempt_refresh(void);
void *goro__gentry_addr(void);
int64_t goro__sysmon_cputime(void);
uint64_t goro__sysmon_rounds(void);
int64_t goro__parse_duration(const char *s);
/*
 * sysmon, about every millisecond per running M: is its thread asleep in
 * the kernel (an unwrapped blocking call) or stuck in unsafe code past a
 * quantum?  If so its P is handed off; returns true then.
 */
bool goro__sysmon_check_blocked(p_t *p, m_t *m, int64_t ran);
bool goro__sysmon_asleep(m_t *m);
/* The G sysmon last asked to stop on p (NULL if none). */
g_t *goro__sysmon_preempt_target(p_t *p);

/* ---- syscall.c --------------------------------------------------------- */

void goro__entersyscall(void);
void goro__exitsyscall(void);

/* ---- debug.c ----------------------------------------------------------- */

void goro__schedtrace(int fd, bool detail);
void goro__parse_env(int *procs);

/* ---- chan.c: deadlock detection hook ------------------------------------ */

/* Called with sched.lock held when an M is about to park with nothing to do. */
void goro__checkdead(void);

#endif /* GORO_RUNTIME_H */
