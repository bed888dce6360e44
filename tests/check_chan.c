/*
 * check_chan.c - channels, select and deadlock detection.
 *
 * Check runs every test in a forked child, so each test starts its own
 * runtime with goro_run() (never main()).  The tests are white-box only in
 * one place: nwaiting() counts the Gs parked on a channel through
 * lib/chan.h, so that a test can wait until a G has really parked instead
 * of sleeping and hoping.  Timing assertions are bounds with a wide
 * margin, never tight.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "goro.h"
#include "chan.h"
#include "goro_test.h"

/*
 * Checks for hot loops and for code running on many Gs at once.  Check's
 * ck_assert_* records the location of every assertion that passes, which
 * is a write(2) to its pipe under a pthread mutex: thousands of those
 * would measure Check, and Gs blocked on that mutex block their Ms.
 * These cost nothing until they fail.
 */
#define expect(e) do {							\
	if (!(e))							\
		ck_abort_msg("Assertion '%s' failed", #e);		\
} while (0)
#define expect_eq(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
									\
	if (a_ != b_)							\
		ck_abort_msg("Assertion '%s == %s' failed: %lld != %lld",	\
		    #a, #b, a_, b_);					\
} while (0)

/* ---- helpers ---------------------------------------------------------- */

static void
spawn(void (*fn)(void *), void *arg)
{
	ck_assert_int_gt(goro_go(fn, arg), 0);
}

/* Gs parked sending (op GORO_SEND) or receiving on c, selects included. */
static int
nwaiting(goro_chan_t *c, int op)
{
	goro__waitq_t *q = op == GORO_SEND ? &c->sendq : &c->recvq;
	int n = 0;

	goro__lock(&c->lock);
	for (goro__sudog_t *sg = q->first; sg != NULL; sg = sg->next)
		n++;
	goro__unlock(&c->lock);
	return n;
}

/* Yield until at least n Gs are parked on c for op. */
static void
waitparked(goro_chan_t *c, int op, int n)
{
	int64_t deadline = goro_now() + 10000 * MS;

	while (nwaiting(c, op) < n) {
		if (goro_now() > deadline)
			ck_abort_msg("Gs never parked");
		goro_yield();
	}
}

/* An element of `size` bytes standing for the value v. */
static void
fill(void *buf, size_t size, int v)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)(v * 31 + i);
}

static bool
holds(const void *buf, size_t size, int v)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < size; i++)
		if (p[i] != (unsigned char)(v * 31 + i))
			return false;
	return true;
}

/* Whether a failed receive left the element as it was (0xa5 bytes). */
static bool
untouched(const void *buf, size_t size)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < size; i++)
		if (p[i] != 0xa5)
			return false;
	return true;
}

/* A deterministic PRNG for the model test (xorshift64*). */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static unsigned
rndn(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd(s) >> 33) % n;
}

/* ---- a table of single-G semantics -------------------------------------- */

/*
 * Steps run by one G on a fresh channel.  Blocking steps appear only where
 * they cannot block.  `err` is the expected errno (0: success); `v` the
 * value sent, or expected (a receive that fails leaves the element alone).
 */
enum {
	END, TSEND, TRECV, SEND, RECV, CLOSE, LEN, CAP,
	TRECVNULL,	/* tryrecv discarding the element */
	POLLSEND, POLLRECV,	/* goro_select of one case, timeout 0 */
};

struct step { int op, v, err; };

static const struct semantics {
	const char *name;
	size_t elemsize, cap;
	struct step steps[24];
} semantics[] = {
	{ "buffered FIFO", sizeof(int), 3, {
		{ TSEND, 1, 0 }, { TSEND, 2, 0 }, { SEND, 3, 0 },
		{ TSEND, 4, EAGAIN }, { LEN, 3, 0 }, { CAP, 3, 0 },
		{ TRECV, 1, 0 }, { TSEND, 4, 0 }, { RECV, 2, 0 },
		{ TRECV, 3, 0 }, { TRECV, 4, 0 }, { TRECV, 0, EAGAIN },
		{ LEN, 0, 0 }, { END, 0, 0 } } },
	{ "ring wraps around", 24, 2, {
		{ TSEND, 1, 0 }, { TSEND, 2, 0 }, { TRECV, 1, 0 },
		{ TSEND, 3, 0 }, { TRECV, 2, 0 }, { TSEND, 4, 0 },
		{ TRECV, 3, 0 }, { TSEND, 5, 0 }, { TSEND, 6, EAGAIN },
		{ TRECV, 4, 0 }, { TRECV, 5, 0 }, { LEN, 0, 0 },
		{ END, 0, 0 } } },
	{ "close drains the buffer, then EPIPE", sizeof(int), 2, {
		{ TSEND, 7, 0 }, { TSEND, 8, 0 }, { CLOSE, 0, 0 },
		{ TSEND, 9, EPIPE }, { SEND, 9, EPIPE }, { LEN, 2, 0 },
		{ TRECV, 7, 0 }, { RECV, 8, 0 }, { TRECV, 0, EPIPE },
		{ RECV, 0, EPIPE }, { CLOSE, 0, EPIPE }, { LEN, 0, 0 },
		{ END, 0, 0 } } },
	{ "unbuffered without a partner", sizeof(int), 0, {
		{ TSEND, 1, EAGAIN }, { TRECV, 0, EAGAIN }, { LEN, 0, 0 },
		{ CAP, 0, 0 }, { POLLSEND, 1, ETIMEDOUT },
		{ POLLRECV, 0, ETIMEDOUT }, { CLOSE, 0, 0 },
		{ TSEND, 1, EPIPE }, { SEND, 1, EPIPE }, { TRECV, 0, EPIPE },
		{ RECV, 0, EPIPE }, { POLLRECV, 0, EPIPE },
		{ POLLSEND, 1, EPIPE }, { CLOSE, 0, EPIPE }, { END, 0, 0 } } },
	{ "capacity one", sizeof(long), 1, {
		{ POLLSEND, 5, 0 }, { POLLSEND, 6, ETIMEDOUT }, { LEN, 1, 0 },
		{ POLLRECV, 5, 0 }, { POLLRECV, 0, ETIMEDOUT },
		{ TSEND, 6, 0 }, { TRECVNULL, 0, 0 }, { LEN, 0, 0 },
		{ END, 0, 0 } } },
	{ "elem_size 0, buffered", 0, 2, {
		{ TSEND, 0, 0 }, { SEND, 0, 0 }, { TSEND, 0, EAGAIN },
		{ LEN, 2, 0 }, { CAP, 2, 0 }, { TRECV, 0, 0 },
		{ POLLRECV, 0, 0 }, { TRECV, 0, EAGAIN }, { TSEND, 0, 0 },
		{ CLOSE, 0, 0 }, { RECV, 0, 0 }, { RECV, 0, EPIPE },
		{ END, 0, 0 } } },
	{ "elem_size 0, unbuffered", 0, 0, {
		{ TSEND, 0, EAGAIN }, { TRECV, 0, EAGAIN }, { CLOSE, 0, 0 },
		{ TRECV, 0, EPIPE }, { POLLRECV, 0, EPIPE }, { END, 0, 0 } } },
	{ "large elements", 1000, 4, {
		{ TSEND, 1, 0 }, { TSEND, 2, 0 }, { TRECV, 1, 0 },
		{ CLOSE, 0, 0 }, { TRECV, 2, 0 }, { TRECV, 0, EPIPE },
		{ END, 0, 0 } } },
};

