/*
 * runq.c - per-P run queues and the global run queue.
 *
 * Each P owns a ring of RUNQ_SIZE runnable Gs.  Only the P's owner (the M
 * holding it) adds to the ring, at the tail; the owner and any number of
 * thieves take from the head with a CAS.  So runqhead is shared
 * (load-acquire, CAS-release) and runqtail is written only by the owner
 * (store-release).  A slot is read before the CAS that claims it; if the
 * CAS fails the read is discarded, so a thief never runs a G the owner
 * also took.
 *
 * runnext holds one G readied by the running G (a channel partner, a woken
 * waiter): it runs next and inherits the time slice, which keeps
 * producer/consumer pairs on one P with warm caches (Go's design).  Thieves
 * take runnext only as a last resort.
 *
 * When the ring is full, half of it plus the new G move to the global
 * queue in one batch under sched.lock (runqputslow), so the lock is taken
 * once per 128 Gs, not once per G.
 */
#include "runtime.h"

#include <sched.h>

bool goro__runqempty(p_t *p)
{
	/* A consistent snapshot: runnext must be read between two equal tails. */
	for (;;) {
		uint32_t head = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		uint32_t tail = atomic_load_explicit(&p->runqtail, memory_order_acquire);
		g_t *next = atomic_load_explicit(&p->runnext, memory_order_acquire);
		if (tail == atomic_load_explicit(&p->runqtail, memory_order_acquire))
			return head == tail && next == NULL;
	}
}

uint32_t goro__runqlen(p_t *p)
{
	uint32_t head = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	uint32_t tail = atomic_load_explicit(&p->runqtail, memory_order_acquire);
	uint32_t n = tail - head;
	return n > RUNQ_SIZE ? 0 : n;
}

/*
 * Put g on p's queue.  next: into runnext, kicking the old runnext to the
 * tail.  Called only by p's owner.  Returns true if some G went to the
 * global queue (the caller may want to wake a P).
 */
static inline __attribute__((always_inline)) bool runqput(p_t *p, g_t *g, bool next)
{
	if (next) {
		g_t *old = atomic_exchange_explicit(&p->runnext, g, memory_order_acq_rel);
		if (old == NULL)
			return false;
		g = old;
	}
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t - h < RUNQ_SIZE) {
			atomic_store_explicit(&p->runq[t % RUNQ_SIZE], g, memory_order_relaxed);
			atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
			return false;
		}
		if (goro__runqputslow(p, g, h, t))
			return true;
		/* A thief emptied part of the ring meanwhile: retry. */
	}
}

bool goro__runqput(p_t *p, g_t *g, bool next)
{
	return runqput(p, g, next);
}

bool goro__runqputslow(p_t *p, g_t *g, uint32_t h, uint32_t t)
{
	enum { HALF = RUNQ_SIZE / 2 };
	g_t *batch[HALF + 1];
	uint32_t n = t - h;
	if (n != RUNQ_SIZE)
		goro__throw("runqputslow: queue is not full");
	n /= 2;
	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&p->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n,
	    memory_order_release, memory_order_relaxed))
		return false;
	batch[n] = g;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->schedlink = batch[i + 1];
	g->schedlink = NULL;

	goro__lock(&goro__sched.lock);
	if (goro__sched.runqtail)
		goro__sched.runqtail->schedlink = batch[0];
	else
		goro__sched.runqhead = batch[0];
	goro__sched.runqtail = g;
	atomic_fetch_add(&goro__sched.runqsize, n + 1);
	goro__unlock(&goro__sched.lock);
	return true;
}

/*
 * Take the newest G of p's ring, from its tail (owner only), for a P whose
 * G parked or exited: a fork-join program then runs depth first, and the
 * Gs alive at once -- each with a stack whose first page costs a fault --
 * stay few (fib(25) needed 8,000 stacks when it ran oldest first, Go's
 * order, and about 120 this way).  Thieves still take the oldest half from the
 * head.
 *
 * A thief copies its half from a snapshot of head and tail, then claims
 * it with one CAS on the head; an owner popping the tail meanwhile could
 * reach into that half.  So thieves announce themselves (p->nstealing,
 * around goro__runqgrab), and the owner, after moving the tail down and a
 * fence, backs off to the head while any thief is at work: a thief that
 * announced itself after that fence sees the lower tail.  The last G is
 * settled by CAS on the head, as in Chase and Lev's deque.
 */
