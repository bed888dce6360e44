/*
 * select.c - goro_select: wait on many channel operations (Go's select.go).
 *
 * A select runs in three passes, all under the locks of every channel it
 * names, taken in address order (each once: a channel may appear in
 * several cases) so that two selects can never deadlock on each other:
 *
 *  1. poll the cases in a random order and complete the first that can
 *     proceed.  A uniformly random permutation makes the first ready case
 *     a uniformly random choice among the ready ones, which is what keeps
 *     a select from starving a channel;
 *  2. if none can and the caller waits, put one sudog per case on its
 *     channel's queue, all pointing at this G with isselect set, and park;
 *  3. once woken, lock everything again, take back every sudog but the
 *     one through which the select was completed, and report that case.
 *
 * Several wakers (the channels, the time-out timer) may race to wake one
 * select G.  The first to flip g->selectdone from false to true owns it;
 * the others drop its sudog and look for another waiter (chan.h,
 * waitq_dequeue).  The owner records the completed sudog in g->waiting;
 * when the timer wins it records nothing, and g->waiting stays NULL.
 *
 * The time-out is a timer on the P's heap, armed only when the select
 * really parks, from the park callback (selparkcommit) on the scheduler
 * stack while the channel locks are still held.  Arming it there rather
 * than before parking means the timer can never fire at a G that has not
 * yet left its stack; arming it before dropping the locks means nothing
 * can wake the G before the timer is on the heap, so the G's later
 * goro__deltimer always finds the timer either queued or already taken
 * by the heap.  In the second case its function may still be running on
 * another M when a channel wakes the G; the G then waits (briefly: the
 * function is a compare-and-swap) for the function to say it is done
 * before its frame, which holds the timer, goes away.  Go, whose selects
 * have no time-out of their own, uses a time.After channel instead; a
 * channel would cost an allocation and a lock per select.
 *
 * The cases, sudogs and orders live on the G's stack for up to
 * SELECT_STACK_CASES cases and in one malloc'd block beyond.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

/* Cases handled without malloc; 16 cases cost about 900 bytes of stack. */
#define SELECT_STACK_CASES 16
/* Go's limit on the number of cases. */
#define SELECT_MAX_CASES 65536

/*
 * What the park callback and the time-out timer need, in the selecting G's
 * frame.  Valid until goro_select returns; see the file comment for why
 * neither outlives it.
 */
struct selwait {
	g_t *g;			/* the selecting G */
	goro_case_t *cases;
	uint32_t *lockorder;	/* indices into cases, by channel address */
	uint32_t norder;	/* cases with a non-NULL channel */
	bool hastimer;		/* timeout_ns > 0: arm timer on parking */
	goro__timer_t timer;	/* the time-out; arg points back here */
	/*
	 * Set by the timer function when it has lost the race for the G and
	 * will not touch this frame again.  Never set when it wins: then it
	 * is the waker, and the G waits for it anyway.
	 */
	bool timerdone;
};

/* A random number in [0, n), n > 0 (multiply-shift, as Go's fastrandn). */
static inline uint32_t
selrandn(uint32_t n)
{
	return (uint32_t)(((uint64_t)goro__fastrand() * n) >> 32);
}

static inline uintptr_t
selsortkey(const goro_case_t *cases, uint32_t i)
{
	return (uintptr_t)cases[i].chan;
}

/*
 * Sort pollorder[0..n) into lockorder by channel address: a heap sort, as
 * Go's, for n log n time and no recursion whatever the number of cases.
 * Starting from the poll order permutes cases on the same channel too.
 */
static void
sortlockorder(const goro_case_t *cases, const uint32_t *pollorder,
    uint32_t *lockorder, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i, o = pollorder[i];
		uintptr_t key = selsortkey(cases, o);

		while (j > 0 && selsortkey(cases, lockorder[(j - 1) / 2]) < key) {
			uint32_t k = (j - 1) / 2;

			lockorder[j] = lockorder[k];
			j = k;
		}
		lockorder[j] = o;
	}
	for (uint32_t i = n; i-- > 0;) {
		uint32_t o = lockorder[i], j = 0;
		uintptr_t key = selsortkey(cases, o);

		lockorder[i] = lockorder[0];
		for (;;) {
			uint32_t k = j * 2 + 1;

			if (k >= i)
				break;
			if (k + 1 < i && selsortkey(cases, lockorder[k]) <
			    selsortkey(cases, lockorder[k + 1]))
				k++;
			if (key < selsortkey(cases, lockorder[k])) {
				lockorder[j] = lockorder[k];
				j = k;
				continue;
			}
			break;
		}
		lockorder[j] = o;
	}
}

static void
sellock(const goro_case_t *cases, const uint32_t *lockorder, uint32_t n)
{
	goro_chan_t *c = NULL;

	for (uint32_t i = 0; i < n; i++) {
		goro_chan_t *c0 = cases[lockorder[i]].chan;

		if (c0 != c) {
			c = c0;
			goro__lock(&c->lock);
		}
	}
}