static void
semantics_main(void *arg)
{
	const struct semantics *t = arg;
	goro_chan_t *c = goro_chan_make(t->elemsize, t->cap);
	unsigned char buf[1000], *ep = t->elemsize ? buf : NULL;

	ck_assert_ptr_nonnull(c);
	for (const struct step *s = t->steps; s->op != END; s++) {
		int r = 0, closed = 0;
		int i = (int)(s - t->steps);

		ERRNO = 0;
		if (t->elemsize)
			memset(buf, 0xa5, sizeof buf);
		switch (s->op) {
		case TSEND: case SEND: case POLLSEND:
			fill(buf, t->elemsize, s->v);
			if (s->op == TSEND) {
				r = goro_chan_trysend(c, ep);
			} else if (s->op == SEND) {
				r = goro_chan_send(c, ep);
			} else {
				goro_case_t k = { c, GORO_SEND, ep, 5 };

				r = goro_select(&k, 1, 0);
				ck_assert_int_eq(k.closed, 0);
			}
			break;
		case TRECV: case RECV: case POLLRECV:
			if (s->op == TRECV) {
				r = goro_chan_tryrecv(c, ep);
			} else if (s->op == RECV) {
				r = goro_chan_recv(c, ep);
			} else {
				goro_case_t k = { c, GORO_RECV, ep, 5 };

				r = goro_select(&k, 1, 0);
				closed = k.closed;
				/* the closed case proceeds: index 0, flag set */
				if (r == 0 && closed) {
					r = -1;
					ERRNO = EPIPE;
				}
			}
			if (r == 0)
				ck_assert_msg(holds(buf, t->elemsize, s->v),
				    "%s: step %d: wrong element", t->name, i);
			else if (s->err == EPIPE)
				ck_assert_msg(untouched(buf, t->elemsize),
				    "%s: step %d: element written", t->name, i);
			break;
		case TRECVNULL:
			r = goro_chan_tryrecv(c, NULL);
			break;
		case CLOSE:
			r = goro_chan_close(c);
			break;
		case LEN:
			ck_assert_uint_eq(goro_chan_len(c), (size_t)s->v);
			continue;
		case CAP:
			ck_assert_uint_eq(goro_chan_cap(c), (size_t)s->v);
			continue;
		}
		if (s->err == 0)
			ck_assert_msg(r == 0, "%s: step %d: failed, errno %d",
			    t->name, i, ERRNO);
		else
			ck_assert_msg(r == -1 && ERRNO == s->err,
			    "%s: step %d: got %d errno %d, want errno %d",
			    t->name, i, r, ERRNO, s->err);
	}
	ck_assert_int_eq(goro_chan_free(c), 0);
}

START_TEST(test_semantics_table)
{
	run(semantics_main, (void *)&semantics[_i]);
}
END_TEST

/* ---- two Gs on one channel ---------------------------------------------- */

struct pair {
	goro_chan_t *c;
	int v;			/* value to send, or received */
	int r, err;		/* what the call returned */
	goro_wg_t wg;
};

static void
sender(void *arg)
{
	struct pair *p = arg;

	p->r = goro_chan_send(p->c, &p->v);
	p->err = ERRNO;
	goro_wg_done(&p->wg);
}

static void
receiver(void *arg)
{
	struct pair *p = arg;

	p->v = -1;
	p->r = goro_chan_recv(p->c, &p->v);
	p->err = ERRNO;
	goro_wg_done(&p->wg);
}

static void
handoff_main(void *arg)
{
	struct pair p = { .wg = GORO_WG_INIT };
	int v = 0;

	p.c = goro_chan_make(sizeof(int), 0);

	/* A receiver parked first gets the value straight from the send. */
	goro_wg_add(&p.wg, 1);
	spawn(receiver, &p);
	waitparked(p.c, GORO_RECV, 1);
	v = 42;
	ck_assert_int_eq(goro_chan_send(p.c, &v), 0);
	goro_wg_wait(&p.wg);
	ck_assert_int_eq(p.r, 0);
	ck_assert_int_eq(p.v, 42);
	ck_assert_uint_eq(goro_chan_len(p.c), 0);

	/* A sender parked first: the receive copies from it. */
	p.v = 43;
	goro_wg_add(&p.wg, 1);
	spawn(sender, &p);
	waitparked(p.c, GORO_SEND, 1);
	ck_assert_uint_eq(goro_chan_len(p.c), 0);
	ck_assert_int_eq(goro_chan_recv(p.c, &v), 0);
	ck_assert_int_eq(v, 43);
	goro_wg_wait(&p.wg);
	ck_assert_int_eq(p.r, 0);

	/* trysend and tryrecv complete with a parked partner. */
	goro_wg_add(&p.wg, 1);
	spawn(receiver, &p);
	waitparked(p.c, GORO_RECV, 1);
	v = 44;
	ck_assert_int_eq(goro_chan_trysend(p.c, &v), 0);
	goro_wg_wait(&p.wg);
	ck_assert_int_eq(p.v, 44);

	p.v = 45;
	goro_wg_add(&p.wg, 1);
	spawn(sender, &p);
	waitparked(p.c, GORO_SEND, 1);
	ck_assert_int_eq(goro_chan_tryrecv(p.c, NULL), 0);	/* discarded */
	goro_wg_wait(&p.wg);
	ck_assert_int_eq(p.r, 0);

	ck_assert_int_eq(goro_chan_free(p.c), 0);
}

START_TEST(test_unbuffered_handoff)
{
	run(handoff_main, NULL);
}
END_TEST

#define NFIFO 6

