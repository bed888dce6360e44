/*
 * debug.c - environment, schedtrace, deadlock detection, tracebacks.
 *
 * schedtrace prints exactly Go's format (API.md), so tools and reading
 * guides written for GODEBUG=schedtrace apply unchanged; the fields that
 * only mean something to Go's garbage collector keep their place and
 * print 0.
 *
 * checkdead is Go's: when the last M goes idle, nothing can ever run
 * again unless a timer is pending (a sleeper) -- Ms in syscalls are not
 * idle, so a G in a syscall prevents the report, as does a runnable G.
 */
#ifndef UNW_LOCAL_ONLY
#define UNW_LOCAL_ONLY
#endif
#include "runtime.h"

#include <libunwind.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- environment ------------------------------------------------------------ */

static void envwarn(const char *var, const char *val, const char *why)
{
	char buf[512];
	snprintf(buf, sizeof buf, "goro: %s: %s \"%s\"; using the default\n", var, why, val);
	goro__writestr(2, buf);
}

/* Parse a duration: plain ns, or a number with ns/us/ms/s.  -1 if bad. */
int64_t goro__parse_duration(const char *s)
{
	if (s == NULL || *s == 0)
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double mult = 1;
	if (*end == 0 || strcmp(end, "ns") == 0)
		mult = 1;
	else if (strcmp(end, "us") == 0 || strcmp(end, "µs") == 0)
		mult = 1e3;
	else if (strcmp(end, "ms") == 0)
		mult = 1e6;
	else if (strcmp(end, "s") == 0)
		mult = 1e9;
	else
		return -1;
	double ns = v * mult;
	if (ns > 9e18)
		return -1;
	return (int64_t)ns;
}

void goro__parse_env(int *procs)
{
	const char *v = getenv("GOROMAXPROCS");
	if (v && *v) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > GORO_MAXPROCS_LIMIT)
			envwarn("GOROMAXPROCS", v, "invalid value");
		else
			*procs = (int)n;
	}
	v = getenv("GOROQUANTUM");
	if (v && *v) {
		int64_t q = goro__parse_duration(v);
		if (q < 100000 || q > 10000000000LL)
			envwarn("GOROQUANTUM", v, "invalid value (100us..10s)");
		else
			goro__sched.quantum = q;
	}
	v = getenv("GORODEBUG");
	if (v && *v) {
		char buf[256];
		snprintf(buf, sizeof buf, "%s", v);
		char *save = NULL;
		for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');
			if (eq == NULL) {
				envwarn("GORODEBUG", kv, "malformed setting");
				continue;
			}
			*eq = 0;
			const char *key = kv, *val = eq + 1;
			char *end;
			long n = strtol(val, &end, 10);
			bool num = *val && *end == 0 && n >= 0;
			if (strcmp(key, "schedtrace") == 0 && num)
				goro__sched.schedtrace_ms = n;
			else if (strcmp(key, "scheddetail") == 0 && num)
				goro__sched.scheddetail = n != 0;
			else if (strcmp(key, "asyncpreemptoff") == 0 && num)
				goro__sched.asyncpreemptoff = n != 0;
			else if (strcmp(key, "slicetimeroff") == 0 && num)
				goro__sched.slicetimeroff = n != 0;
			else {
				*eq = '=';
				envwarn("GORODEBUG", kv, "unknown or malformed setting");
			}
		}
	}
}

/* ---- schedtrace ------------------------------------------------------------- */

struct out {
	int fd;
	char buf[4096];
	size_t n;
	bool err;
};

static void flush(struct out *o)
{
	size_t off = 0;
	while (off < o->n) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->err = true;
			break;
		}
		off += (size_t)w;
	}
	o->n = 0;
}

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	if (o->n + (size_t)n > sizeof o->buf)
		flush(o);
	memcpy(o->buf + o->n, line, (size_t)n);
	o->n += (size_t)n;
}

static void gline(g_t *g, void *arg)
{
	struct out *o = arg;
	uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
	if (st == G_DEAD)
		return;
	m_t *m = g->m;
	const char *why = st == G_WAITING && g->waitreason > 0 && g->waitreason < WAIT_NREASONS ?
	    goro__waitreason_str[g->waitreason] : "";
	outf(o, "  G%lld: status=%u(%s) m=%d lockedm=%d\n", (long long)g->goid, st, why,
	    m ? m->id : -1, g->lockedm ? g->lockedm->id : -1);
}