g_t *goro__runqpoptail(p_t *p)
{
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	if (t == h)
		return NULL;
	t--;
	atomic_store_explicit(&p->runqtail, t, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&p->nstealing, memory_order_relaxed) != 0) {
		atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
		bool inherit;
		return goro__runqget(p, &inherit);	/* runnext is empty: the head */
	}
	h = atomic_load_explicit(&p->runqhead, memory_order_relaxed);
	if ((int32_t)(t - h) > 0)	/* not the last: no thief can reach it */
		return atomic_load_explicit(&p->runq[t % RUNQ_SIZE], memory_order_relaxed);
	g_t *g = NULL;
	if (t == h) {
		g = atomic_load_explicit(&p->runq[t % RUNQ_SIZE], memory_order_relaxed);
		if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + 1,
		    memory_order_acq_rel, memory_order_relaxed))
			g = NULL;	/* a thief took it */
	}
	atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);	/* empty */
	return g;
}

/*
 * Put g at the head of p's ring, where it runs after the Gs already there
 * when the P takes them newest first (a spawner stepping aside, proc.c).
 * Owner only; false if the ring is full.  A thief that read the old head
 * fails its CAS and looks again.
 */
bool goro__runqputhead(p_t *p, g_t *g)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t - h >= RUNQ_SIZE)
			return false;
		atomic_store_explicit(&p->runq[(h - 1) % RUNQ_SIZE], g, memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&p->runqhead, &h, h - 1,
		    memory_order_release, memory_order_relaxed))
			return true;
	}
}

/*
 * The G to run after one parked or exited: runnext, then the newest of
 * the ring -- but the oldest once a millisecond, so that no G waits
 * forever behind a P that keeps making new work (a fork-join program's
 * oldest Gs are its biggest pending subtrees: taking them oftener makes
 * it run breadth first, with a stack for every G alive).  now: cycles.
 */
g_t *goro__runqget_lifo(p_t *p, bool *inherit, uint64_t now)
{
	g_t *next = atomic_load_explicit(&p->runnext, memory_order_relaxed);
	if (next != NULL && atomic_compare_exchange_strong_explicit(&p->runnext,
	    &next, NULL, memory_order_acq_rel, memory_order_relaxed)) {
		*inherit = true;
		return next;
	}
	*inherit = false;
	if (now - p->headpull >= atomic_load_explicit(&goro__sched.ms_cycles, memory_order_relaxed)) {
		p->headpull = now;
		return goro__runqget(p, inherit);
	}
	return goro__runqpoptail(p);
}

/*
 * Take a G from p's queue: runnext first (inherit = true: it shares the
 * current time slice), then the head of the ring.  Owner only.
 */
g_t *goro__runqget(p_t *p, bool *inherit)
{
	g_t *next = atomic_load_explicit(&p->runnext, memory_order_relaxed);
	if (next != NULL && atomic_compare_exchange_strong_explicit(&p->runnext,
	    &next, NULL, memory_order_acq_rel, memory_order_relaxed)) {
		*inherit = true;
		return next;
	}
	*inherit = false;
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
		if (t == h)
			return NULL;
		g_t *g = atomic_load_explicit(&p->runq[h % RUNQ_SIZE], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&p->runqhead, &h, h + 1,
		    memory_order_release, memory_order_relaxed))
			return g;
	}
}

/*
 * Grab half of p's Gs into batch (a ring of RUNQ_SIZE starting at
 * batchhead).  stealnext: take runnext too if the ring is empty.  Returns
 * the number grabbed.  Any M may call it.
 */
static uint32_t runqgrab(p_t *p, g_t **batch, uint32_t batchhead, bool stealnext);