static void
fifo_main(void *arg)
{
	size_t cap = (size_t)(uintptr_t)arg;
	goro_chan_t *c = goro_chan_make(sizeof(int), cap);
	struct pair p[NFIFO];
	int v;

	/* Senders served in arrival order, after what is buffered. */
	for (size_t i = 0; i < cap; i++) {
		v = -(int)i - 1;
		ck_assert_int_eq(goro_chan_trysend(c, &v), 0);
	}
	for (int i = 0; i < NFIFO; i++) {
		p[i] = (struct pair){ .c = c, .v = i, .wg = GORO_WG_INIT };
		goro_wg_add(&p[i].wg, 1);
		spawn(sender, &p[i]);
		waitparked(c, GORO_SEND, i + 1);
	}
	for (size_t i = 0; i < cap; i++) {
		ck_assert_int_eq(goro_chan_recv(c, &v), 0);
		ck_assert_int_eq(v, -(int)i - 1);
	}
	for (int i = 0; i < NFIFO; i++) {
		ck_assert_int_eq(goro_chan_recv(c, &v), 0);
		ck_assert_int_eq(v, i);
	}
	for (int i = 0; i < NFIFO; i++) {
		goro_wg_wait(&p[i].wg);
		ck_assert_int_eq(p[i].r, 0);
	}
	ck_assert_uint_eq(goro_chan_len(c), 0);

	/* Receivers served in arrival order. */
	for (int i = 0; i < NFIFO; i++) {
		p[i] = (struct pair){ .c = c, .wg = GORO_WG_INIT };
		goro_wg_add(&p[i].wg, 1);
		spawn(receiver, &p[i]);
		waitparked(c, GORO_RECV, i + 1);
	}
	for (int i = 0; i < NFIFO; i++)
		ck_assert_int_eq(goro_chan_send(c, &i), 0);
	for (int i = 0; i < NFIFO; i++) {
		goro_wg_wait(&p[i].wg);
		ck_assert_int_eq(p[i].r, 0);
		ck_assert_int_eq(p[i].v, i);
	}
	ck_assert_uint_eq(goro_chan_len(c), 0);
	ck_assert_int_eq(goro_chan_free(c), 0);
}

START_TEST(test_fifo_waiters)
{
	/* _i: capacity 0 (unbuffered) and 3 (full ring with senders queued) */
	run(fifo_main, (void *)(uintptr_t)(_i * 3));
}
END_TEST

static void
signal_receiver(void *arg)
{
	struct pair *p = arg;

	p->r = goro_chan_recv(p->c, NULL);
	p->err = ERRNO;
	goro_wg_done(&p->wg);
}

static void
elemsize0_main(void *arg)
{
	struct pair p = { .wg = GORO_WG_INIT };

	(void)arg;
	p.c = goro_chan_make(0, 0);
	expect((p.c) != NULL);
	for (int i = 0; i < 100; i++) {
		goro_wg_add(&p.wg, 1);
		spawn(signal_receiver, &p);
		expect_eq(goro_chan_send(p.c, NULL), 0);
		goro_wg_wait(&p.wg);
		expect_eq(p.r, 0);
	}
	goro_wg_add(&p.wg, 1);
	spawn(signal_receiver, &p);
	waitparked(p.c, GORO_RECV, 1);
	expect_eq(goro_chan_close(p.c), 0);
	goro_wg_wait(&p.wg);
	expect_eq(p.r, -1);
	expect_eq(p.err, EPIPE);
	expect_eq(goro_chan_free(p.c), 0);

	/* A huge capacity of nothing costs nothing. */
	p.c = goro_chan_make(0, SIZE_MAX);
	expect((p.c) != NULL);
	expect_eq(goro_chan_cap(p.c), SIZE_MAX);
	for (int i = 0; i < 1000; i++)
		expect_eq(goro_chan_trysend(p.c, NULL), 0);
	expect_eq(goro_chan_len(p.c), 1000);
	expect_eq(goro_chan_free(p.c), 0);
}

START_TEST(test_elemsize0)
{
	run(elemsize0_main, NULL);
}
END_TEST

/* ---- errors ------------------------------------------------------------- */