/* Unlock in reverse order; the caller is the running select G. */
static void
selunlock(const goro_case_t *cases, const uint32_t *lockorder, uint32_t n)
{
	for (uint32_t i = n; i-- > 0;) {
		goro_chan_t *c = cases[lockorder[i]].chan;

		if (i > 0 && c == cases[lockorder[i - 1]].chan)
			continue;	/* unlocked at its first occurrence */
		goro__unlock(&c->lock);
	}
}

/*
 * Time-out, on the scheduler stack of some M with a P.  Runs at most once,
 * after selparkcommit armed it: the G is parked.
 */
static void
selecttimeout(goro__timer_t *t)
{
	struct selwait *w = t->arg;
	g_t *gp = w->g;
	bool no = false;

	if (__atomic_compare_exchange_n(&gp->selectdone, &no, true, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		goro__ready(gp, false);	/* gp->waiting stays NULL */
		return;
	}
	/* A channel claimed the G first; from here on w may vanish. */
	__atomic_store_n(&w->timerdone, true, __ATOMIC_RELEASE);
}

/*
 * Park callback (goro__gopark), on the scheduler stack once the G is off
 * its own.  Arms the time-out, then drops the channel locks in lock order.
 * Reading the G's frame stays safe until the last unlock: a G woken early
 * through a channel already unlocked starts pass 3 by taking every lock
 * in the same order, so it waits on the first one still held here and
 * cannot leave goro_select.  Nothing is touched after the last unlock.
 */
static bool
selparkcommit(g_t *gp, void *arg)
{
	struct selwait *w = arg;
	const goro_case_t *cases = w->cases;
	const uint32_t *lockorder = w->lockorder;
	uint32_t n = w->norder;
	goro_chan_t *c = NULL;

	if (w->hastimer) {
		p_t *p = goro__m->p;

		if (p == NULL)
			goro__throw("selparkcommit: no P");
		goro__addtimer(p, &w->timer);
	}
	for (uint32_t i = 0; i < n; i++) {
		goro_chan_t *c0 = cases[lockorder[i]].chan;

		if (c0 != c) {
			if (c != NULL)
				goro__unlock(&c->lock);
			c = c0;
		}
	}
	if (c != NULL)
		goro__unlock(&c->lock);
	return true;
}

/* A select with nothing to wait for: blocks forever, like Go's select {}. */
static int
selectnocases(int64_t timeout_ns)
{
	if (timeout_ns == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getg() == NULL) {
		errno = EPERM;
		return -1;
	}
	if (timeout_ns > 0) {
		goro_sleep(timeout_ns);
		goro__set_errno(ETIMEDOUT);	/* maybe on another M */
		return -1;
	}
	goro__park(NULL, WAIT_SELECT_NOCASES);
	goro__throw("select: woken with no cases");
}

static inline void
selspin(unsigned *spins)
{
	if (++*spins < 64)
		__builtin_ia32_pause();
	else
		sched_yield();
}

GORO__EXPORT int
goro_select(goro_case_t *cases, size_t ncases, int64_t timeout_ns)
{
	uint32_t stackorder[2 * SELECT_STACK_CASES];
	goro__sudog_t stacksg[SELECT_STACK_CASES];
	uint32_t *pollorder, *lockorder, norder = 0;
	goro__sudog_t *sgs, *winner;
	void *heap = NULL;
	struct selwait w;
	g_t *gp = NULL;
	int casi = -1, err = 0;

	if (ncases == 0)
		return selectnocases(timeout_ns);
	if (cases == NULL || ncases > SELECT_MAX_CASES) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < ncases; i++) {
		goro_case_t *cas = &cases[i];

		if (cas->op == GORO_SEND) {
			if (cas->chan != NULL && cas->elem == NULL &&
			    cas->chan->elemsize != 0) {
				errno = EINVAL;
				return -1;
			}
		} else if (cas->op != GORO_RECV) {
			errno = EINVAL;
			return -1;
		}
		cas->closed = 0;
	}
	if (ncases <= SELECT_STACK_CASES) {
		pollorder = stackorder;
		sgs = stacksg;
	} else {
		heap = malloc(ncases * (2 * sizeof(uint32_t) + sizeof(goro__sudog_t)));
		if (heap == NULL) {
			errno = ENOMEM;
			return -1;
		}
		sgs = heap;
		pollorder = (uint32_t *)(sgs + ncases);
	}
	lockorder = pollorder + ncases;

	/*
	 * A random permutation of the cases with a channel, by inside-out
	 * Fisher-Yates; a NULL channel (Go's nil channel) is never ready and
	 * is left out of both orders.
	 */
	for (uint32_t i = 0; i < ncases; i++) {
		uint32_t j;

		if (cases[i].chan == NULL)
			continue;
		j = selrandn(norder + 1);
		pollorder[norder] = pollorder[j];
		pollorder[j] = i;
		norder++;
	}
	sortlockorder(cases, pollorder, lockorder, norder);
	sellock(cases, lockorder, norder);

	/* Pass 1: the first case in poll order that can proceed. */
	for (uint32_t i = 0; i < norder; i++) {
		goro_case_t *cas = &cases[pollorder[i]];
		goro_chan_t *c = cas->chan;
		goro__sudog_t *sg;

		casi = pollorder[i];
		if (cas->op == GORO_RECV) {
			if ((sg = waitq_dequeue(&c->sendq)) != NULL) {
				g_t *sgp = chan_recvsg(c, sg, cas->elem);

				selunlock(cases, lockorder, norder);
				goro__ready(sgp, true);
				goto out;
			}
			if (c->qcount > 0) {
				chan_bufrecv(c, cas->elem);
				goto unlockout;
			}
			if (c->closed) {
				cas->closed = 1;	/* and *elem untouched */
				goto unlockout;
			}
		} else {
			if (c->closed) {
				err = EPIPE;
				goto unlockout;
			}
			if ((sg = waitq_dequeue(&c->recvq)) != NULL) {
				g_t *rg = chan_sendsg(c, sg, cas->elem);

				selunlock(cases, lockorder, norder);
				goro__ready(rg, true);
				goto out;
			}
			if (c->qcount < c->dataqsiz) {
				chan_bufsend(c, cas->elem);
				goto unlockout;
			}
		}
	}
	casi = -1;
	if (timeout_ns == 0) {
		err = ETIMEDOUT;
		goto unlockout;
	}
	if ((gp = getg()) == NULL) {
		err = EPERM;	/* would wait, and not a goroutine */
		goto unlockout;
	}

	/*
	 * Pass 2: wait on every channel.  No one else can see this G's
	 * sudogs yet, so resetting selectdone here cannot lose a claim; the
	 * wakers of an earlier select all finished under locks we hold now
	 * or took before, and an earlier time-out timer was waited for.
	 */
	__atomic_store_n(&gp->selectdone, false, __ATOMIC_RELAXED);
	gp->waiting = NULL;
	for (uint32_t i = 0; i < norder; i++) {
		uint32_t k = lockorder[i];
		goro_case_t *cas = &cases[k];
		goro__sudog_t *sg = &sgs[k];

		sg->g = gp;
		sg->elem = cas->elem;
		sg->c = cas->chan;
		sg->idx = (int)k;
		sg->success = false;
		sg->isselect = true;
		if (cas->op == GORO_SEND)
			waitq_enqueue(&cas->chan->sendq, sg);
		else
			waitq_enqueue(&cas->chan->recvq, sg);
	}
	w.g = gp;
	w.cases = cases;
	w.lockorder = lockorder;
	w.norder = norder;
	w.hastimer = timeout_ns > 0;
	w.timerdone = false;
	if (w.hastimer) {
		int64_t now = goro__nanotime();

		memset(&w.timer, 0, sizeof w.timer);
		w.timer.when = timeout_ns > INT64_MAX - now ? INT64_MAX :
		    now + timeout_ns;
		w.timer.f = selecttimeout;
		w.timer.arg = &w;
	}
	goro__gopark(selparkcommit, &w, WAIT_SELECT);

	/*
	 * Pass 3.  First make sure the timer is done with our frame: off the
	 * heap, or finished running.  If it won the G there is nothing to
	 * wait for — it readied us and touches nothing after.
	 */
	winner = gp->waiting;
	if (w.hastimer && winner != NULL && !goro__deltimer(&w.timer)) {
		unsigned spins = 0;

		while (!__atomic_load_n(&w.timerdone, __ATOMIC_ACQUIRE))
			selspin(&spins);
	}
	sellock(cases, lockorder, norder);
	gp->waiting = NULL;
	for (uint32_t i = 0; i < norder; i++) {
		uint32_t k = lockorder[i];
		goro_case_t *cas = &cases[k];
		goro__sudog_t *sg = &sgs[k];

		if (sg == winner)
			casi = (int)k;
		else if (cas->op == GORO_SEND)
			waitq_remove(&cas->chan->sendq, sg);
		else
			waitq_remove(&cas->chan->recvq, sg);
		sg->isselect = false;
		sg->elem = NULL;
		sg->c = NULL;
	}
	if (winner == NULL) {
		if (!w.hastimer)
			goro__throw("select: woken by no case and no timer");
		err = ETIMEDOUT;
	} else if (casi < 0) {
		goro__throw("select: woken through a foreign sudog");
	} else if (!winner->success) {
		/* woken by close */
		if (cases[casi].op == GORO_SEND)
			err = EPIPE;
		else
			cases[casi].closed = 1;
	}

unlockout:
	selunlock(cases, lockorder, norder);
out:
	free(heap);
	if (err != 0) {
		goro__set_errno(err);	/* maybe after a park, on another M */
		return -1;
	}
	return casi;
}
