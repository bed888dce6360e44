/*
 * stack.c - goroutine stacks and the stack-overflow report.
 *
 * A G's stack is its own mmap: usable bytes above one guard page.  The
 * guard is installed with madvise(MADV_GUARD_INSTALL) where the kernel
 * has it (Linux 6.13+): it is a page-table marker, so the stack stays one
 * mapping and adjacent stacks merge into one VMA -- hundreds of thousands
 * of parked Gs fit under vm.max_map_count.  Older kernels get an
 * mprotect(PROT_NONE) guard, which splits the VMA (two per stack).
 *
 * Stacks are allocated lazily, when a G first runs, so spawning a G that
 * never runs costs no mapping.  A dead G keeps its stack on the free lists
 * (per P, then global), which is the stack cache: reusing a G reuses its
 * stack, already faulted in.
 *
 * A hit on a guard page raises SIGSEGV on the M's sigaltstack; the handler
 * below tells it from other faults by si_addr, prints
 * "goroutine N: stack overflow" and aborts.  Other faults get the
 * previous handler, or the default action (re-raised on return).
 */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static size_t pagesz;

/*
 * The guard below each stack: 64 KiB, not one page, so that a frame of up
 * to 64 KiB (a big local array) that skips the first page still lands in
 * the guard rather than in the stack below -- stacks are adjacent, several
 * to a mapping.  Guard pages are page-table markers: address space, and a
 * few bytes of page table, no memory.
 */
#define GUARD_SIZE ((size_t)64 * 1024)
static _Atomic int guard_kind;	/* 0 unknown, 1 madvise guard, 2 mprotect */

size_t goro__pagesize(void)
{
	if (unlikely(pagesz == 0))
		pagesz = (size_t)sysconf(_SC_PAGESIZE);
	return pagesz;
}

/* Install the guard page at p (one page): MADV_GUARD_INSTALL, else mprotect. */
static int guard(char *p, size_t pg)
{
	int kind = atomic_load_explicit(&guard_kind, memory_order_relaxed);
	if (kind != 2) {
		if (madvise(p, pg, MADV_GUARD_INSTALL) == 0) {
			if (kind == 0)
				atomic_store(&guard_kind, 1);
		} else if (errno == EINVAL || errno == ENOSYS) {
			atomic_store(&guard_kind, 2);
			kind = 2;
		} else {
			return -1;
		}
	}
	if (kind == 2 && mprotect(p, pg, PROT_NONE) != 0)
		return -1;
	return 0;
}

static _Atomic int pidfd = -2;	/* for process_madvise on ourselves; -1 if unusable */

/*
 * Refill p's cache of default-size stacks: one mmap for STACKCACHE
 * stacks, and their guards in one process_madvise call where the kernel
 * takes MADV_GUARD_INSTALL that way (one madvise each otherwise).  The
 * page fault of a fresh stack's first page stays: it is what a new G
 * costs, which is why Gs are reused (proc.c).
 */