static void
errors_main(void *arg)
{
	goro_chan_t *c = goro_chan_make(sizeof(int), 0);
	struct pair p = { .c = c, .wg = GORO_WG_INIT };
	int v = 1;
	goro_case_t k[2];

	(void)arg;
	/* NULL channel: EINVAL from every call. */
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_send(NULL, &v), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_recv(NULL, &v), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_trysend(NULL, &v), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_tryrecv(NULL, &v), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_close(NULL), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_free(NULL), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_uint_eq(goro_chan_len(NULL), 0);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_uint_eq(goro_chan_cap(NULL), 0);
	ck_assert_int_eq(ERRNO, EINVAL);

	/* Sending nothing on a channel of ints. */
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_send(c, NULL), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_trysend(c, NULL), -1);
	ck_assert_int_eq(ERRNO, EINVAL);

	/* Sizes. */
	ERRNO = 0;
	ck_assert_ptr_null(goro_chan_make(SIZE_MAX / 2 + 1, 2));
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_ptr_null(goro_chan_make(1, SIZE_MAX));
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_ptr_null(goro_chan_make(8, (size_t)PTRDIFF_MAX / 16));
	ck_assert_int_eq(ERRNO, ENOMEM);

	/* Freeing a channel with a parked G: EBUSY, until it is gone. */
	goro_wg_add(&p.wg, 1);
	spawn(receiver, &p);
	waitparked(c, GORO_RECV, 1);
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_free(c), -1);
	ck_assert_int_eq(ERRNO, EBUSY);
	ck_assert_int_eq(goro_chan_send(c, &v), 0);
	goro_wg_wait(&p.wg);
	goro_wg_add(&p.wg, 1);
	spawn(sender, &p);
	waitparked(c, GORO_SEND, 1);
	ERRNO = 0;
	ck_assert_int_eq(goro_chan_free(c), -1);
	ck_assert_int_eq(ERRNO, EBUSY);
	ck_assert_int_eq(goro_chan_recv(c, NULL), 0);
	goro_wg_wait(&p.wg);

	/* select: bad op, no cases array, nothing to send. */
	k[0] = (goro_case_t){ c, GORO_RECV, &v, 0 };
	k[1] = (goro_case_t){ c, 3, &v, 0 };
	ERRNO = 0;
	ck_assert_int_eq(goro_select(k, 2, 0), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	k[1].op = 0;
	k[1].chan = NULL;	/* even on a NULL channel */
	ERRNO = 0;
	ck_assert_int_eq(goro_select(k, 2, -1), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_int_eq(goro_select(NULL, 1, 0), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	k[1] = (goro_case_t){ c, GORO_SEND, NULL, 0 };
	ERRNO = 0;
	ck_assert_int_eq(goro_select(k, 2, 0), -1);
	ck_assert_int_eq(ERRNO, EINVAL);
	ERRNO = 0;
	ck_assert_int_eq(goro_select(NULL, 0, 0), -1);
	ck_assert_int_eq(ERRNO, ETIMEDOUT);

	ck_assert_int_eq(goro_chan_free(c), 0);
}

START_TEST(test_errors)
{
	run(errors_main, NULL);
}
END_TEST

/*
 * Outside any goroutine: whatever can be done at once works, blocking
 * calls included; what would have to wait fails with EPERM.  c has room
 * for one int.
 */
static void *
outside_thread(void *arg)
{
	goro_chan_t *c = arg;
	int v = 9, w = 0;
	goro_case_t k = { c, GORO_RECV, &w, 0 };

	ERRNO = 0;
	if (goro_chan_recv(c, &w) != -1 || ERRNO != EPERM)
		return "recv on an empty channel";
	ERRNO = 0;
	if (goro_select(&k, 1, -1) != -1 || ERRNO != EPERM)
		return "select for ever";
	ERRNO = 0;
	if (goro_select(&k, 1, 10 * MS) != -1 || ERRNO != EPERM)
		return "select with a time-out";
	ERRNO = 0;
	if (goro_select(NULL, 0, -1) != -1 || ERRNO != EPERM)
		return "select without cases";
	ERRNO = 0;
	if (goro_select(&k, 1, 0) != -1 || ERRNO != ETIMEDOUT)
		return "select poll on an empty channel";
	if (goro_chan_send(c, &v) != 0)
		return "send with room";
	ERRNO = 0;
	if (goro_chan_send(c, &v) != -1 || ERRNO != EPERM)
		return "send on a full channel";
	if (goro_chan_len(c) != 1 || goro_chan_cap(c) != 1)
		return "len, cap";
	if (goro_select(&k, 1, -1) != 0 || w != 9)
		return "select with a ready case";
	if (goro_chan_trysend(c, &v) != 0)
		return "trysend";
	w = 0;
	if (goro_chan_recv(c, &w) != 0 || w != 9)
		return "recv with a value";
	if (goro_chan_trysend(c, &v) != 0 || goro_chan_tryrecv(c, &w) != 0)
		return "trysend, tryrecv";
	return NULL;
}

static void
sleeper(void *arg)
{
	goro_sleep(60000 * MS);	/* abandoned when goro_run returns */
}

static void
outside_main(void *arg)
{
	goro_chan_t *c = arg;
	goro_chan_t *b = goro_chan_make(sizeof(int), 1);
	pthread_t t;
	void *fail;
	int v, r;

	/*
	 * A plain thread while the runtime runs; meanwhile this G parks on
	 * c, and another plain thread wakes it (through the global queue).
	 * The deadlock detector cannot see plain threads: a sleeping G keeps
	 * it quiet meanwhile (a pending timer can wake someone).
	 */
	spawn(sleeper, NULL);
	ck_assert_int_eq(pthread_create(&t, NULL, outside_thread, b), 0);
	ck_assert_int_eq(goro_chan_recv(c, &v), 0);
	ck_assert_int_eq(v, 5);
	goro_syscall_enter();
	r = pthread_join(t, &fail);
	goro_syscall_exit();
	ck_assert_int_eq(r, 0);
	ck_assert_msg(fail == NULL, "outside thread: %s", (char *)fail);
	ck_assert_int_eq(goro_chan_free(b), 0);
}

static void *
outside_sender(void *arg)
{
	int v = 5;

	while (goro_chan_trysend(arg, &v) != 0)
		usleep(1000);
	return NULL;
}

START_TEST(test_outside_goroutine)
{
	goro_chan_t *c = goro_chan_make(sizeof(int), 1);
	pthread_t t;
	void *fail;

	/* Before any runtime. */
	ck_assert_ptr_nonnull(c);
	fail = outside_thread(c);
	ck_assert_msg(fail == NULL, "no runtime: %s", (char *)fail);
	ck_assert_int_eq(goro_chan_free(c), 0);

	c = goro_chan_make(sizeof(int), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, outside_sender, c), 0);
	run(outside_main, c);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(goro_chan_free(c), 0);
}
END_TEST

/* ---- close ------------------------------------------------------------- */

#define NCLOSE 500

struct closer {
	goro_chan_t *c;
	int op;			/* GORO_SEND, GORO_RECV, or 0: select recv */
	_Atomic int epipe, untouched, closedflag, other;
	goro_wg_t wg;
};

static void
close_waiter(void *arg)
{
	struct closer *k = arg;
	long v = -1;
	int r;

	if (k->op == GORO_SEND) {
		r = goro_chan_send(k->c, &v);
	} else if (k->op == GORO_RECV) {
		r = goro_chan_recv(k->c, &v);
	} else {
		goro_chan_t *never = goro_chan_make(sizeof(long), 0);
		goro_case_t cs[3] = {
			{ never, GORO_RECV, &v, 0 },
			{ NULL, GORO_RECV, &v, 0 },
			{ k->c, GORO_RECV, &v, 0 },
		};

		r = goro_select(cs, 3, -1);
		if (r == 2 && cs[2].closed && !cs[0].closed)
			k->closedflag++;
		if (nwaiting(never, GORO_RECV) != 0)
			k->other++;	/* a sudog left behind */
		goro_chan_free(never);
		r = r == 2 && cs[2].closed ? -1 : 0;
		ERRNO = EPIPE;
	}
	if (r == -1 && ERRNO == EPIPE)
		k->epipe++;
	else
		k->other++;
	if (v == -1)
		k->untouched++;
	goro_wg_done(&k->wg);
}

static void
close_main(void *arg)
{
	int op = (int)(intptr_t)arg;
	struct closer k = { .op = op, .wg = GORO_WG_INIT };

	k.c = goro_chan_make(sizeof(long), 0);
	goro_wg_add(&k.wg, NCLOSE);
	for (int i = 0; i < NCLOSE; i++)
		spawn(close_waiter, &k);
	waitparked(k.c, op == GORO_SEND ? GORO_SEND : GORO_RECV, NCLOSE);
	ck_assert_int_eq(goro_chan_close(k.c), 0);
	goro_wg_wait(&k.wg);
	ck_assert_int_eq(k.epipe, NCLOSE);
	ck_assert_int_eq(k.other, 0);
	if (op != GORO_SEND)
		ck_assert_int_eq(k.untouched, NCLOSE);
	if (op == 0)
		ck_assert_int_eq(k.closedflag, NCLOSE);
	ck_assert_int_eq(nwaiting(k.c, GORO_RECV) + nwaiting(k.c, GORO_SEND), 0);
	ck_assert_int_eq(goro_chan_free(k.c), 0);
}

START_TEST(test_close_wakes_all)
{
	static const int ops[] = { GORO_RECV, GORO_SEND, 0 };

	run(close_main, (void *)(intptr_t)ops[_i]);
}
END_TEST

/* ---- select ------------------------------------------------------------ */

struct selargs {
	goro_chan_t *a, *b;
	int v;
	goro_wg_t wg;
};

static void
delayed_send(void *arg)
{
	struct selargs *s = arg;

	waitparked(s->a, GORO_RECV, 1);
	ck_assert_int_eq(goro_chan_send(s->a, &s->v), 0);
	goro_wg_done(&s->wg);
}

static void
delayed_recv(void *arg)
{
	struct selargs *s = arg;

	waitparked(s->b, GORO_SEND, 1);
	ck_assert_int_eq(goro_chan_recv(s->b, &s->v), 0);
	goro_wg_done(&s->wg);
}

static void
delayed_close(void *arg)
{
	struct selargs *s = arg;

	waitparked(s->a, GORO_RECV, 1);
	ck_assert_int_eq(goro_chan_close(s->a), 0);
	goro_wg_done(&s->wg);
}

static void
select_main(void *arg)
{
	struct selargs s = { .wg = GORO_WG_INIT };
	goro_chan_t *buf = goro_chan_make(sizeof(int), 1);
	int x = 0, y = 7;
	goro_case_t k[4];

	(void)arg;
	s.a = goro_chan_make(sizeof(int), 0);
	s.b = goro_chan_make(sizeof(int), 0);

	/* Poll: nothing ready; closed outputs reset. */
	k[0] = (goro_case_t){ s.a, GORO_RECV, &x, 3 };
	k[1] = (goro_case_t){ s.b, GORO_SEND, &y, 3 };
	k[2] = (goro_case_t){ NULL, GORO_RECV, &x, 3 };
	ERRNO = 0;
	ck_assert_int_eq(goro_select(k, 3, 0), -1);
	ck_assert_int_eq(ERRNO, ETIMEDOUT);
	ck_assert_int_eq(k[0].closed + k[1].closed + k[2].closed, 0);

	/* A ready buffered send, then a ready buffered receive. */
	k[2] = (goro_case_t){ buf, GORO_SEND, &y, 0 };
	ck_assert_int_eq(goro_select(k, 3, 0), 2);
	k[2] = (goro_case_t){ buf, GORO_RECV, &x, 0 };
	ck_assert_int_eq(goro_select(k, 3, -1), 2);
	ck_assert_int_eq(x, 7);

	/* Blocking, completed by a sender on one channel. */
	s.v = 11;
	goro_wg_add(&s.wg, 1);
	spawn(delayed_send, &s);
	ck_assert_int_eq(goro_select(k, 2, -1), 0);
	ck_assert_int_eq(x, 11);
	goro_wg_wait(&s.wg);
	ck_assert_int_eq(nwaiting(s.b, GORO_SEND), 0);	/* taken back */

	/* Blocking, completed by a receiver. */
	goro_wg_add(&s.wg, 1);
	spawn(delayed_recv, &s);
	y = 12;
	ck_assert_int_eq(goro_select(k, 2, 5000 * MS), 1);
	goro_wg_wait(&s.wg);
	ck_assert_int_eq(s.v, 12);
	ck_assert_int_eq(nwaiting(s.a, GORO_RECV), 0);

	/* Both directions on one unbuffered channel, plus a partner. */
	k[1].chan = s.a;
	s.v = 13;
	goro_wg_add(&s.wg, 1);
	spawn(delayed_send, &s);
	ck_assert_int_eq(goro_select(k, 2, -1), 0);
	ck_assert_int_eq(x, 13);
	goro_wg_wait(&s.wg);
	ck_assert_int_eq(nwaiting(s.a, GORO_SEND), 0);
	k[1].chan = s.b;

	/* Blocking, completed by close: closed set, elem untouched. */
	goro_wg_add(&s.wg, 1);
	spawn(delayed_close, &s);
	x = 99;
	ck_assert_int_eq(goro_select(k, 2, -1), 0);
	ck_assert_int_eq(k[0].closed, 1);
	ck_assert_int_eq(k[1].closed, 0);
	ck_assert_int_eq(x, 99);
	goro_wg_wait(&s.wg);
	ck_assert_int_eq(nwaiting(s.b, GORO_SEND), 0);

	/* Closed and drained, when polled. */
	x = 99;
	ck_assert_int_eq(goro_select(k, 2, 0), 0);
	ck_assert_int_eq(k[0].closed, 1);
	ck_assert_int_eq(x, 99);

	/* A send case on a closed channel fails the select. */
	k[0] = (goro_case_t){ s.a, GORO_SEND, &y, 0 };
	ERRNO = 0;
	ck_assert_int_eq(goro_select(k, 1, -1), -1);
	ck_assert_int_eq(ERRNO, EPIPE);

	ck_assert_int_eq(goro_chan_free(s.a), 0);
	ck_assert_int_eq(goro_chan_free(s.b), 0);
	ck_assert_int_eq(goro_chan_free(buf), 0);
}

START_TEST(test_select_basic)
{
	run(select_main, NULL);
}
END_TEST

/* A select of many cases (past the on-stack arrays), one made ready. */
#define NBIG 100

struct bigsel {
	goro_chan_t *c[NBIG];
	goro_wg_t wg;
	int which;
};

static void
big_sender(void *arg)
{
	struct bigsel *b = arg;
	int v = b->which * 10;

	waitparked(b->c[b->which], GORO_RECV, 1);
	expect_eq(goro_chan_trysend(b->c[b->which], &v), 0);
	goro_wg_done(&b->wg);
}

static void
bigselect_main(void *arg)
{
	struct bigsel b = { .wg = GORO_WG_INIT };
	goro_case_t k[NBIG];
	int v[NBIG];

	(void)arg;
	for (int i = 0; i < NBIG; i++) {
		/* some channels twice, some NULL */
		b.c[i] = i % 7 == 3 ? NULL :
		    i % 5 == 4 ? b.c[i - 1] : goro_chan_make(sizeof(int), 0);
	}
	for (int round = 0; round < 20; round++) {
		b.which = (round * 37 + 11) % NBIG;
		while (b.c[b.which] == NULL)
			b.which = (b.which + 1) % NBIG;
		for (int i = 0; i < NBIG; i++)
			k[i] = (goro_case_t){ b.c[i], GORO_RECV, &v[i], 0 };
		goro_wg_add(&b.wg, 1);
		spawn(big_sender, &b);
		int r = goro_select(k, NBIG, -1);
		expect((r) >= (0));
		expect((b.c[r]) == (b.c[b.which]));
		expect_eq(v[r], b.which * 10);
		goro_wg_wait(&b.wg);
		for (int i = 0; i < NBIG; i++)
			if (b.c[i] != NULL)
				expect_eq(nwaiting(b.c[i], GORO_RECV), 0);
	}
	for (int i = 0; i < NBIG; i++)
		if (b.c[i] != NULL && (i % 5 != 4))
			expect_eq(goro_chan_free(b.c[i]), 0);
}

START_TEST(test_select_many_cases)
{
	run(bigselect_main, NULL);
}
END_TEST

/*
 * Uniform choice: among 4 ready cases (2 sends with room, 2 receives with
 * elements), each should be chosen about 1/4 of 10,000 times; a NULL
 * channel and a not-ready case never.  Chi-square, 3 degrees of freedom:
 * 16.3 is the 0.1% point; 40 leaves room for a poor but fair generator.
 */
#define NSEL 10000

static void
random_main(void *arg)
{
	goro_chan_t *s0 = goro_chan_make(sizeof(int), NSEL);
	goro_chan_t *s1 = goro_chan_make(0, NSEL);
	goro_chan_t *r0 = goro_chan_make(sizeof(int), NSEL);
	goro_chan_t *r1 = goro_chan_make(0, NSEL);
	goro_chan_t *idle = goro_chan_make(sizeof(int), 0);
	int v = 1, counts[6] = { 0 };
	double chi2 = 0;

	(void)arg;
	for (int i = 0; i < NSEL; i++) {
		expect_eq(goro_chan_trysend(r0, &i), 0);
		expect_eq(goro_chan_trysend(r1, NULL), 0);
	}
	for (int i = 0; i < NSEL; i++) {
		goro_case_t k[6] = {
			{ s0, GORO_SEND, &v, 0 },
			{ idle, GORO_RECV, &v, 0 },
			{ r0, GORO_RECV, &v, 0 },
			{ NULL, GORO_SEND, &v, 0 },
			{ s1, GORO_SEND, NULL, 0 },
			{ r1, GORO_RECV, NULL, 0 },
		};
		int r = goro_select(k, 6, i % 2 ? 0 : -1);

		expect((r) >= (0));
		counts[r]++;
	}
	expect_eq(counts[1], 0);
	expect_eq(counts[3], 0);
	for (int i = 0; i < 6; i++) {
		if (i == 1 || i == 3)
			continue;
		double d = counts[i] - NSEL / 4.0;

		chi2 += d * d / (NSEL / 4.0);
	}
	if (chi2 >= 40)
		ck_abort_msg("chi-square %.1f: counts %d %d %d %d", chi2,
		    counts[0], counts[2], counts[4], counts[5]);
	expect_eq(goro_chan_len(s0), (size_t)counts[0]);
	expect_eq(goro_chan_len(r0), (size_t)(NSEL - counts[2]));
}

START_TEST(test_select_random)
{
	run(random_main, NULL);
}
END_TEST

/* ---- select time-outs -------------------------------------------------- */

static void
late_sender(void *arg)
{
	struct selargs *s = arg;

	goro_sleep(20 * MS);
	ck_assert_int_eq(goro_chan_send(s->a, &s->v), 0);
	goro_wg_done(&s->wg);
}

static void
timeout_main(void *arg)
{
	struct selargs s = { .wg = GORO_WG_INIT };
	goro_case_t k[2];
	int x;
	int64_t t0, dt;

	(void)arg;
	s.a = goro_chan_make(sizeof(int), 0);
	s.b = goro_chan_make(sizeof(int), 4);
	k[0] = (goro_case_t){ s.a, GORO_RECV, &x, 0 };
	k[1] = (goro_case_t){ s.b, GORO_RECV, &x, 0 };

	/* Nothing comes: ETIMEDOUT after the time-out, not much later. */
	t0 = goro_now();
	ERRNO = 0;
	ck_assert_int_eq(goro_select(k, 2, 50 * MS), -1);
	ck_assert_int_eq(ERRNO, ETIMEDOUT);
	dt = goro_now() - t0;
	ck_assert_msg(dt >= 50 * MS && dt < 2000 * MS, "timed out after %lld ns",
	    (long long)dt);
	/* ... leaving no waiter behind. */
	ck_assert_int_eq(nwaiting(s.a, GORO_RECV), 0);
	ck_assert_int_eq(nwaiting(s.b, GORO_RECV), 0);
	ck_assert_int_eq(goro_chan_trysend(s.a, &x), -1);

	/* No case with a channel, and no case at all: a plain wait. */
	k[0].chan = k[1].chan = NULL;
	t0 = goro_now();
	ck_assert_int_eq(goro_select(k, 2, 20 * MS), -1);
	ck_assert_int_eq(ERRNO, ETIMEDOUT);
	ck_assert_int_ge(goro_now() - t0, 20 * MS);
	t0 = goro_now();
	ck_assert_int_eq(goro_select(NULL, 0, 20 * MS), -1);
	ck_assert_int_eq(ERRNO, ETIMEDOUT);
	ck_assert_int_ge(goro_now() - t0, 20 * MS);
	k[0].chan = s.a;
	k[1].chan = s.b;

	/* Something comes before a long time-out: no wait for the timer. */
	s.v = 21;
	goro_wg_add(&s.wg, 1);
	spawn(late_sender, &s);
	t0 = goro_now();
	ck_assert_int_eq(goro_select(k, 2, 10000 * MS), 0);
	dt = goro_now() - t0;
	ck_assert_int_eq(x, 21);
	ck_assert_msg(dt < 5000 * MS, "took %lld ns", (long long)dt);
	goro_wg_wait(&s.wg);

	/* Already ready: a time-out changes nothing. */
	ck_assert_int_eq(goro_chan_trysend(s.b, &(int){ 22 }), 0);
	ck_assert_int_eq(goro_select(k, 2, 1), 1);
	ck_assert_int_eq(x, 22);

	ck_assert_int_eq(goro_chan_free(s.a), 0);
	ck_assert_int_eq(goro_chan_free(s.b), 0);
}

START_TEST(test_select_timeout)
{
	run(timeout_main, NULL);
}
END_TEST

/*
 * Time-outs racing with wake-ups: short time-outs on both sides of a
 * stream of values on 2 Ps.  Every value must arrive exactly once and in
 * order, whichever of timer and channel wins each race.
 */
#define NRACE 20000

struct race {
	goro_chan_t *c;
	uint64_t seed;
	goro_wg_t wg;
	int64_t timeouts;
};

static void
race_producer(void *arg)
{
	struct race *r = arg;
	uint64_t seed = r->seed * 7 + 1;

	for (int i = 1; i <= NRACE; i++) {
		if (i % 2) {
			expect_eq(goro_chan_send(r->c, &i), 0);
			continue;
		}
		goro_case_t k = { r->c, GORO_SEND, &i, 0 };

		while (goro_select(&k, 1, 1 + rndn(&seed, 20000)) != 0)
			expect_eq(ERRNO, ETIMEDOUT);
	}
	goro_wg_done(&r->wg);
}

static void
race_main(void *arg)
{
	struct race r = { .seed = 12345, .wg = GORO_WG_INIT };
	goro_chan_t *other = goro_chan_make(sizeof(int), 0);
	int want = 1, v;

	(void)arg;
	goro_maxprocs(2);
	r.c = goro_chan_make(sizeof(int), (size_t)(uintptr_t)arg);
	goro_wg_add(&r.wg, 1);
	spawn(race_producer, &r);
	while (want <= NRACE) {
		goro_case_t k[2] = {
			{ other, GORO_RECV, &v, 0 },
			{ r.c, GORO_RECV, &v, 0 },
		};
		int s = goro_select(k, 2, 1 + rndn(&r.seed, 20000));

		if (s == -1) {
			expect_eq(ERRNO, ETIMEDOUT);
			r.timeouts++;
			continue;
		}
		expect_eq(s, 1);
		expect_eq(v, want);
		want++;
	}
	goro_wg_wait(&r.wg);
	expect_eq(nwaiting(r.c, GORO_RECV) + nwaiting(r.c, GORO_SEND), 0);
	expect_eq(nwaiting(other, GORO_RECV), 0);
	expect_eq(goro_chan_free(r.c), 0);
	expect_eq(goro_chan_free(other), 0);
}

START_TEST(test_select_timeout_races)
{
	run(race_main, (void *)(uintptr_t)(_i * 2));	/* capacity 0, 2 */
}
END_TEST

/* ---- randomized model test --------------------------------------------- */

/*
 * Random sequences of non-blocking operations on buffered channels of
 * random capacity and element size, checked step by step against a plain
 * array queue.  Seeded: a failure names its sequence and step.
 */
#define NSEQ 3000
#define MODELMAX 16

static void
model_main(void *arg)
{
	static const size_t sizes[] = { 0, 1, 4, 8, 24, 100 };
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	unsigned char buf[100];

	(void)arg;
	for (int seq = 0; seq < NSEQ; seq++) {
		size_t cap = rndn(&seed, MODELMAX + 1);
		size_t esz = sizes[rndn(&seed, 6)];
		goro_chan_t *c = goro_chan_make(esz, cap);
		int q[MODELMAX], head = 0, n = 0, next = 1, nops;
		bool closed = false;
		void *ep = esz ? buf : NULL;

		expect((c) != NULL);
		nops = 1 + (int)rndn(&seed, 80);
		for (int step = 0; step < nops; step++) {
			unsigned op = rndn(&seed, 100);
			int r, wanterr, e;

			ERRNO = 0;
			if (op < 40) {			/* send */
				fill(buf, esz, next);
				if (op < 30) {
					r = goro_chan_trysend(c, ep);
				} else {
					goro_case_t k = { c, GORO_SEND, ep, 0 };

					r = goro_select(&k, 1, 0);
					if (r == -1 && ERRNO == ETIMEDOUT)
						ERRNO = EAGAIN;
				}
				e = ERRNO;
				wanterr = closed ? EPIPE :
				    (size_t)n == cap ? EAGAIN : 0;
				if (wanterr == 0) {
					q[(head + n) % MODELMAX] = next++;
					n++;
				}
			} else if (op < 85) {		/* receive */
				int want = n ? q[head] : 0;
				bool discard = op >= 80;

				memset(buf, 0xa5, sizeof buf);
				if (op < 70) {
					r = goro_chan_tryrecv(c, discard ? NULL : ep);
				} else {
					goro_case_t k = { c, GORO_RECV, discard ? NULL : ep, 0 };

					r = goro_select(&k, 1, 0);
					if (r == -1 && ERRNO == ETIMEDOUT)
						ERRNO = EAGAIN;
					if (r == 0 && k.closed) {
						r = -1;
						ERRNO = EPIPE;
					}
				}
				e = ERRNO;
				wanterr = n ? 0 : closed ? EPIPE : EAGAIN;
				if (wanterr == 0) {
					if (!discard && !holds(buf, esz, want))
						ck_abort_msg("seq %d step %d: wrong "
						    "element", seq, step);
					head = (head + 1) % MODELMAX;
					n--;
				} else if (wanterr == EPIPE && !discard) {
					if (!untouched(buf, esz))
						ck_abort_msg("seq %d step %d: element "
						    "written", seq, step);
				}
			} else if (op < 97) {		/* len, cap */
				expect_eq(goro_chan_len(c), (size_t)n);
				expect_eq(goro_chan_cap(c), cap);
				continue;
			} else {			/* close */
				r = goro_chan_close(c);
				e = ERRNO;
				wanterr = closed ? EPIPE : 0;
				closed = true;
			}
			if (wanterr == 0 && r != 0)
				ck_abort_msg("seq %d step %d op %u: failed with "
				    "errno %d", seq, step, op, e);
			if (wanterr != 0 && (r != -1 || e != wanterr))
				ck_abort_msg("seq %d step %d op %u: got %d errno "
				    "%d, want errno %d", seq, step, op, r, e, wanterr);
		}
		expect_eq(goro_chan_len(c), (size_t)n);
		expect_eq(goro_chan_free(c), 0);
	}
}

START_TEST(test_model)
{
	run(model_main, NULL);
}
END_TEST

/* ---- producers and consumers on 2 Ps ------------------------------------ */

#define NPAIRS 16
#define NITEMS 20000

struct pc {
	goro_chan_t *c;
	int64_t sum;
	goro_wg_t *wg;
};

static void
producer(void *arg)
{
	struct pc *p = arg;

	for (int64_t i = 1; i <= NITEMS; i++)
		expect_eq(goro_chan_send(p->c, &i), 0);
	goro_wg_done(p->wg);
}

static void
consumer(void *arg)
{
	struct pc *p = arg;
	int64_t v;

	/* until the channel is closed and drained */
	while (goro_chan_recv(p->c, &v) == 0)
		p->sum += v;
	expect_eq(ERRNO, EPIPE);
	goro_wg_done(p->wg);
}

/* A consumer that also watches a quit channel that never fires. */
static void
select_consumer(void *arg)
{
	struct pc *p = arg;
	goro_chan_t *quit = goro_chan_make(0, 0);
	int64_t v;

	for (;;) {
		goro_case_t k[2] = {
			{ quit, GORO_RECV, NULL, 0 },
			{ p->c, GORO_RECV, &v, 0 },
		};
		int r = goro_select(k, 2, -1);

		expect_eq(r, 1);
		if (k[1].closed)
			break;
		p->sum += v;
	}
	goro_chan_free(quit);
	goro_wg_done(p->wg);
}

static void
prodcons_main(void *arg)
{
	int64_t quantum = (int64_t)(intptr_t)arg;
	goro_wg_t pwg = GORO_WG_INIT, cwg = GORO_WG_INIT;
	struct pc prod[NPAIRS], cons[NPAIRS];
	const int64_t each = (int64_t)NITEMS * (NITEMS + 1) / 2;

	goro_maxprocs(2);
	if (quantum > 0)
		ck_assert_int_eq(goro_set_quantum(quantum), 0);

	/* 16 pairs, each on its own channel of capacity 0..3. */
	goro_wg_add(&pwg, NPAIRS);
	goro_wg_add(&cwg, NPAIRS);
	for (int i = 0; i < NPAIRS; i++) {
		goro_chan_t *c = goro_chan_make(sizeof(int64_t), (size_t)(i % 4));

		prod[i] = (struct pc){ .c = c, .wg = &pwg };
		cons[i] = (struct pc){ .c = c, .wg = &cwg };
		spawn(i % 3 ? consumer : select_consumer, &cons[i]);
		spawn(producer, &prod[i]);
	}
	goro_wg_wait(&pwg);
	for (int i = 0; i < NPAIRS; i++)
		ck_assert_int_eq(goro_chan_close(prod[i].c), 0);
	goro_wg_wait(&cwg);
	for (int i = 0; i < NPAIRS; i++) {
		ck_assert_int_eq(cons[i].sum, each);
		ck_assert_int_eq(goro_chan_free(cons[i].c), 0);
	}

	/* 16 producers and 16 consumers all on one unbuffered channel. */
	goro_chan_t *c = goro_chan_make(sizeof(int64_t), 0);
	int64_t total = 0;

	goro_wg_add(&pwg, NPAIRS);
	goro_wg_add(&cwg, NPAIRS);
	for (int i = 0; i < NPAIRS; i++) {
		prod[i] = (struct pc){ .c = c, .wg = &pwg };
		cons[i] = (struct pc){ .c = c, .wg = &cwg };
		spawn(i % 3 ? consumer : select_consumer, &cons[i]);
		spawn(producer, &prod[i]);
	}
	goro_wg_wait(&pwg);
	ck_assert_int_eq(goro_chan_close(c), 0);
	goro_wg_wait(&cwg);
	for (int i = 0; i < NPAIRS; i++)
		total += cons[i].sum;
	ck_assert_int_eq(total, each * NPAIRS);
	ck_assert_int_eq(goro_chan_free(c), 0);
}

START_TEST(test_prodcons)
{
	run(prodcons_main, NULL);
}
END_TEST

START_TEST(test_prodcons_preempt)
{
	/* 100 µs time slices: preemption lands while channels are busy. */
	run(prodcons_main, (void *)(intptr_t)100000);
}
END_TEST

/* ---- global deadlock ---------------------------------------------------- */

/*
 * Run fn as goro_run's main G in a forked child whose stderr goes to a
 * pipe; return the child's wait status and what it wrote.  The child
 * kills itself with SIGALRM after 20 s, so a missed deadlock fails the
 * test instead of hanging it.
 */
static int
run_child(void (*fn)(void *), char *out, size_t outlen)
{
	int fds[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		close(fds[1]);
		alarm(20);
		_exit(goro_run(fn, NULL) == 0 ? 0 : 3);
	}
	close(fds[1]);
	while (n + 1 < outlen && (r = read(fds[0], out + n, outlen - 1 - n)) != 0) {
		if (r < 0) {
			ck_assert_int_eq(ERRNO, EINTR);
			continue;
		}
		n += (size_t)r;
	}
	out[n] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		ck_assert_int_eq(ERRNO, EINTR);
	return status;
}

static goro_chan_t *dl_chan[4];

static void
dl_recv(void *arg)
{
	goro_chan_recv(arg, NULL);
}

static void
dl_send(void *arg)
{
	int v = 1;

	goro_chan_send(arg, &v);
}

static void
dl_select(void *arg)
{
	int v;
	goro_case_t k[2] = {
		{ dl_chan[0], GORO_RECV, &v, 0 },
		{ dl_chan[1], GORO_SEND, &v, 0 },
	};

	goro_select(k, 2, -1);
}

/* Every G blocked on a channel. */
static void
deadlock_chans(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++)
		dl_chan[i] = goro_chan_make(sizeof(int), 0);
	goro_go(dl_recv, dl_chan[0]);
	goro_go(dl_send, dl_chan[1]);
	goro_go(dl_select, NULL);
	goro_sleep(10 * MS);
	goro_chan_recv(dl_chan[2], NULL);
}

