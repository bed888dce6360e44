/*
 * sync.c - goroutine mutexes and wait groups.
 *
 * Both park the G, never the M.  They are plain structs (goro.h) so that
 * they can live in static or automatic storage without allocation; the
 * wait queues are made of sudogs on the waiters' own stacks.
 *
 * goro_mutex_t: state 0 unlocked, 1 locked, 2 locked with waiters.  The
 * fast paths are one CAS each.  A contended unlock hands the mutex
 * directly to the first waiter (FIFO): no barging, so no waiter starves
 * (Go reaches the same in its starvation mode).  state == 2 is only set,
 * and the queue only changed, under the mutex's internal lock, so an
 * unlocker that sees 2 always finds a waiter.
 *
 * goro_wg_t: one atomic word, count and waiter count (see goro_wg_add);
 * the waiter list is under the internal lock.  The Add that brings the
 * count to zero wakes everybody, and touches the wait group only when
 * somebody waits.
 */
#include "runtime.h"

#include <sched.h>
#include <stdint.h>

_Static_assert(sizeof(goro__lock_t) == sizeof(uint32_t), "lock is a uint32");

#define MUTEX_LOCK(mu) ((goro__lock_t *)&(mu)->lock)
#define WG_LOCK(wg) ((goro__lock_t *)&(wg)->lock)

GORO__EXPORT void goro_mutex_init(goro_mutex_t *mu)
{
	if (mu == NULL) {
		errno = EINVAL;
		return;
	}
	goro_mutex_t z = GORO_MUTEX_INIT;
	*mu = z;
}

