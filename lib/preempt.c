/*
 * preempt.c - asynchronous preemption: the SIGURG handler and safe points.
 *
 * sysmon asks a G to stop (g->preempt) and sends SIGURG to its M with
 * tgkill.  The handler never switches stacks itself (the next signal would
 * overwrite its frame, and its blocked-signal mask would leak to the next
 * G); like Go's doSigPreempt it only rewrites the interrupted context so
 * that, when the kernel resumes the thread, the G "calls"
 * goro_async_preempt (preempt.S), which saves everything and enters the
 * scheduler from the G's own stack.
 *
 * Go controls all of its code; goro does not.  The interrupted C code may
 * hold a lock inside libc, be inside the dynamic loader, the vDSO, the
 * runtime itself or an unwinder.  So the handler decides whether this is
 * an async-safe point, from cheap to dear:
 *
 *   1. flags: on the scheduler stack (m->insched), holding runtime locks
 *      (m->locks), goro_preempt_off (g->preemptoff), in a syscall;
 *   2. the innermost PC must be in preemptible text: a table of text
 *      ranges of loaded objects, built outside the handler (at start and
 *      when the set of objects changes) and read lock-free here.  libc,
 *      ld.so, the vDSO, libunwind, libgcc_s, libstdc++ and the runtime
 *      itself are not preemptible; the executable and other objects are;
 *   3. every frame up to the G's entry, walked with libunwind from the
 *      signal context, must be preemptible too (a qsort callback has libc
 *      frames above it).  A walk that does not reach the G's entry proves
 *      nothing: unsafe.
 *
 * When only inner frames are unsafe (a long memcpy called from user code),
 * the handler redirects the return address of the outermost unsafe frame
 * to goro__redirect_tramp, so the G stops the moment it returns into
 * preemptible code.  Otherwise the request stays pending and sysmon tries
 * again later; a G stuck in unsafe code for a further quantum has its P
 * handed off (syscall.c).
 *
 * The runtime is compiled as one translation unit (lib/goro.c) between
 * two marker functions, so "the runtime's own text" is one range even when
 * libgoro is linked statically into the executable.
 */
#include "runtime.h"
#include "xsave.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <libunwind.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void goro__text_begin(void);
void goro__text_end(void);
extern const char goro__switch_text_start[], goro__switch_text_end[];

/* ---- the table of text ranges --------------------------------------------- */

struct textrange {
	uintptr_t lo, hi;
	bool preemptible;
	bool unwinder;		/* ld.so, libunwind, libgcc_s: never walk from here */
};

struct texttable {
	int n;
	unsigned long long adds, subs;	/* dl_iterate_phdr's counters at build time */
	struct textrange r[];
};

static _Atomic(struct texttable *) texttab;
static goro__lock_t tablock;

/* Objects whose code the application asked about (goro_preemptible_object). */
#define MAXOVERRIDES 64
static struct { char name[256]; int preemptible; } overrides[MAXOVERRIDES];
static int noverrides;

static bool name_has(const char *path, const char *what)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strncmp(base, what, strlen(what)) == 0;
}

struct buildctx {
	struct texttable *t;
	int cap;
	unsigned long long adds, subs;
};

static int build_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct buildctx *b = arg;
	b->adds = info->dlpi_adds;
	b->subs = info->dlpi_subs;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	bool unwinder = name_has(name, "ld-linux") || name_has(name, "ld.so") ||
	    name_has(name, "libunwind") || name_has(name, "libgcc_s");
	bool pre = !(unwinder || name_has(name, "libc.so") || name_has(name, "libc-") ||
	    name_has(name, "libpthread") || name_has(name, "linux-vdso") ||
	    name_has(name, "linux-gate") || name_has(name, "libstdc++") ||
	    name_has(name, "libgoro") || name_has(name, "libdl.so") ||
	    name_has(name, "librt.so"));
	for (int i = 0; i < noverrides; i++)
		if (*name && strcmp(overrides[i].name, name) == 0)
			pre = overrides[i].preemptible;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (b->t->n == b->cap)
			return 1;
		struct textrange *r = &b->t->r[b->t->n++];
		r->lo = info->dlpi_addr + ph->p_vaddr;
		r->hi = r->lo + ph->p_memsz;
		r->preemptible = pre;
		r->unwinder = unwinder;
	}
	return 0;
}