/* select {} */
static void
deadlock_nocases(void *arg)
{
	(void)arg;
	goro_go(dl_recv, goro_chan_make(0, 1));
	goro_select(NULL, 0, -1);
}

static void
sleep_then_send(void *arg)
{
	goro_sleep(200 * MS);
	goro_chan_send(arg, NULL);
}

static void
syscall_then_send(void *arg)
{
	struct timespec ts = { 0, 200 * MS };

	goro_syscall_enter();
	nanosleep(&ts, NULL);
	goro_syscall_exit();
	goro_chan_send(arg, NULL);
}

/* Blocked, but a sleeping G will wake us: no deadlock. */
static void
nodeadlock_sleep(void *arg)
{
	goro_chan_t *c = goro_chan_make(0, 0);

	(void)arg;
	goro_go(sleep_then_send, c);
	goro_chan_recv(c, NULL);
}

/* Blocked, but a G in a system call will wake us: no deadlock. */
static void
nodeadlock_syscall(void *arg)
{
	goro_chan_t *c = goro_chan_make(0, 0);

	(void)arg;
	goro_go(syscall_then_send, c);
	goro_chan_recv(c, NULL);
}

static const char deadlock_msg[] =
    "fatal error: all goroutines are asleep - deadlock!";

START_TEST(test_deadlock_reported)
{
	static const struct {
		void (*fn)(void *);
		const char *gs[4];	/* lines the report must contain */
	} cases[] = {
		{ deadlock_chans, { "goroutine 1 [chan receive]:",
		    "[chan receive]:", "[chan send]:", "[select]:" } },
		{ deadlock_nocases, { "goroutine 1 [select (no cases)]:",
		    "[chan receive]:", NULL, NULL } },
	};
	char out[8192];
	int status = run_child(cases[_i].fn, out, sizeof out);

	ck_assert_msg(WIFEXITED(status), "child did not exit (signal %d): %s",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0, out);
	ck_assert_int_eq(WEXITSTATUS(status), 2);
	ck_assert_msg(strncmp(out, deadlock_msg, sizeof deadlock_msg - 1) == 0,
	    "stderr: %s", out);
	for (int i = 0; i < 4 && cases[_i].gs[i] != NULL; i++)
		ck_assert_msg(strstr(out, cases[_i].gs[i]) != NULL,
		    "no \"%s\" in: %s", cases[_i].gs[i], out);
}
END_TEST

