/*
 * demo.c - what goro does, in one run.
 *
 * 1. Spawns 100,000 goroutines on all CPUs and joins them with a wait group.
 * 2. Runs four call-free hogs per processor that never yield, next to a
 *    goroutine that sleeps 5 ms at a time: signal preemption keeps the
 *    sleeper on time and shares the CPU fairly among the hogs.
 * 3. Blocks a goroutine in a system call on one processor while another
 *    goroutine keeps running (hand-off).
 * Prints what happened and the runtime's counters.
 */
#include <goro.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_long counter;
static goro_wg_t wg = GORO_WG_INIT;

static void tiny(void *arg)
{
	(void)arg;
	atomic_fetch_add(&counter, 1);
	goro_wg_done(&wg);
}

#define NHOG 8
static volatile long hogcount[NHOG * 8];
static volatile int stop;

static void hog(void *arg)
{
	long i = (long)(intptr_t)arg;
	long n = 0;
	while (!stop) {		/* no calls, no yields: only preemption stops it */
		n++;
		hogcount[i * 8] = n;
	}
	goro_wg_done(&wg);
}

static int64_t late_max;

static void sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 40; i++) {
		int64_t want = goro_now() + 5000000;
		goro_sleep(5000000);
		int64_t late = goro_now() - want;
		if (late > late_max)
			late_max = late;
	}
	goro_wg_done(&wg);
}

static volatile int64_t b_ran_at;

static void blocker(void *arg)
{
	(void)arg;
	struct timespec ts = { 0, 50000000 };
	goro_syscall_enter();
	nanosleep(&ts, NULL);		/* 50 ms in the kernel, its processor handed off */
	goro_syscall_exit();
	goro_wg_done(&wg);
}

static void other(void *arg)
{
	(void)arg;
	b_ran_at = goro_now();
	goro_wg_done(&wg);
}

static void main_g(void *arg)
{
	(void)arg;
	int procs = goro_maxprocs(0);
	printf("goro demo: %d processors (GOROMAXPROCS to change)\n", procs);

	int64_t t0 = goro_now();
	goro_wg_add(&wg, 100000);
	for (int i = 0; i < 100000; i++)
		goro_go(tiny, NULL);
	goro_wg_wait(&wg);
	printf("1. spawned and joined 100000 goroutines in %.1f ms (counter=%ld)\n",
	    (goro_now() - t0) / 1e6, atomic_load(&counter));

	int nh = 4 * procs < NHOG ? 4 * procs : NHOG;
	goro_wg_add(&wg, nh + 1);
	for (long i = 0; i < nh; i++)
		goro_go(hog, (void *)(intptr_t)i);
	goro_go(sleeper, NULL);
	goro_sleep(1000000000);
	stop = 1;
	goro_wg_wait(&wg);
	long min = -1, max = 0;
	for (int i = 0; i < nh; i++) {
		long c = hogcount[i * 8];
		if (min < 0 || c < min)
			min = c;
		if (c > max)
			max = c;
	}
	printf("2. %d call-free hogs for 1 s: min/max iterations %.2f; a 5 ms sleeper "
	    "among them was at most %.2f ms late\n", nh, max ? (double)min / max : 0, late_max / 1e6);

	goro_maxprocs(1);
	int64_t t1 = goro_now();
	goro_wg_add(&wg, 2);
	goro_go(blocker, NULL);
	goro_go(other, NULL);
	goro_wg_wait(&wg);
	printf("3. on 1 processor, a goroutine blocked 50 ms in nanosleep; another ran "
	    "%.3f ms after it started\n", (b_ran_at - t1) / 1e6);
	goro_maxprocs(procs);

	goro_stats_t st;
	goro_stats(&st);
	printf("counters: switches=%" PRIu64 " steals=%" PRIu64 " preempt_async=%" PRIu64
	    " preempt_deferred=%" PRIu64 " handoffs=%" PRIu64 " threads=%d\n",
	    st.switches, st.steals, st.preempt_async, st.preempt_deferred, st.handoffs, st.threads);
}

int main(void)
{
	if (goro_run(main_g, NULL) != 0) {
		perror("goro_run");
		return 1;
	}
	return 0;
}