void goro__schedtrace(int fd, bool detail)
{
	struct out *o = malloc(sizeof *o);
	if (o == NULL)
		return;
	o->fd = fd;
	o->n = 0;
	o->err = false;
	int64_t ms = (goro__nanotime() - goro__sched.starttime) / 1000000;
	goro__lock(&goro__sched.lock);
	int np = atomic_load(&goro__sched.gomaxprocs);
	outf(o, "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
	    "idlethreads=%d runqueue=%llu", (long long)ms, np,
	    atomic_load(&goro__sched.npidle),
	    atomic_load(&goro__sched.mcount) + goro__sched.nmsys,
	    atomic_load(&goro__sched.nmspinning), goro__sched.nmidle,
	    (unsigned long long)atomic_load(&goro__sched.runqsize));
	if (detail) {
		outf(o, " gcwaiting=0 nmidlelocked=%d stopwait=0 sysmonwait=0\n",
		    goro__sched.nmidlelocked);
	} else {
		outf(o, " [");
		for (int i = 0; i < np; i++)
			outf(o, i ? " %u" : "%u", goro__runqlen(goro__sched.allp[i]) +
			    (atomic_load(&goro__sched.allp[i]->runnext) ? 1 : 0));
		outf(o, "]\n");
		goro__unlock(&goro__sched.lock);
		flush(o);
		free(o);
		return;
	}
	for (int i = 0; i < np; i++) {
		p_t *p = goro__sched.allp[i];
		m_t *m = p->m;
		outf(o, "  P%d: status=%u schedtick=%u syscalltick=%u m=%d runqsize=%u gfreecnt=%d\n",
		    p->id, atomic_load(&p->status), atomic_load(&p->schedtick),
		    atomic_load(&p->syscalltick), m ? m->id : -1, goro__runqlen(p), p->gfreecnt);
	}
	for (m_t *m = goro__sched.allm; m; m = m->alllink) {
		p_t *p = m->p;
		g_t *g = m->curg;
		outf(o, "  M%d: p=%d curg=%lld mallocing=0 throwing=0 preemptoff=%s locks=%d "
		    "dying=0 helpgc=0 spinning=%s blocked=%s lockedg=%lld\n",
		    m->id, p ? p->id : -1, g ? (long long)g->goid : -1LL,
		    g && g->preemptoff ? "goro_preempt_off" : "", m->locks,
		    m->spinning ? "true" : "false", m->blocked ? "true" : "false",
		    m->lockedg ? (long long)m->lockedg->goid : -1LL);
	}
	goro__unlock(&goro__sched.lock);
	goro__forallg(gline, o);
	flush(o);
	free(o);
}

GORO__EXPORT int goro_schedtrace(int fd, int detail)
{
	if (!atomic_load(&goro__sched.running)) {
		errno = EPERM;
		return -1;
	}
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (write(fd, "", 0) < 0)	/* fail early on a bad fd, before taking locks */
		return -1;
	goro__schedtrace(fd, detail != 0);
	return 0;
}

/* ---- deadlock ----------------------------------------------------------------- */

struct deadscan {
	int runnable, waiting;
};

static void deadscan_g(g_t *g, void *arg)
{
	struct deadscan *d = arg;
	switch (atomic_load_explicit(&g->status, memory_order_relaxed)) {
	case G_RUNNABLE: case G_RUNNING: case G_SYSCALL: case G_PREEMPTED:
		d->runnable++;
		break;
	case G_WAITING:
		d->waiting++;
		break;
	}
}

static void deadprint_g(g_t *g, void *arg)
{
	uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
	if (st == G_DEAD || st == G_IDLE)
		return;
	char buf[160];
	const char *why = st == G_WAITING && g->waitreason > 0 && g->waitreason < WAIT_NREASONS ?
	    goro__waitreason_str[g->waitreason] : "runnable";
	snprintf(buf, sizeof buf, "goroutine %lld [%s]:\n\n", (long long)g->goid, why);
	goro__writestr(2, buf);
}

