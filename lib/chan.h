/*
 * chan.h - the inside of a channel, shared by chan.c and select.c.
 *
 * Go's hchan: a lock, a ring of elements and two queues of waiting Gs.
 * Only chan.c (single operations) and select.c (goro_select) look inside;
 * everything else in the runtime sees an opaque goro_chan_t.
 *
 * Invariants, all under c->lock, as in Go's chan.go.  They count only
 * sudogs that can still complete: a queue may also hold those of selects
 * already completed through another channel, until waitq_dequeue drops
 * them or their G takes them back.
 *
 *  - at least one of recvq and sendq is empty, except when one G waits in
 *    a goro_select with both a send and a receive case on the same
 *    unbuffered channel (it cannot complete with itself);
 *  - buffered: qcount > 0 implies recvq is empty (a receiver would have
 *    taken the element), and qcount < dataqsiz implies sendq is empty
 *    (a sender would have found room);
 *  - once closed, both queues are empty and stay so: close drains them,
 *    and nothing enqueues on a closed channel (a send fails, a receive
 *    completes);
 *  - a sudog on a queue lives on (or is owned by) a G that is parked or
 *    about to park; whoever dequeues it owns it until it readies that G.
 */
#ifndef GORO_CHAN_H
#define GORO_CHAN_H

#include <string.h>

#include "runtime.h"

/* FIFO of sudogs, linked through next/prev. */
typedef struct {
	goro__sudog_t *first;	/* read without the lock by the try fast paths */
	goro__sudog_t *last;
} goro__waitq_t;

struct goro_chan {
	goro__lock_t lock;	/* protects every field below except the immutable */

	/*
	 * Read without the lock by goro_chan_len and the failing fast paths
	 * of the try operations, so written with atomic stores (as are
	 * recvq.first and sendq.first); see chan.c's chansend.
	 */
	size_t qcount;		/* elements in buf */
	uint32_t closed;	/* 0 open, 1 closed; never goes back to 0 */

	size_t sendx;		/* ring slot the next buffered send writes */
	size_t recvx;		/* ring slot the next buffered receive reads */
	goro__waitq_t recvq;	/* Gs blocked receiving (or selecting to) */
	goro__waitq_t sendq;	/* Gs blocked sending (or selecting to) */

	/* Immutable after goro_chan_make. */
	size_t dataqsiz;	/* capacity: 0 unbuffered */
	size_t elemsize;	/* 0 for a signal-only channel */
	unsigned char *buf;	/* dataqsiz * elemsize bytes, after this struct */
};

static inline void *
chanbuf(goro_chan_t *c, size_t i)
{
	return c->buf + i * c->elemsize;
}

/* Append sg to q.  Channel lock held. */
static inline void
waitq_enqueue(goro__waitq_t *q, goro__sudog_t *sg)
{
	goro__sudog_t *x = q->last;

	sg->next = NULL;
	sg->prev = x;
	if (x == NULL)
		__atomic_store_n(&q->first, sg, __ATOMIC_RELAXED);
	else
		x->next = sg;
	q->last = sg;
}

/*
 * Take the first sudog of q that can still complete, or NULL.  Channel
 * lock held.
 *
 * A select G waits on several queues at once.  The first waker to flip
 * its g->selectdone from false to true owns it and records, in
 * g->waiting, the sudog through which it was claimed; a select claimed
 * elsewhere (another channel, its time-out) is dropped from this queue
 * and skipped, and takes its remaining sudogs off the other queues once
 * it runs.  A dropped sudog has next == prev == NULL and is not q->first,
 * which is how waitq_remove knows it is gone.
 */
static inline goro__sudog_t *
waitq_dequeue(goro__waitq_t *q)
{
	for (;;) {
		goro__sudog_t *sg = q->first, *y;

		if (sg == NULL)
			return NULL;
		y = sg->next;
		if (y == NULL) {
			__atomic_store_n(&q->first, NULL, __ATOMIC_RELAXED);
			q->last = NULL;
		} else {
			y->prev = NULL;
			__atomic_store_n(&q->first, y, __ATOMIC_RELAXED);
			sg->next = NULL;
		}
		if (sg->isselect) {
			bool no = false;

			if (!__atomic_compare_exchange_n(&sg->g->selectdone,
			    &no, true, false, __ATOMIC_ACQ_REL,
			    __ATOMIC_ACQUIRE))
				continue;
			sg->g->waiting = sg;
		}
		return sg;
	}
}