static int cmprange(const void *a, const void *b)
{
	const struct textrange *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Rebuild the table (not in a handler).  Old tables are kept: a handler may read one. */
static void buildtable(void)
{
	enum { CAP = 1024 };
	struct texttable *t = calloc(1, sizeof *t + CAP * sizeof t->r[0]);
	if (t == NULL)
		return;
	struct buildctx b = { t, CAP - 3, 0, 0 };
	goro__lock(&tablock);
	dl_iterate_phdr(build_cb, &b);
	/* The runtime's own text, wherever it was linked, and the trampolines. */
	struct textrange extra[3] = {
		{ (uintptr_t)goro__text_begin, (uintptr_t)goro__text_end + 1, false, false },
		{ (uintptr_t)goro__switch_text_start, (uintptr_t)goro__switch_text_end, false, true },
		{ (uintptr_t)goro__preempt_text_start, (uintptr_t)goro__preempt_text_end, false, true },
	};
	/* Carve these out of whatever range contains them. */
	for (int e = 0; e < 3; e++) {
		for (int i = 0; i < t->n; i++) {
			struct textrange *r = &t->r[i];
			if (extra[e].lo >= r->lo && extra[e].hi <= r->hi) {
				if (t->n + 2 > CAP)
					break;
				struct textrange tail = *r;
				tail.lo = extra[e].hi;
				r->hi = extra[e].lo;
				t->r[t->n++] = tail;
				break;
			}
		}
		t->r[t->n++] = extra[e];
	}
	qsort(t->r, (size_t)t->n, sizeof t->r[0], cmprange);
	t->adds = b.adds;
	t->subs = b.subs;
	atomic_store_explicit(&texttab, t, memory_order_release);
	goro__unlock(&tablock);
}

static int count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;
	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1;
}

/* sysmon: rebuild the table when objects were loaded or unloaded. */
void goro__preempt_refresh(void)
{
	unsigned long long c[2] = { 0, 0 };
	dl_iterate_phdr(count_cb, c);
	struct texttable *t = atomic_load(&texttab);
	if (t == NULL || t->adds != c[0] || t->subs != c[1])
		buildtable();
}