START_TEST(test_deadlock_not_reported)
{
	void (*fns[])(void *) = { nodeadlock_sleep, nodeadlock_syscall };
	char out[8192];
	int status = run_child(fns[_i], out, sizeof out);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x: %s", status, out);
	ck_assert_msg(strstr(out, "deadlock") == NULL, "stderr: %s", out);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

int
main(void)
{
	Suite *s = suite_create("chan");

	tcase(s, "semantics", test_semantics_table, 0,
	    (int)(sizeof semantics / sizeof semantics[0]), 10);
	tcase(s, "unbuffered handoff", test_unbuffered_handoff, 0, 1, 10);
	tcase(s, "FIFO waiters", test_fifo_waiters, 0, 2, 10);
	tcase(s, "elem_size 0", test_elemsize0, 0, 1, 10);
	tcase(s, "errors", test_errors, 0, 1, 10);
	tcase(s, "outside a goroutine", test_outside_goroutine, 0, 1, 10);
	tcase(s, "close wakes all", test_close_wakes_all, 0, 3, 20);
	tcase(s, "select", test_select_basic, 0, 1, 10);
	tcase(s, "select many cases", test_select_many_cases, 0, 1, 10);
	tcase(s, "select random", test_select_random, 0, 1, 20);
	tcase(s, "select time-out", test_select_timeout, 0, 1, 20);
	tcase(s, "select time-out races", test_select_timeout_races, 0, 2, 60);
	tcase(s, "model", test_model, 0, 1, 30);
	tcase(s, "producers/consumers", test_prodcons, 0, 1, 60);
	tcase(s, "producers/consumers, 100us quantum", test_prodcons_preempt,
	    0, 1, 60);
	tcase(s, "deadlock reported", test_deadlock_reported, 0, 2, 30);
	tcase(s, "deadlock not reported", test_deadlock_not_reported, 0, 2, 30);

	return goro_test_main(s);
}
