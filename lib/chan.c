/*
 * chan.c - channels: send, receive, close (Go's chan.go).
 *
 * A channel is a lock, a ring buffer of `dataqsiz` elements and two FIFO
 * queues of parked Gs, one of senders and one of receivers (chan.h).  An
 * operation takes the lock and either completes at once or enqueues the G
 * and parks it; the G that completes the operation later does all the
 * work for the parked one — copies the value, marks the sudog — and only
 * then readies it, so a woken G never needs the lock again.
 *
 * The value goes straight from one G to the other whenever it can: a send
 * that finds a receiver waiting copies from the sender's element into the
 * receiver's, and a receive that finds a sender waiting copies the other
 * way (on a full buffered channel it takes the oldest element and puts the
 * sender's in its slot, which keeps FIFO order).  Only a send with no
 * receiver waiting goes through the ring.  This is what makes an
 * unbuffered ping-pong cost two context switches and four short critical
 * sections per round trip, and nothing more.
 *
 * A waiting G's sudog lives in the frame of the operation that parked it:
 * it cannot outlive the wait, since the G only returns once someone has
 * dequeued it and readied it.  Go keeps a per-P cache of heap sudogs
 * because a Go stack can move; a goro stack never moves, so there is no
 * allocation on any path but goro_chan_make and large selects.
 *
 * Waiters are readied after the channel lock is dropped: the dequeued
 * sudog belongs to the waker until goro__ready(), and goro__ready() may
 * take scheduler locks and wake an idle M, which should not stretch the
 * channel's critical section.  A sender readies its receiver into
 * runnext, as Go does: on one P the pair then runs back to back.
 *
 * Rejected: lock-free channels (the queue of parked Gs still needs a lock,
 * and the uncontended lock is two atomic operations), and a lock-free
 * ring for buffered channels (Go rejected it too; the win is small next
 * to the park and wake-up).  What is lock-free is the failure of a
 * non-blocking operation (see chansend), so that polling a quiet channel
 * does not contend with the Gs using it.
 */
#include <stdlib.h>
#include <string.h>

#include "chan.h"

/* Header size rounded up so that the ring starts on a 16-byte boundary. */
#define HCHANSIZE ((sizeof(struct goro_chan) + 15) & ~(size_t)15)