/*
 * Unlink sg from q if it is still there (Go's dequeueSudoG).  Channel
 * lock held.
 */
static inline void
waitq_remove(goro__waitq_t *q, goro__sudog_t *sg)
{
	goro__sudog_t *x = sg->prev, *y = sg->next;

	if (x != NULL) {
		x->next = y;
		if (y != NULL)
			y->prev = x;
		else
			q->last = x;
	} else if (y != NULL) {
		y->prev = NULL;
		__atomic_store_n(&q->first, y, __ATOMIC_RELAXED);
	} else if (q->first == sg) {
		__atomic_store_n(&q->first, NULL, __ATOMIC_RELAXED);
		q->last = NULL;
	}
	/* else: dropped by a waker that lost the race for its select */
	sg->next = sg->prev = NULL;
}

/*
 * Copy one element.  Channels of scalars are the common case: a fixed-size
 * copy compiles to one move, where memcpy(3) would be a call.
 */
static inline void
elemcopy(void *dst, const void *src, size_t n)
{
	if (n == 8)
		memcpy(dst, src, 8);
	else if (n == 4)
		memcpy(dst, src, 4);
	else if (n != 0)
		memcpy(dst, src, n);
}

/*
 * The steps of a send and a receive that select.c shares with chan.c.
 * Each is called with c->lock held and leaves it held.
 */

/* Put *ep in the ring; qcount < dataqsiz. */
static inline void
chan_bufsend(goro_chan_t *c, const void *ep)
{
	elemcopy(chanbuf(c, c->sendx), ep, c->elemsize);
	if (++c->sendx == c->dataqsiz)
		c->sendx = 0;
	__atomic_store_n(&c->qcount, c->qcount + 1, __ATOMIC_RELAXED);
}

/* Take the oldest element into *ep (NULL: drop it); qcount > 0. */
static inline void
chan_bufrecv(goro_chan_t *c, void *ep)
{
	if (ep != NULL)
		elemcopy(ep, chanbuf(c, c->recvx), c->elemsize);
	if (++c->recvx == c->dataqsiz)
		c->recvx = 0;
	__atomic_store_n(&c->qcount, c->qcount - 1, __ATOMIC_RELAXED);
}

/*
 * Complete the receive of sg, just dequeued from recvq, with *ep; return
 * the G to ready once the lock is dropped.  The receiver is parked, so its
 * element cannot go away: copy straight into it.  Any ring is empty here
 * (a receiver waits only on an empty channel), so nothing buffered is
 * overtaken.
 */
static inline g_t *
chan_sendsg(goro_chan_t *c, goro__sudog_t *sg, const void *ep)
{
	if (sg->elem != NULL)
		elemcopy(sg->elem, ep, c->elemsize);
	sg->elem = NULL;
	sg->success = true;
	return sg->g;
}

/*
 * Complete the send of sg, just dequeued from sendq, receiving into *ep
 * (NULL: drop); return the G to ready once the lock is dropped.
 * Unbuffered: copy straight from the parked sender.  Buffered: the ring
 * is full (a sender waits only then); take its oldest element and put the
 * sender's in the slot just freed, which is where the next send would go.
 */
static inline g_t *
chan_recvsg(goro_chan_t *c, goro__sudog_t *sg, void *ep)
{
	if (c->dataqsiz == 0) {
		if (ep != NULL)
			elemcopy(ep, sg->elem, c->elemsize);
	} else {
		void *qp = chanbuf(c, c->recvx);

		if (ep != NULL)
			elemcopy(ep, qp, c->elemsize);
		elemcopy(qp, sg->elem, c->elemsize);
		if (++c->recvx == c->dataqsiz)
			c->recvx = 0;
		c->sendx = c->recvx;
	}
	sg->elem = NULL;
	sg->success = true;
	return sg->g;
}

#endif /* GORO_CHAN_H */