GORO__EXPORT int goro_mutex_trylock(goro_mutex_t *mu)
{
	if (mu == NULL) {
		errno = EINVAL;
		return -1;
	}
	uint32_t zero = 0;
	if (__atomic_compare_exchange_n(&mu->state, &zero, 1, false,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 0;
	errno = EBUSY;
	return -1;
}

static void lockslow(goro_mutex_t *mu)
{
	g_t *g = getg();
	if (g == NULL) {
		/* A thread outside the runtime: it cannot park, so it polls. */
		while (goro_mutex_trylock(mu) != 0)
			sched_yield();
		return;
	}
	/* A short spin first when other Ps may be about to unlock. */
	if (atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed) > 1) {
		for (int i = 0; i < 64; i++) {
			uint32_t zero = 0;
			if (__atomic_load_n(&mu->state, __ATOMIC_RELAXED) == 0 &&
			    __atomic_compare_exchange_n(&mu->state, &zero, 1, false,
			    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				return;
			goro__cpu_relax();
		}
	}
	goro__lock(MUTEX_LOCK(mu));
	for (;;) {
		uint32_t s = __atomic_load_n(&mu->state, __ATOMIC_RELAXED);
		if (s == 0) {
			if (__atomic_compare_exchange_n(&mu->state, &s, 1, false,
			    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
				goro__unlock(MUTEX_LOCK(mu));
				return;
			}
			continue;
		}
		if (s == 1 && !__atomic_compare_exchange_n(&mu->state, &s, 2, false,
		    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			continue;
		break;
	}
	goro__sudog_t sg = { .g = g };
	goro__sudog_t *tail = (goro__sudog_t *)mu->tail;
	sg.prev = tail;
	if (tail)
		tail->next = &sg;
	else
		mu->head = &sg;
	mu->tail = &sg;
	goro__park(MUTEX_LOCK(mu), WAIT_MUTEX);
	/* The unlocker handed the mutex to us: we own it now. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

GORO__EXPORT void goro_mutex_lock(goro_mutex_t *mu)
{
	if (mu == NULL) {
		errno = EINVAL;
		return;
	}
	uint32_t zero = 0;
	if (likely(__atomic_compare_exchange_n(&mu->state, &zero, 1, false,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)))
		return;
	lockslow(mu);
}

GORO__EXPORT void goro_mutex_unlock(goro_mutex_t *mu)
{
	if (mu == NULL) {
		errno = EINVAL;
		return;
	}
	uint32_t one = 1;
	if (likely(__atomic_compare_exchange_n(&mu->state, &one, 0, false,
	    __ATOMIC_RELEASE, __ATOMIC_RELAXED)))
		return;
	if (one == 0) {
		errno = EINVAL;	/* unlock of an unlocked mutex */
		return;
	}
	/* state 2: waiters.  Hand the mutex to the first. */
	goro__lock(MUTEX_LOCK(mu));
	goro__sudog_t *sg = (goro__sudog_t *)mu->head;
	if (sg == NULL)
		goro__throw("mutex: state 2 with no waiter");
	mu->head = sg->next;
	if (sg->next)
		sg->next->prev = NULL;
	else {
		mu->tail = NULL;
		__atomic_store_n(&mu->state, 1, __ATOMIC_RELEASE);	/* owned by sg->g */
	}
	g_t *wg = sg->g;
	goro__unlock(MUTEX_LOCK(mu));
	goro__ready(wg, true);
}

/* ---- wait groups ----------------------------------------------------------- */

GORO__EXPORT void goro_wg_init(goro_wg_t *wg)
{
	if (wg == NULL) {
		errno = EINVAL;
		return;
	}
	goro_wg_t z = GORO_WG_INIT;
	*wg = z;
}

/*
 * wg->counter holds the count in its low 32 bits (so that, with nobody
 * waiting, it reads as the count) and the number of parked waiters in its
 * high 32 -- Go's packing, flipped.  The Add that brings the
 * count to zero touches the wait group again only if waiters are
 * counted -- they cannot return, and free the wait group (often on
 * their stack), before it wakes them.  With no waiter it returns at once:
 * a goro_wg_wait that sees zero may return and free it immediately.
 */
#define WG_COUNT(s) ((int32_t)(uint32_t)(s))
#define WG_WAITERS(s) ((uint32_t)((uint64_t)(s) >> 32))
#define WG_WAITER ((uint64_t)1 << 32)

GORO__EXPORT void goro_wg_add(goro_wg_t *wg, int64_t delta)
{
	if (wg == NULL || delta > INT32_MAX || delta < -(int64_t)INT32_MAX) {
		errno = EINVAL;
		return;
	}
	/* A count falling below zero borrows from the waiters; the undo repays. */
	uint64_t d = (uint64_t)delta;
	uint64_t st = __atomic_add_fetch((uint64_t *)&wg->counter, d, __ATOMIC_ACQ_REL);
	int32_t v = WG_COUNT(st);
	if (v < 0 || (delta > 0 && v < delta)) {
		/* Misuse (Go panics) or overflow: undo, report, keep going. */
		__atomic_sub_fetch((uint64_t *)&wg->counter, d, __ATOMIC_ACQ_REL);
		errno = EINVAL;
		return;
	}
	if (v > 0 || WG_WAITERS(st) == 0)
		return;
	/* Count zero, waiters parked: wake them all and reset the state. */
	goro__lock(WG_LOCK(wg));
	goro__sudog_t *list = (goro__sudog_t *)wg->waiters;
	wg->waiters = NULL;
	__atomic_store_n((uint64_t *)&wg->counter, 0, __ATOMIC_RELEASE);
	goro__unlock(WG_LOCK(wg));
	while (list) {
		goro__sudog_t *next = list->next;
		g_t *g = list->g;
		goro__ready(g, false);	/* list->next read first: the sudog dies with the wake */
		list = next;
	}
}

GORO__EXPORT void goro_wg_done(goro_wg_t *wg)
{
	goro_wg_add(wg, -1);
}

GORO__EXPORT void goro_wg_wait(goro_wg_t *wg)
{
	if (wg == NULL) {
		errno = EINVAL;
		return;
	}
	if (WG_COUNT(__atomic_load_n((uint64_t *)&wg->counter, __ATOMIC_ACQUIRE)) == 0)
		return;
	g_t *g = getg();
	if (g == NULL) {
		while (WG_COUNT(__atomic_load_n((uint64_t *)&wg->counter, __ATOMIC_ACQUIRE)) != 0)
			sched_yield();
		return;
	}
	/*
	 * Count ourselves in and queue under the lock: the Add that reaches
	 * zero takes the lock before it looks at the queue, so every waiter
	 * it counted is queued by then.
	 */
	goro__lock(WG_LOCK(wg));
	uint64_t st = __atomic_load_n((uint64_t *)&wg->counter, __ATOMIC_ACQUIRE);
	do {
		if (WG_COUNT(st) == 0) {
			goro__unlock(WG_LOCK(wg));
			return;
		}
	} while (!__atomic_compare_exchange_n((uint64_t *)&wg->counter, &st, st + WG_WAITER, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	goro__sudog_t sg = { .g = g };
	sg.next = wg->waiters;
	wg->waiters = &sg;
	goro__park(WG_LOCK(wg), WAIT_WG);
}