GORO__EXPORT goro_chan_t *
goro_chan_make(size_t elem_size, size_t capacity)
{
	goro_chan_t *c;
	size_t bufsize;

	if (__builtin_mul_overflow(elem_size, capacity, &bufsize) ||
	    bufsize > (size_t)PTRDIFF_MAX - HCHANSIZE) {
		errno = EINVAL;
		return NULL;
	}
	if ((c = malloc(HCHANSIZE + bufsize)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	memset(c, 0, sizeof *c);
	c->dataqsiz = capacity;
	c->elemsize = elem_size;
	c->buf = (unsigned char *)c + HCHANSIZE;
	return c;
}

/*
 * Whether a send would block: no receiver waiting (unbuffered) or no room
 * (buffered).  One word-sized atomic read of state that only changes under
 * the lock.  The loads of chanfull, chanempty and chanclosed are
 * sequentially consistent so that the try fast paths read them in program
 * order (on x86-64 they are plain loads).
 */
static inline bool
chanfull(goro_chan_t *c)
{
	if (c->dataqsiz == 0)
		return __atomic_load_n(&c->recvq.first, __ATOMIC_SEQ_CST) == NULL;
	return __atomic_load_n(&c->qcount, __ATOMIC_SEQ_CST) == c->dataqsiz;
}

/* Whether a receive would block, likewise. */
static inline bool
chanempty(goro_chan_t *c)
{
	if (c->dataqsiz == 0)
		return __atomic_load_n(&c->sendq.first, __ATOMIC_SEQ_CST) == NULL;
	return __atomic_load_n(&c->qcount, __ATOMIC_SEQ_CST) == 0;
}

static inline bool
chanclosed(goro_chan_t *c)
{
	return __atomic_load_n(&c->closed, __ATOMIC_SEQ_CST) != 0;
}

/*
 * Send *ep on c; block: wait if need be (goro_chan_send), or fail with
 * EAGAIN (goro_chan_trysend).  Returns 0, or -1 with errno EPIPE (closed),
 * EAGAIN, or EPERM (would wait, and the caller is not a goroutine).
 */
static inline __attribute__((always_inline)) int
chansend(goro_chan_t *c, const void *ep, bool block)
{
	goro__sudog_t *sg;
	g_t *gp;

	/*
	 * A try fails without the lock when it reads "full", then "open": a
	 * channel never reopens, so it was open at the first read too, and
	 * at that instant the send could not proceed.  (The other order
	 * could straddle a close, which makes an unbuffered channel "full"
	 * by sending its receivers away: neither EAGAIN nor success would
	 * then be true of any instant.)
	 */
	if (!block && chanfull(c) && !chanclosed(c)) {
		errno = EAGAIN;
		return -1;
	}

	goro__lock(&c->lock);
	if (c->closed) {
		goro__unlock(&c->lock);
		errno = EPIPE;
		return -1;
	}
	if ((sg = waitq_dequeue(&c->recvq)) != NULL) {
		g_t *rg = chan_sendsg(c, sg, ep);

		goro__unlock(&c->lock);
		goro__ready(rg, true);
		return 0;
	}
	if (c->qcount < c->dataqsiz) {
		chan_bufsend(c, ep);
		goro__unlock(&c->lock);
		return 0;
	}
	if (!block || (gp = getg()) == NULL) {
		goro__unlock(&c->lock);
		errno = block ? EPERM : EAGAIN;
		return -1;
	}

	/* Park until a receiver takes *ep, or close fails us. */
	goro__sudog_t mysg = {
		.g = gp, .elem = (void *)ep, .c = c,
		.success = false, .isselect = false,
	};
	gp->waiting = &mysg;
	waitq_enqueue(&c->sendq, &mysg);
	goro__park(&c->lock, WAIT_CHAN_SEND);
	if (gp->waiting != &mysg)
		goro__throw("chansend: G waiting list is corrupted");
	gp->waiting = NULL;
	if (!mysg.success) {
		if (!chanclosed(c))
			goro__throw("chansend: spurious wake-up");
		goro__set_errno(EPIPE);	/* maybe on another M: not errno = */
		return -1;
	}
	return 0;
}

/*
 * Receive from c into *ep (NULL: discard); block as for chansend.
 * Returns 0, or -1 with errno EPIPE (closed and drained; *ep untouched),
 * EAGAIN or EPERM.
 */
static inline __attribute__((always_inline)) int
chanrecv(goro_chan_t *c, void *ep, bool block)
{
	goro__sudog_t *sg;
	g_t *gp;

	/*
	 * A try fails without the lock when it reads "empty", then "open",
	 * for the same reason as in chansend.  If it reads "closed" instead,
	 * a send may have slipped in before the close: empty once more
	 * means closed and drained (nothing fills a closed channel).
	 */
	if (!block && chanempty(c)) {
		if (!chanclosed(c)) {
			errno = EAGAIN;
			return -1;
		}
		if (chanempty(c)) {
			errno = EPIPE;
			return -1;
		}
	}

	goro__lock(&c->lock);
	if (c->closed) {
		if (c->qcount == 0) {
			goro__unlock(&c->lock);
			errno = EPIPE;
			return -1;
		}
		/* closed with elements left: drain them first */
	} else if ((sg = waitq_dequeue(&c->sendq)) != NULL) {
		g_t *sgp = chan_recvsg(c, sg, ep);

		goro__unlock(&c->lock);
		goro__ready(sgp, true);
		return 0;
	}
	if (c->qcount > 0) {
		chan_bufrecv(c, ep);
		goro__unlock(&c->lock);
		return 0;
	}
	if (!block || (gp = getg()) == NULL) {
		goro__unlock(&c->lock);
		errno = block ? EPERM : EAGAIN;
		return -1;
	}

	/* Park until a sender fills *ep, or close sends us away. */
	goro__sudog_t mysg = {
		.g = gp, .elem = ep, .c = c,
		.success = false, .isselect = false,
	};
	gp->waiting = &mysg;
	waitq_enqueue(&c->recvq, &mysg);
	goro__park(&c->lock, WAIT_CHAN_RECV);
	if (gp->waiting != &mysg)
		goro__throw("chanrecv: G waiting list is corrupted");
	gp->waiting = NULL;
	if (!mysg.success) {
		goro__set_errno(EPIPE);	/* closed; maybe on another M */
		return -1;
	}
	return 0;
}

static inline bool
badsend(goro_chan_t *c, const void *elem)
{
	return c == NULL || (elem == NULL && c->elemsize != 0);
}

GORO__EXPORT int
goro_chan_send(goro_chan_t *c, const void *elem)
{
	if (unlikely(badsend(c, elem))) {
		errno = EINVAL;
		return -1;
	}
	return chansend(c, elem, true);
}

GORO__EXPORT int
goro_chan_trysend(goro_chan_t *c, const void *elem)
{
	if (unlikely(badsend(c, elem))) {
		errno = EINVAL;
		return -1;
	}
	return chansend(c, elem, false);
}

GORO__EXPORT int
goro_chan_recv(goro_chan_t *c, void *elem)
{
	if (unlikely(c == NULL)) {
		errno = EINVAL;
		return -1;
	}
	return chanrecv(c, elem, true);
}

GORO__EXPORT int
goro_chan_tryrecv(goro_chan_t *c, void *elem)
{
	if (unlikely(c == NULL)) {
		errno = EINVAL;
		return -1;
	}
	return chanrecv(c, elem, false);
}

/*
 * Close c: every waiting receiver gets EPIPE, its element untouched (none
 * waits while elements are buffered); every waiting sender gets EPIPE.
 * The woken Gs are chained through their sudogs' next fields — they are
 * ours until readied — and readied once the lock is dropped.
 */
GORO__EXPORT int
goro_chan_close(goro_chan_t *c)
{
	goro__sudog_t *list = NULL, **tail = &list, *sg;

	if (c == NULL) {
		errno = EINVAL;
		return -1;
	}
	goro__lock(&c->lock);
	if (c->closed) {
		goro__unlock(&c->lock);
		errno = EPIPE;
		return -1;
	}
	__atomic_store_n(&c->closed, 1, __ATOMIC_SEQ_CST);

	while ((sg = waitq_dequeue(&c->recvq)) != NULL) {
		sg->elem = NULL;
		sg->success = false;
		*tail = sg;
		tail = &sg->next;
	}
	while ((sg = waitq_dequeue(&c->sendq)) != NULL) {
		sg->elem = NULL;
		sg->success = false;
		*tail = sg;
		tail = &sg->next;
	}
	*tail = NULL;
	goro__unlock(&c->lock);

	while (list != NULL) {
		/* Once readied, the G may return and its sudog vanish. */
		g_t *gp = list->g;

		sg = list;
		list = sg->next;
		sg->next = NULL;
		goro__ready(gp, false);
	}
	return 0;
}

/*
 * Free c.  A channel with parked Gs is refused (EBUSY); one that some G
 * is still about to use is the caller's bug, as with free(3).
 */
GORO__EXPORT int
goro_chan_free(goro_chan_t *c)
{
	bool busy;

	if (c == NULL) {
		errno = EINVAL;
		return -1;
	}
	goro__lock(&c->lock);
	busy = c->recvq.first != NULL || c->sendq.first != NULL;
	goro__unlock(&c->lock);
	if (busy) {
		errno = EBUSY;
		return -1;
	}
	free(c);
	return 0;
}

/* Elements buffered, a snapshot as Go's len(c); 0 (EINVAL) for NULL. */
GORO__EXPORT size_t
goro_chan_len(const goro_chan_t *c)
{
	if (c == NULL) {
		errno = EINVAL;
		return 0;
	}
	return __atomic_load_n(&c->qcount, __ATOMIC_RELAXED);
}

GORO__EXPORT size_t
goro_chan_cap(const goro_chan_t *c)
{
	if (c == NULL) {
		errno = EINVAL;
		return 0;
	}
	return c->dataqsiz;
}