static int stackcache_refill(p_t *p, size_t len)
{
	char *chunk = mmap(NULL, len * STACKCACHE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (chunk == MAP_FAILED)
		return -1;
	bool guarded = false;
	int fd = atomic_load(&pidfd);
	if (fd == -2) {
		fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		atomic_store(&pidfd, fd < 0 ? -1 : fd);
	}
	if (fd >= 0 && atomic_load(&guard_kind) != 2) {
		struct iovec iov[STACKCACHE];
		for (int i = 0; i < STACKCACHE; i++) {
			iov[i].iov_base = chunk + (size_t)i * len;
			iov[i].iov_len = GUARD_SIZE;
		}
		if (syscall(SYS_process_madvise, fd, iov, STACKCACHE, MADV_GUARD_INSTALL, 0) ==
		    (long)(GUARD_SIZE * STACKCACHE)) {
			guarded = true;
			atomic_store(&guard_kind, 1);
		} else {
			atomic_store(&pidfd, -1);	/* not this way: per stack */
		}
	}
	for (int i = 0; i < STACKCACHE; i++) {
		char *s = chunk + (size_t)i * len;
		if (!guarded && guard(s, GUARD_SIZE) != 0) {
			munmap(s, len * (size_t)(STACKCACHE - i));
			break;
		}
		p->stackcache[p->nstackcache++] = s;
	}
	return p->nstackcache > 0 ? 0 : -1;
}

/* p is being freed or destroyed: unmap its unused cached stacks. */
void goro__stackcache_free(p_t *p)
{
	size_t len = GORO_STACK_DEFAULT + GUARD_SIZE;
	while (p->nstackcache > 0)
		munmap(p->stackcache[--p->nstackcache], len);
}

/*
 * Give g its stack.  On g0 with a P (execute), or from a G for
 * odd sizes.  Default-size stacks come from the P's cache.
 */
int goro__stackalloc(g_t *g)
{
	size_t pg = goro__pagesize();
	size_t size = (g->stack_size + pg - 1) & ~(pg - 1);
	size_t len = size + GUARD_SIZE;
	m_t *m = goro__m;
	p_t *pp = m ? m->p : NULL;
	char *p;
	if (pp && g->stack_size == GORO_STACK_DEFAULT &&
	    (pp->nstackcache > 0 || stackcache_refill(pp, len) == 0)) {
		p = pp->stackcache[--pp->nstackcache];
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (p == MAP_FAILED)
			return -1;
		if (guard(p, GUARD_SIZE) != 0) {
			munmap(p, len);
			return -1;
		}
	}
	g->stack_map = p;
	g->stack_maplen = len;
	g->stack_lo = p + GUARD_SIZE;
	g->stack_hi = p + len;
	return 0;
}

void goro__stackfree(g_t *g)
{
	if (g->stack_map) {
		munmap(g->stack_map, g->stack_maplen);
		g->stack_map = NULL;
		g->stack_lo = g->stack_hi = NULL;
		g->stack_maplen = 0;
	}
}

/* ---- overflow report ---------------------------------------------------- */

static struct sigaction oldsegv, oldbus;

/* async-signal-safe: reads the current M's G; write(2) and abort only. */
static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	m_t *m = goro__m;
	g_t *g = m ? m->curg : NULL;
	char *addr = si->si_addr;
	char *sp = (char *)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
	/*
	 * A hit on the guard page, or a frame so big that the stack pointer
	 * itself jumped past it (a 1 MiB window below: beyond that it is not
	 * plausibly this stack).
	 */
	if (g && g->stack_map && ((addr >= (char *)g->stack_map && addr < g->stack_lo) ||
	    (sp < g->stack_lo + 256 && sp + (1 << 20) >= g->stack_lo && addr < g->stack_lo &&
	     addr + (1 << 20) >= g->stack_lo))) {
		char num[24];
		goro__writestr(2, "goroutine ");
		goro__writestr(2, goro__itoa(num, g->goid));
		goro__writestr(2, ": stack overflow\n");
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	struct sigaction *old = sig == SIGSEGV ? &oldsegv : &oldbus;
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction) {
			old->sa_sigaction(sig, si, uc);
			errno = saved;
			return;
		}
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		errno = saved;
		return;
	}
	/* Default action: reinstall it; the faulting instruction faults again. */
	signal(sig, SIG_DFL);
	errno = saved;
}

void goro__stack_siginit(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &oldsegv);
	sigaction(SIGBUS, &sa, &oldbus);
}

/*
 * Each M's sigaltstack: the kernel's frame (3.3 KB here, 11.5 KB with AMX
 * permitted) plus the handlers' own work (a libunwind walk used 5.5 KB).
 * DESIGN.md: at least max(_SC_MINSIGSTKSZ, 12 KiB) + 16 KiB; we take 64 KiB
 * or that, whichever is more.
 */
int goro__sigaltstack_init(m_t *m)
{
	long min = sysconf(_SC_MINSIGSTKSZ);
	size_t need = (size_t)(min > 12288 ? min : 12288) + 16384;
	size_t len = need > 65536 ? need : 65536;
	size_t pg = goro__pagesize();
	len = (len + pg - 1) & ~(pg - 1);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	stack_t ss = { .ss_sp = p, .ss_size = len, .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) != 0) {
		munmap(p, len);
		return -1;
	}
	m->sigstack = p;
	m->sigstacklen = len;
	return 0;
}

/* Free m's sigaltstack; the thread must no longer use it. */
void goro__sigaltstack_free(m_t *m)
{
	munmap(m->sigstack, m->sigstacklen);
	m->sigstack = NULL;
}
