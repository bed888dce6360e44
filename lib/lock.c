/*
 * lock.c - runtime locks, notes, fatal errors, clocks.
 *
 * The runtime's own locks are futex mutexes in Drepper's three-state form
 * (0 unlocked, 1 locked, 2 locked with waiters), spinning a little before
 * sleeping because the critical sections they guard are a few dozen
 * instructions.  While an M holds one, m->locks > 0: its G must not be
 * preempted (it could be resumed on another M and unlock a lock it no
 * longer "owns" while a waiter spins on this one).
 *
 * A note is Go's one-shot event: one sleeper, one waker, cleared before
 * reuse.  Idle Ms park on their note.
 */
#include "runtime.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__thread m_t *goro__m __attribute__((tls_model("initial-exec")));

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

void goro__writestr(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

char *goro__itoa(char *buf, long long v)
{
	char tmp[24];
	int i = 0, j = 0;
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
	do {
		tmp[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[j++] = '-';
	while (i > 0)
		buf[j++] = tmp[--i];
	buf[j] = 0;
	return buf;
}

void goro__throwf(const char *msg, long long v)
{
	char num[24];
	goro__writestr(2, "goro: fatal error: ");
	goro__writestr(2, msg);
	if (v != LLONG_MIN) {
		goro__writestr(2, " ");
		goro__writestr(2, goro__itoa(num, v));
	}
	goro__writestr(2, "\n");
	abort();
}

void goro__throw(const char *msg)
{
	goro__throwf(msg, LLONG_MIN);
}

/* ---- locks ------------------------------------------------------------- */

void goro__lock(goro__lock_t *l)
{
	goro__acquirem();	/* m->locks++: see runtime.h */
	uint32_t c = 0;
	if (atomic_compare_exchange_strong_explicit(&l->key, &c, 1,
	    memory_order_acquire, memory_order_relaxed))
		return;
	for (int spin = 0; spin < 100; spin++) {
		c = atomic_load_explicit(&l->key, memory_order_relaxed);
		if (c == 0 && atomic_compare_exchange_weak_explicit(&l->key, &c, 1,
		    memory_order_acquire, memory_order_relaxed))
			return;
		__builtin_ia32_pause();
	}
	/* Sleep: mark contended (2) and wait until we take it as 2. */
	while (atomic_exchange_explicit(&l->key, 2, memory_order_acquire) != 0)
		futex(&l->key, FUTEX_WAIT, 2, NULL);
}

void goro__unlock(goro__lock_t *l)
{
	uint32_t old = atomic_exchange_explicit(&l->key, 0, memory_order_release);
	if (unlikely(old == 0))
		goro__throw("unlock of unlocked lock");
	if (old == 2)
		futex(&l->key, FUTEX_WAKE, 1, NULL);
	m_t *m = goro__m;
	if (m) {
		if (unlikely(--m->locks < 0))
			goro__throw("lock count");
	}
}

/* ---- notes ------------------------------------------------------------- */

void goro__noteclear(goro__note_t *n)
{
	atomic_store_explicit(&n->key, 0, memory_order_relaxed);
}

void goro__notewakeup(goro__note_t *n)
{
	uint32_t old = atomic_exchange(&n->key, 1);
	if (unlikely(old != 0))
		goro__throw("notewakeup: double wakeup");
	futex(&n->key, FUTEX_WAKE, 1, NULL);
}

/* Wake the sleeper of a note whose key the caller set itself. */
void goro__notewakeup_raw(goro__note_t *n)
{
	futex(&n->key, FUTEX_WAKE, 1, NULL);
}

void goro__notesleep(goro__note_t *n)
{
	while (atomic_load(&n->key) == 0)
		futex(&n->key, FUTEX_WAIT, 0, NULL);
}

bool goro__notetsleep(goro__note_t *n, int64_t ns)
{
	if (ns < 0) {
		goro__notesleep(n);
		return true;
	}
	int64_t deadline = goro__nanotime() + ns;
	while (atomic_load(&n->key) == 0) {
		int64_t left = deadline - goro__nanotime();
		if (left <= 0)
			return false;
		struct timespec ts = { left / 1000000000, left % 1000000000 };
		futex(&n->key, FUTEX_WAIT, 0, &ts);
	}
	return true;
}

/* ---- clocks and randomness --------------------------------------------- */

int64_t goro__nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* wyrand: per-thread state, seeded from the clock and the thread. */
static __thread uint64_t randstate;

uint32_t goro__fastrand(void)
{
	if (unlikely(randstate == 0))
		randstate = (uint64_t)goro__nanotime() ^ (uint64_t)(uintptr_t)&randstate;
	randstate += 0xa0761d6478bd642fULL;
	__uint128_t r = (__uint128_t)randstate * (randstate ^ 0xe7037ed1a0b428dbULL);
	return (uint32_t)((r >> 64) ^ r);
}