/* sched.lock held; called when an M goes idle. */
void goro__checkdead(void)
{
	if (atomic_load(&goro__sched.exiting) || !atomic_load(&goro__sched.running))
		return;
	int run = atomic_load(&goro__sched.mcount) - goro__sched.nmidle - goro__sched.nmidlelocked;
	if (run > 0)
		return;
	if (run < 0)
		goro__throwf("checkdead: inconsistent M counts", run);
	/* A pending timer will wake someone. */
	int np = atomic_load(&goro__sched.gomaxprocs);
	for (int i = 0; i < goro__sched.nallp; i++) {
		p_t *p = goro__sched.allp[i];
		if (p && atomic_load(&p->timer0when) != 0)
			return;
	}
	(void)np;
	if (atomic_load(&goro__sched.runqsize) > 0)
		return;
	struct deadscan d = { 0, 0 };
	goro__forallg(deadscan_g, &d);
	if (d.runnable > 0 || d.waiting == 0)
		return;		/* never a false alarm */
	goro__writestr(2, "fatal error: all goroutines are asleep - deadlock!\n\n");
	goro__forallg(deadprint_g, NULL);
	fflush(NULL);
	_exit(2);
}

/* ---- tracebacks ----------------------------------------------------------------- */

static void backtrace_cursor(struct out *o, unw_cursor_t *c)
{
	for (int depth = 0; depth < 64; depth++) {
		unw_word_t ip = 0, off = 0;
		char name[128];
		if (unw_get_reg(c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		if (unw_get_proc_name(c, name, sizeof name, &off) == 0)
			outf(o, "\t%s+0x%lx\n", name, (unsigned long)off);
		else
			outf(o, "\t?? 0x%lx\n", (unsigned long)ip);
		if (unw_step(c) <= 0)
			break;
	}
}

struct tbarg {
	struct out *o;
	g_t *self;
};

static void traceback_g(g_t *g, void *arg)
{
	struct tbarg *t = arg;
	struct out *o = t->o;
	uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
	if (st == G_DEAD || st == G_IDLE)
		return;
	const char *why = st == G_WAITING && g->waitreason > 0 && g->waitreason < WAIT_NREASONS ?
	    goro__waitreason_str[g->waitreason] :
	    st == G_RUNNING ? "running" : st == G_SYSCALL ? "syscall" : "runnable";
	outf(o, "goroutine %lld [%s]%s%s:\n", (long long)g->goid, why,
	    g->name ? " " : "", g->name ? g->name : "");
	if (g == t->self) {
		unw_context_t uc;
		unw_cursor_t c;
		unw_getcontext(&uc);
		if (unw_init_local(&c, &uc) == 0)
			backtrace_cursor(o, &c);
	} else if ((st == G_WAITING || st == G_RUNNABLE) && g->stack_lo && g->ctx.sp) {
		/* A parked G: its context is the switch frame (switch.S layout). */
		uint64_t *sp = g->ctx.sp;
		unw_context_t uc;
		unw_getcontext(&uc);
		uc.uc_mcontext.gregs[REG_R15] = (greg_t)sp[1];
		uc.uc_mcontext.gregs[REG_R14] = (greg_t)sp[2];
		uc.uc_mcontext.gregs[REG_R13] = (greg_t)sp[3];
		uc.uc_mcontext.gregs[REG_R12] = (greg_t)sp[4];
		uc.uc_mcontext.gregs[REG_RBX] = (greg_t)sp[5];
		uc.uc_mcontext.gregs[REG_RBP] = (greg_t)sp[6];
		uc.uc_mcontext.gregs[REG_RIP] = (greg_t)sp[7];
		uc.uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)(sp + 8);
		unw_cursor_t c;
		if (unw_init_local(&c, &uc) == 0)
			backtrace_cursor(o, &c);
	}
	outf(o, "\n");
}

GORO__EXPORT int goro_traceback(int fd)
{
	if (!atomic_load(&goro__sched.running)) {
		errno = EPERM;
		return -1;
	}
	if (fd < 0 || write(fd, "", 0) < 0) {
		errno = EBADF;
		return -1;
	}
	struct out *o = malloc(sizeof *o);
	if (o == NULL) {
		errno = ENOMEM;
		return -1;
	}
	o->fd = fd;
	o->n = 0;
	o->err = false;
	struct tbarg t = { o, getg() };
	g_t *self = t.self;
	if (self)
		self->preemptoff++;
	goro__forallg(traceback_g, &t);
	flush(o);
	bool err = o->err;
	free(o);
	if (self)
		self->preemptoff--;
	return err ? -1 : 0;
}