/* async-signal-safe: a binary search in an immutable table. */
static const struct textrange *lookup(uintptr_t pc)
{
	struct texttable *t = atomic_load_explicit(&texttab, memory_order_acquire);
	if (t == NULL)
		return NULL;
	int lo = 0, hi = t->n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct textrange *r = &t->r[mid];
		if (pc < r->lo)
			hi = mid - 1;
		else if (pc >= r->hi)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

GORO__EXPORT int goro_preemptible_object(const void *addr, int preemptible)
{
	if (preemptible != 0 && preemptible != 1) {
		errno = EINVAL;
		return -1;
	}
	Dl_info info;
	if (addr == NULL || dladdr(addr, &info) == 0 || info.dli_fname == NULL) {
		errno = ENOENT;
		return -1;
	}
	if ((uintptr_t)addr >= (uintptr_t)goro__text_begin &&
	    (uintptr_t)addr <= (uintptr_t)goro__text_end) {
		errno = EPERM;	/* the runtime is never preemptible */
		return -1;
	}
	goro__lock(&tablock);
	/* The main executable is "" in dl_iterate_phdr. */
	const char *name = info.dli_fname;
	struct link_map *lm = NULL;
	Dl_info info2;
	if (dladdr1(addr, &info2, (void **)&lm, RTLD_DL_LINKMAP) && lm && lm->l_name)
		name = lm->l_name;
	int i;
	for (i = 0; i < noverrides; i++)
		if (strcmp(overrides[i].name, name) == 0)
			break;
	if (i == noverrides) {
		if (noverrides == MAXOVERRIDES) {
			goro__unlock(&tablock);
			errno = ENOMEM;
			return -1;
		}
		snprintf(overrides[i].name, sizeof overrides[i].name, "%s", name);
		noverrides++;
	}
	overrides[i].preemptible = preemptible;
	goro__unlock(&tablock);
	/* The executable's name is "" in the table: apply by address too. */
	buildtable();
	if (*name == 0) {
		struct texttable *t = atomic_load(&texttab);
		for (int k = 0; k < t->n; k++)
			if ((uintptr_t)info.dli_fbase <= t->r[k].lo && !t->r[k].unwinder &&
			    !((uintptr_t)goro__text_begin >= t->r[k].lo && (uintptr_t)goro__text_begin < t->r[k].hi))
				t->r[k].preemptible = preemptible;
	}
	return 0;
}

/* ---- quantum and preempt_off ----------------------------------------------- */

GORO__EXPORT int goro_set_quantum(int64_t ns)
{
	if (ns < 100000 || ns > 10000000000LL) {
		errno = EINVAL;
		return -1;
	}
	if (!atomic_load(&goro__sched.running)) {
		errno = EPERM;
		return -1;
	}
	atomic_store(&goro__sched.quantum, ns);
	atomic_store(&goro__sched.quantum_cycles, goro__ns2cycles(ns));
	goro__sysmon_wake();
	return 0;
}

GORO__EXPORT int64_t goro_get_quantum(void)
{
	if (!atomic_load(&goro__sched.running)) {
		errno = EPERM;
		return -1;
	}
	return atomic_load(&goro__sched.quantum);
}

GORO__EXPORT void goro_preempt_off(void)
{
	g_t *g = getg();
	if (g == NULL) {
		errno = EPERM;
		return;
	}
	g->preemptoff++;
}

GORO__EXPORT void goro_preempt_on(void)
{
	g_t *g = getg();
	if (g == NULL) {
		errno = EPERM;
		return;
	}
	if (g->preemptoff == 0) {
		errno = EINVAL;
		return;
	}
	if (--g->preemptoff == 0 && g->preempt_pending) {
		g->preempt_pending = false;
		if (atomic_load(&g->preempt)) {
			atomic_store(&g->preempt, false);
			atomic_fetch_add(&goro__sched.preempt_async, 1);
			goro__gopreempt();
		}
	}
}

/* At a cooperative point: take a pending preemption now. */
void goro__preempt_check(void)
{
	g_t *g = getg();
	if (g && atomic_load_explicit(&g->preempt, memory_order_relaxed) && g->preemptoff == 0) {
		atomic_store(&g->preempt, false);
		goro__gopreempt();
	}
}

/* ---- the trampolines' C halves ----------------------------------------------- */

/* The G stops here, on its own stack; it resumes on whatever M runs it next. */
static void preempt_taken(g_t *g)
{
	goro__gopreempt();
}

/* On the G's stack, all interrupted state saved (preempt.S). */
void goro__async_preempt2(void)
{
	g_t *g = getg();
	atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
	atomic_fetch_add_explicit(&goro__sched.preempt_async, 1, memory_order_relaxed);
	preempt_taken(g);
}

uintptr_t goro__redirect_taken(void)
{
	g_t *g = getg();
	uintptr_t ret = g->redirect_ret;
	g->redirect_ret = 0;
	g->redirect_slot = NULL;
	if (ret == 0)
		goro__throw("redirect trampoline without a pending redirect");
	m_t *m = g->m;
	if (atomic_load_explicit(&g->preempt, memory_order_relaxed) &&
	    g->preemptoff == 0 && m->locks == 0) {
		atomic_store_explicit(&g->preempt, false, memory_order_relaxed);
		atomic_fetch_add_explicit(&goro__sched.preempt_redirected, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&goro__sched.preempt_async, 1, memory_order_relaxed);
		preempt_taken(g);
	}
	return ret;
}

/* ---- the handler ---------------------------------------------------------------- */

static struct sigaction appurg;		/* the application's SIGURG disposition */
static _Atomic bool appurg_set;
static uintptr_t gentry_pc, gentry_end;	/* the G entry function's text */

/* async-signal-safe */
static void forward(int sig, siginfo_t *si, void *uc)
{
	if (!atomic_load_explicit(&appurg_set, memory_order_acquire))
		return;		/* SIGURG's default action is to ignore it */
	if (appurg.sa_flags & SA_SIGINFO) {
		if (appurg.sa_sigaction)
			appurg.sa_sigaction(sig, si, uc);
	} else if (appurg.sa_handler != SIG_DFL && appurg.sa_handler != SIG_IGN) {
		appurg.sa_handler(sig);
	}
}

/* Stack room the trampoline and the scheduler entry need below the PC. */
static uint32_t preempt_room;

/*
 * Interrupted code holding this thread's &errno in a register -- cached
 * across a loop, since __errno_location is declared const -- would use the
 * old thread's errno after migrating: such a point is not safe.  (Only
 * errno: any address near the thread pointer was tried, and stale
 * registers -- the runtime's own TLS pointer left in a callee-saved
 * register by the G's entry -- made call-free loops unpreemptible.)
 * async-signal-safe: __errno_location only computes an address.
 */
static bool holds_errno_address(const ucontext_t *uc)
{
	uintptr_t ep = (uintptr_t)__errno_location();
	static const int regs[] = { REG_RAX, REG_RBX, REG_RCX, REG_RDX, REG_RSI, REG_RDI,
	    REG_RBP, REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };
	for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
		if ((uintptr_t)uc->uc_mcontext.gregs[regs[i]] == ep)
			return true;
	return false;
}

enum { SAFE, UNSAFE, REDIRECTED };

/*
 * Walk from the signal context to the G's entry.  SAFE: every frame is in
 * preemptible code.  REDIRECTED: only inner frames were unsafe and the
 * return address of the outermost unsafe frame now points at the redirect
 * trampoline.  UNSAFE: anything else.  async-signal-safe as far as
 * libunwind is (see DESIGN.md: warmed up per M, not entered from ld.so or
 * an unwinder).
 */
static uintptr_t tlsfn[2];	/* __errno_location, pthread_self */

static int walk(g_t *g, ucontext_t *uc, bool innersafe)
{
	unw_cursor_t c, redir;
	bool haveredir = false, unsafe = !innersafe, pendingredir = !innersafe;
	if (unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0)
		return UNSAFE;
	if (!innersafe) {
		unw_proc_info_t pi0;
		if (unw_get_proc_info(&c, &pi0) == 0 &&
		    (pi0.start_ip == tlsfn[0] || pi0.start_ip == tlsfn[1]))
			return UNSAFE;
	}
	for (int depth = 0; depth < 256; depth++) {
		int s = unw_step(&c);
		if (s <= 0)
			return UNSAFE;
		unw_word_t ip;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
			return UNSAFE;
		/*
		 * A G interrupted inside the trampolines' C halves (just
		 * before parking or just after resuming): the frame above is
		 * the trampoline, whose saved PC must not be redirected.
		 */
		if (ip >= (unw_word_t)goro__preempt_text_start && ip < (unw_word_t)goro__preempt_text_end)
			return UNSAFE;
		if (ip - 1 >= gentry_pc && ip - 1 < gentry_end) {
			if (!unsafe)
				return SAFE;
			if (!haveredir)
				return UNSAFE;
			break;
		}
		const struct textrange *r = lookup(ip - 1);
		if (r == NULL)
			return UNSAFE;
		if (!r->preemptible) {
			unsafe = true;
			pendingredir = true;
			haveredir = false;
			/* Returns a thread-local address: its caller must not move. */
			unw_proc_info_t pi;
			if (unw_get_proc_info(&c, &pi) == 0 &&
			    (pi.start_ip == tlsfn[0] || pi.start_ip == tlsfn[1]))
				pendingredir = false;
		} else if (pendingredir) {
			/* The first safe frame outside an unsafe one. */
			redir = c;
			haveredir = true;
			pendingredir = false;
		}
	}
	if (!haveredir)
		return UNSAFE;
	/* Redirect the return into frame `redir`. */
	unw_word_t ip;
	unw_save_loc_t loc;
	if (unw_get_reg(&redir, UNW_REG_IP, &ip) < 0 ||
	    unw_get_save_loc(&redir, UNW_REG_IP, &loc) < 0 || loc.type != UNW_SLT_MEMORY)
		return UNSAFE;
	uintptr_t *slot = (uintptr_t *)loc.u.addr;
	if ((char *)slot < g->stack_lo || (char *)slot >= g->stack_hi || *slot != ip)
		return UNSAFE;
	g->redirect_ret = ip;
	g->redirect_slot = slot;
	__atomic_store_n(slot, (uintptr_t)goro__redirect_tramp, __ATOMIC_RELAXED);
	return REDIRECTED;
}

/*
 * The G cannot stop here; sysmon asks again a millisecond later.  It set
 * no such deadline when it signalled (the G nearly always stops), so wake
 * it to set one.  async-signal-safe: atomics and a futex wake.
 */
static void deferred(void)
{
	atomic_fetch_add_explicit(&goro__sched.preempt_deferred, 1, memory_order_relaxed);
	goro__sysmon_wake();
}

/* async-signal-safe */
static void sigurg(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	ucontext_t *uc = ucv;
	m_t *m = goro__m;
	if (si->si_code == SI_TIMER && si->si_value.sival_ptr == (void *)&goro__slicetimer_tag) {
		/* A slice timer's (slicetimer.c): never the application's. */
		if (m == NULL || !goro__slicetimer_fired(m)) {
			errno = saved;
			return;
		}
		goto request;
	}
	bool ours = m != NULL && si->si_code == SI_TKILL && si->si_pid == getpid() &&
	    atomic_exchange_explicit(&m->signalpending, false, memory_order_acq_rel);
	if (!ours) {
		forward(sig, si, ucv);
		errno = saved;
		return;
	}
request:;
	g_t *g = m->curg;
	if (g == NULL || !atomic_load_explicit(&g->preempt, memory_order_relaxed) ||
	    atomic_load_explicit(&m->insched, memory_order_relaxed) ||
	    atomic_load_explicit(&m->insyscall, memory_order_relaxed)) {
		errno = saved;
		return;
	}
	if (m->locks > 0 || g->preemptoff > 0) {
		if (g->preemptoff > 0) {
			g->preempt_pending = true;	/* taken at goro_preempt_on */
			atomic_fetch_add_explicit(&goro__sched.preempt_deferred, 1, memory_order_relaxed);
		} else {
			deferred();
		}
		errno = saved;
		return;
	}
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	/* A redirect already armed and still valid: let it fire. */
	if (g->redirect_slot) {
		if ((uintptr_t)g->redirect_slot >= sp &&
		    *g->redirect_slot == (uintptr_t)goro__redirect_tramp) {
			errno = saved;
			return;
		}
		g->redirect_slot = NULL;	/* stale (longjmp'd past) */
		g->redirect_ret = 0;
	}
	const struct textrange *r = lookup(pc);
	if (r == NULL || r->unwinder || sp < (uintptr_t)g->stack_lo + preempt_room ||
	    sp > (uintptr_t)g->stack_hi) {
		deferred();
		errno = saved;
		return;
	}
	/*
	 * A live &errno lasts a few instructions; a stale copy in an unused
	 * register (left by the G's entry, say) lasts forever.  So defer for
	 * that reason once only (the retry comes a millisecond later).
	 */
	if (r->preemptible && holds_errno_address(uc) && g->errnodefer++ < 1) {
		deferred();
		errno = saved;
		return;
	}
	int v = walk(g, uc, r->preemptible);
	if (v == SAFE) {
		g->errnodefer = 0;
		/* Simulate a call: skip the red zone, push the PC, go to the trampoline. */
		sp -= GORO_PREEMPT_SKIP;
		*(uintptr_t *)sp = pc;
		uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)goro_async_preempt;
	} else {
		deferred();
	}
	errno = saved;
}