/* Take half of p's ring into batch (see runqgrab), announced to its owner. */
uint32_t goro__runqgrab(p_t *p, g_t **batch, uint32_t batchhead, bool stealnext)
{
	atomic_fetch_add_explicit(&p->nstealing, 1, memory_order_seq_cst);
	uint32_t n = runqgrab(p, batch, batchhead, stealnext);
	atomic_fetch_sub_explicit(&p->nstealing, 1, memory_order_release);
	return n;
}

static uint32_t runqgrab(p_t *p, g_t **batch, uint32_t batchhead, bool stealnext)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_acquire);
		uint32_t n = t - h;
		n = n - n / 2;
		if (n == 0) {
			if (stealnext) {
				g_t *next = atomic_load_explicit(&p->runnext, memory_order_acquire);
				if (next != NULL) {
					/*
					 * The owner is probably about to run it
					 * (it was just readied): give it a moment,
					 * as Go does, instead of stealing a G whose
					 * partner is about to block.
					 */
					if (atomic_load_explicit(&p->status, memory_order_relaxed) == P_RUNNING)
						for (int i = 0; i < 50; i++)
							__builtin_ia32_pause();
					if (atomic_compare_exchange_strong_explicit(&p->runnext,
					    &next, NULL, memory_order_acq_rel, memory_order_relaxed)) {
						batch[batchhead % RUNQ_SIZE] = next;
						return 1;
					}
				}
			}
			return 0;
		}
		if (n > RUNQ_SIZE / 2)	/* read inconsistent h and t */
			continue;
		for (uint32_t i = 0; i < n; i++)
			batch[(batchhead + i) % RUNQ_SIZE] =
			    atomic_load_explicit(&p->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
		if (atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n,
		    memory_order_release, memory_order_relaxed))
			return n;
	}
}

/*
 * Steal half of victim's Gs into p's ring; return one of them to run.
 * Called by p's owner, whose ring is empty.
 */
g_t *goro__runqsteal(p_t *p, p_t *victim, bool stealnext)
{
	uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
	g_t *tmp[RUNQ_SIZE];
	uint32_t n = goro__runqgrab(victim, tmp, 0, stealnext);
	if (n == 0)
		return NULL;
	n--;
	g_t *g = tmp[n];
	if (n == 0)
		return g;
	uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
	if (t - h + n >= RUNQ_SIZE)
		goro__throw("runqsteal: runq overflow");
	for (uint32_t i = 0; i < n; i++)
		atomic_store_explicit(&p->runq[(t + i) % RUNQ_SIZE], tmp[i], memory_order_relaxed);
	atomic_store_explicit(&p->runqtail, t + n, memory_order_release);
	return g;
}

/*
 * Take up to max Gs from the global queue (0: a fair share); return one,
 * put the rest on p's ring.  sched.lock held.
 */
g_t *goro__globrunqget(p_t *p, int max)
{
	uint64_t size = atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed);
	if (size == 0)
		return NULL;
	int np = atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed);
	uint64_t n = size / (uint64_t)np + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > (uint64_t)max)
		n = (uint64_t)max;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	/* Never overflow p's ring here: runqputslow would take sched.lock. */
	uint64_t room = RUNQ_SIZE - goro__runqlen(p);
	if (n > room)
		n = room > 0 ? room : 1;
	atomic_fetch_sub_explicit(&goro__sched.runqsize, n, memory_order_relaxed);

	g_t *g = goro__sched.runqhead;
	goro__sched.runqhead = g->schedlink;
	if (goro__sched.runqhead == NULL)
		goro__sched.runqtail = NULL;
	n--;
	for (; n > 0; n--) {
		g_t *g1 = goro__sched.runqhead;
		goro__sched.runqhead = g1->schedlink;
		if (goro__sched.runqhead == NULL)
			goro__sched.runqtail = NULL;
		goro__runqput(p, g1, false);
	}
	return g;
}

/* Append g to the global queue.  sched.lock held. */
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

void goro__globrunqput(g_t *g)
{
	goro__lock(&goro__sched.lock);
	goro__globrunqput_locked(g);
	goro__unlock(&goro__sched.lock);
}
