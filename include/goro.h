/*
 * goro.h - goroutines for C.
 *
 * The one public header of libgoro: the G-P-M scheduler of Go (work
 * stealing, a sysmon monitor thread, asynchronous preemption by SIGURG,
 * hand-off of processors blocked in system calls) for C programs.
 * See goro(7) for the model and one page per function family.
 *
 * Functions that can fail return -1 (or NULL) and set errno; nothing
 * aborts on bad input from the caller.  This header compiles alone under
 * -std=c99 -pedantic and from C++.
 */
#ifndef GORO_H
#define GORO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GORO_NORETURN __attribute__((noreturn))
#else
#define GORO_NORETURN
#endif

/* The largest value goro_maxprocs() and GOROMAXPROCS accept. */
#define GORO_MAXPROCS_LIMIT 256

/* The smallest stack a goroutine may ask for (goro_attr_t.stack_size). */
#define GORO_STACK_MIN (64 * 1024)

/* The stack a goroutine gets when it does not ask (address space). */
#define GORO_STACK_DEFAULT (256 * 1024)

/* ---- life cycle ------------------------------------------------------- */

int goro_run(void (*main_fn)(void *), void *arg);

/* ---- goroutines ------------------------------------------------------- */

typedef struct goro_attr {
	size_t stack_size;	/* 0: GORO_STACK_DEFAULT */
	const char *name;	/* shown by scheddetail and tracebacks; may be NULL */
} goro_attr_t;

int64_t goro_go(void (*fn)(void *), void *arg);
int64_t goro_go_attr(const goro_attr_t *attr, void (*fn)(void *), void *arg);
void goro_yield(void);
void goro_exit(void) GORO_NORETURN;
int64_t goro_self(void);
int goro_maxprocs(int n);

/* ---- time ------------------------------------------------------------- */

int64_t goro_now(void);
int goro_sleep(int64_t ns);

/* ---- preemption control ----------------------------------------------- */

int goro_set_quantum(int64_t ns);
int64_t goro_get_quantum(void);
void goro_preempt_off(void);
void goro_preempt_on(void);
void goro_lock_thread(void);
void goro_unlock_thread(void);

/*
 * Which loaded objects (shared libraries, the executable) hold code that
 * may be interrupted by asynchronous preemption.  `addr` is any address
 * inside the object; `preemptible` is 1 or 0.
 */
int goro_preemptible_object(const void *addr, int preemptible);

/* ---- system calls ----------------------------------------------------- */

void goro_syscall_enter(void);
void goro_syscall_exit(void);
void goro_syscall_enter_blocking(void);
/* goro_syscall_exit that never changes errno, even on misuse (GORO_SYSCALL). */
void goro_syscall_leave(void);

ssize_t goro_read(int fd, void *buf, size_t n);
ssize_t goro_write(int fd, const void *buf, size_t n);

/*
 * GORO_SYSCALL(expr): evaluate expr (a call that may block in the kernel)
 * between goro_syscall_enter() and goro_syscall_exit(), keeping the errno
 * expr left (also outside a goroutine, where the brackets only fail).
 * A GNU statement expression; its value is the value of expr.
 */
#if defined(__GNUC__)
#define GORO_SYSCALL(expr) __extension__ ({			\
	goro_syscall_enter();					\
	__typeof__(expr) goro_sc_r_ = (expr);			\
	goro_syscall_leave();					\
	goro_sc_r_;						\
})
#endif

/* ---- channels --------------------------------------------------------- */

typedef struct goro_chan goro_chan_t;

goro_chan_t *goro_chan_make(size_t elem_size, size_t capacity);
int goro_chan_send(goro_chan_t *c, const void *elem);
int goro_chan_recv(goro_chan_t *c, void *elem);
int goro_chan_trysend(goro_chan_t *c, const void *elem);
int goro_chan_tryrecv(goro_chan_t *c, void *elem);
int goro_chan_close(goro_chan_t *c);
int goro_chan_free(goro_chan_t *c);
size_t goro_chan_len(const goro_chan_t *c);
size_t goro_chan_cap(const goro_chan_t *c);

enum { GORO_SEND = 1, GORO_RECV = 2 };

typedef struct goro_case {
	goro_chan_t *chan;
	int op;		/* GORO_SEND or GORO_RECV */
	void *elem;
	int closed;	/* out: 1 when a receive case found the channel closed */
} goro_case_t;

int goro_select(goro_case_t *cases, size_t ncases, int64_t timeout_ns);

/* ---- synchronisation -------------------------------------------------- */

typedef struct goro_mutex {
	uint32_t state;		/* 0 unlocked, 1 locked, 2 locked with waiters */
	uint32_t lock;		/* spin lock guarding the wait list */
	void *head, *tail;	/* FIFO of waiting Gs */
} goro_mutex_t;

#define GORO_MUTEX_INIT { 0, 0, NULL, NULL }

void goro_mutex_init(goro_mutex_t *mu);
void goro_mutex_lock(goro_mutex_t *mu);
int goro_mutex_trylock(goro_mutex_t *mu);
void goro_mutex_unlock(goro_mutex_t *mu);

typedef struct goro_wg {
	int64_t counter;
	uint32_t lock;
	void *waiters;		/* list of Gs in goro_wg_wait */
} goro_wg_t;

#define GORO_WG_INIT { 0, 0, NULL }

void goro_wg_init(goro_wg_t *wg);
void goro_wg_add(goro_wg_t *wg, int64_t delta);
void goro_wg_done(goro_wg_t *wg);
void goro_wg_wait(goro_wg_t *wg);

/* ---- introspection ---------------------------------------------------- */

typedef struct goro_stats {
	int maxprocs, idleprocs, threads, spinningthreads, idlethreads;
	int64_t goroutines;		/* live (not dead) Gs */
	uint64_t runqueue;		/* Gs in the global run queue */
	uint64_t preempt_async;		/* Gs stopped by signal preemption */
	uint64_t preempt_deferred;	/* signals that found no safe point */
	uint64_t preempt_redirected;	/* preemptions taken on return from unsafe code */
	uint64_t handoffs;		/* Ps handed off from Ms in syscalls or unsafe code */
	uint64_t steals;		/* successful work steals */
	uint64_t switches;		/* G switches */
	uint64_t preempt_timer;		/* stop requests from slice timers (of preempt_async's) */
} goro_stats_t;

int goro_stats(goro_stats_t *out);
int64_t goro_cputime(void);
int goro_schedtrace(int fd, int detail);
int goro_traceback(int fd);

#ifdef __cplusplus
}
#endif

#endif /* GORO_H */