/* sysmon: ask the G running on m (holding p) to stop. */
void goro__preemptone(p_t *p, m_t *m)
{
	g_t *g = m->curg;
	if (g == NULL)
		return;
	atomic_store_explicit(&g->preempt, true, memory_order_release);
	if (goro__sched.asyncpreemptoff)
		return;
	if (atomic_exchange(&m->signalpending, true))
		return;		/* one signal at a time per M */
	/* The other half of entersyscall's handshake (syscall.c). */
	if (atomic_load_explicit(&m->insyscall, memory_order_seq_cst)) {
		atomic_store(&m->signalpending, false);
		return;
	}
	goro__tgkill(m, SIGURG);
}

/* Signal m's thread; clears m->signalpending if the signal was not sent. */
void goro__tgkill(m_t *m, int sig)
{
	if (syscall(SYS_tgkill, getpid(), m->tid, sig) != 0)
		atomic_store(&m->signalpending, false);
}

/* ---- sigaction interposition ------------------------------------------------------ */

/*
 * An application that installs a SIGURG handler after goro_run would
 * replace ours and silently turn preemption off.  So libgoro defines
 * sigaction() and signal(): for SIGURG they record the application's
 * handler (which ours forwards to) and keep ours installed; everything
 * else goes to libc's.
 */
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction;
static _Atomic bool handler_installed;

static int libc_sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
	if (real_sigaction == NULL) {
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
		if (real_sigaction == NULL)
			real_sigaction = (sigaction_fn)dlsym(RTLD_DEFAULT, "__sigaction");
	}
	if (real_sigaction == NULL) {
		return (int)syscall(SYS_rt_sigaction, sig, sa, old, 8);
	}
	return real_sigaction(sig, sa, old);
}

GORO__EXPORT int sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
	if (sig != SIGURG || !atomic_load(&handler_installed))
		return libc_sigaction(sig, sa, old);
	if (old)
		*old = appurg;
	if (sa) {
		/* Our handler stays; it forwards what is not ours. */
		atomic_store(&appurg_set, false);
		appurg = *sa;
		atomic_store(&appurg_set, true);
	}
	return 0;
}

GORO__EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* ---- set-up ---------------------------------------------------------------------- */

void goro__preempt_init(void)
{
	goro__xsave_init();
	preempt_room = goro__preempt_frame_size() + 16384;
	/* Found once here, so a walk needs no FDE look-up per frame for it. */
	gentry_pc = (uintptr_t)goro__gentry_addr();
	gentry_end = gentry_pc + 1;
	unw_proc_info_t pi;
	if (unw_get_proc_info_by_ip(unw_local_addr_space, gentry_pc + 1, &pi, NULL) == 0 &&
	    pi.start_ip == gentry_pc)
		gentry_end = pi.end_ip;
	else
		goro__throw("preempt: no unwind information for the G entry");
	tlsfn[0] = (uintptr_t)dlsym(RTLD_DEFAULT, "__errno_location");
	tlsfn[1] = (uintptr_t)dlsym(RTLD_DEFAULT, "pthread_self");
	buildtable();
	if (atomic_load(&handler_installed))
		return;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = sigurg;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (libc_sigaction(SIGURG, &sa, &old) == 0) {
		appurg = old;
		atomic_store(&appurg_set, old.sa_sigaction != NULL &&
		    (void *)old.sa_sigaction != (void *)sigurg);
		atomic_store(&handler_installed, true);
	}
}

static void warm_leaf(void)
{
	unw_context_t uc;
	unw_cursor_t c;
	unw_getcontext(&uc);
	if (unw_init_local(&c, &uc) == 0)
		while (unw_step(&c) > 0)
			;
}

void goro__preempt_minit(m_t *m)
{
	/* First walks are slow (lazy init, caches): do them here, not in a handler. */
	warm_leaf();
	warm_leaf();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)m->tid);
	m->statfd = open(path, O_RDONLY | O_CLOEXEC);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGURG);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
