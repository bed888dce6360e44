/*
 * run.c - the runtime's life: goro_run, changing the number of Ps, and
 * the teardown when the main G returns.
 *
 * goro_run makes M0 of the calling thread, allocates the Ps, starts
 * sysmon and one spare M, runs the main G, and returns once the main G
 * has returned and every other M it could stop has left.  Ps are never
 * freed while the runtime runs: shrinking marks the excess ones, which
 * their Ms drain and kill (or sysmon, for an M stuck in a syscall).
 *
 * Part of the runtime's single translation unit (goro.c).
 */

/* ---- Ps ------------------------------------------------------------------- */

static p_t *allocp(int id)
{
	p_t *p = goro__sched.allp[id];
	if (p == NULL) {
		p = calloc(1, sizeof *p);
		if (p == NULL)
			return NULL;
		p->id = id;
		goro__sched.allp[id] = p;
		if (id >= goro__sched.nallp)
			goro__sched.nallp = id + 1;
	}
	atomic_store(&p->status, P_IDLE);
	return p;
}

/*
 * Change the number of Ps while running.  Growing revives or creates Ps
 * and puts them on the idle list; shrinking marks the excess Ps so that
 * their Ms drain and kill them at their next scheduling point (the G
 * running there is asked to stop).  No stop-the-world is needed: Ps are
 * never freed, and a dead P's queues are empty.
 */
int goro__procresize(int n)
{
	goro__lock(&goro__sched.lock);
	int old = atomic_load(&goro__sched.gomaxprocs);
	if (n > old) {
		for (int i = old; i < n; i++) {
			p_t *p = goro__sched.allp[i];
			uint32_t st = p ? atomic_load(&p->status) : P_DEAD;
			if (p && st != P_DEAD)
				continue;	/* still draining from an earlier shrink */
			if (allocp(i) == NULL) {
				goro__unlock(&goro__sched.lock);
				errno = ENOMEM;
				return -1;
			}
			goro__pidleput(goro__sched.allp[i]);
		}
		atomic_store(&goro__sched.gomaxprocs, n);
	} else if (n < old) {
		atomic_store(&goro__sched.gomaxprocs, n);
		for (int i = n; i < old; i++) {
			p_t *p = goro__sched.allp[i];
			if (pidleremove(p)) {
				goro__movetimers(p, goro__sched.allp[0]);
				gfpurge_locked(p);
				atomic_store(&p->status, P_DEAD);
			} else if (p->m && p->m->curg) {
				atomic_store(&p->m->curg->preempt, true);
			}
		}
	}
	goro__unlock(&goro__sched.lock);
	if (n > old)
		for (int i = old; i < n; i++)
			goro__wakep();
	return old;
}

/* ---- start and stop ------------------------------------------------------- */

static void calibrate_tsc(void)
{
	int64_t t0 = goro__nanotime();
	uint64_t c0 = goro__cycles();
	while (goro__nanotime() - t0 < 2000000)
		;
	int64_t t1 = goro__nanotime();
	uint64_t c1 = goro__cycles();
	goro__sched.ns_per_cycle = (double)(t1 - t0) / (double)(c1 - c0);
}

int64_t goro__cycles2ns(uint64_t c)
{
	return (int64_t)((double)c * goro__sched.ns_per_cycle);
}

uint64_t goro__ns2cycles(int64_t ns)
{
	return (uint64_t)((double)ns / goro__sched.ns_per_cycle);
}

static int default_procs(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n > GORO_MAXPROCS_LIMIT ? GORO_MAXPROCS_LIMIT : n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (n > GORO_MAXPROCS_LIMIT ? GORO_MAXPROCS_LIMIT : (int)n) : 1;
}

/* M0's scheduler entry: run on the g0 carved below goro_run's frame. */
static void mstart0(void)
{
	m_t *m = goro__m;
	m->segstart = goro__cycles();
	schedule_loop();
}

/* Wait (a while) until at most `left` threads of the runtime remain. */
static void teardown_wait(int left)
{
	for (int i = 0; i < 500 && atomic_load(&mlive) > left; i++) {
		/* Wake idle Ms so they see exiting and leave. */
		goro__lock(&goro__sched.lock);
		m_t *m;
		while ((m = mget()) != NULL) {
			m->nextp = NULL;
			goro__notewakeup(&m->park);
		}
		goro__unlock(&goro__sched.lock);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* Free everything of a finished runtime, if no thread of it is left. */
static bool teardown(void)
{
	teardown_wait(0);
	if (atomic_load(&mlive) > 0)
		return false;	/* some M still runs an abandoned G */
	for (size_t i = 0; i < nallgs; i++) {
		goro__stackfree(allgs[i]);
		free(allgs[i]);
	}
	free(allgs);
	allgs = NULL;
	nallgs = capallgs = 0;
	for (int i = 0; i < goro__sched.nallp; i++) {
		goro__stackcache_free(goro__sched.allp[i]);
		free(goro__sched.allp[i]->timers);
		free(goro__sched.allp[i]);
	}
	for (m_t *m = goro__sched.allm, *next; m; m = next) {
		next = m->alllink;
		if (m != m0) {
			if (m->sigstack)
				goro__sigaltstack_free(m);
			free(m);
		}
	}
	return true;
}

static _Atomic int runstate;	/* 0 free, 1 running, 2 finished with stragglers */

int goro__run(void (*main_fn)(void *), void *arg)
{
	int zero = 0;
	if (!atomic_compare_exchange_strong(&runstate, &zero, 1)) {
		errno = EALREADY;
		return -1;
	}
	memset(&goro__sched, 0, sizeof goro__sched);
	mnext = 0;
	atomic_store(&mlive, 0);
	goro__sched.maxmcount = 10000;
	goro__sched.quantum = 10000000;
	calibrate_tsc();
	goro__sched.starttime = goro__nanotime();
	int procs = default_procs();
	goro__parse_env(&procs);
	goro__stack_siginit();
	goro__preempt_init();
	goro__theft_init();
	goro__sched.quantum_cycles = goro__ns2cycles(goro__sched.quantum);
	goro__sched.ms_cycles = goro__ns2cycles(1000000);

	for (int i = 0; i < procs; i++) {
		if (allocp(i) == NULL) {
			atomic_store(&runstate, 0);
			errno = ENOMEM;
			return -1;
		}
	}
	atomic_store(&goro__sched.gomaxprocs, procs);
	for (int i = procs - 1; i >= 1; i--)
		goro__pidleput(goro__sched.allp[i]);

	m_t *m = allocm();
	m0 = m;
	m->isM0 = true;
	atomic_store(&goro__sched.mcount, 1);
	stack_t oldss;
	sigaltstack(NULL, &oldss);
	minit(m);
	acquirep(goro__sched.allp[0]);
	atomic_store(&goro__sched.running, true);

	goro_attr_t attr = { 0, "main" };
	if (goro__newproc(&attr, main_fn, arg) < 0) {
		int e = errno;
		atomic_store(&runstate, 0);
		errno = e;
		return -1;
	}
	goro__sysmon_start();
	/*
	 * One spare M, idle from the start: the first syscall hand-off then
	 * costs a wake-up that overlaps the 20 us wait, not a thread start.
	 */
	newm(NULL, false);

	/* M0's g0: the stack below this frame, with room for the switch. */
	char *sp = (char *)__builtin_frame_address(0) - 8192;
	m->g0sp = (void *)((uintptr_t)sp & ~(uintptr_t)15);
	goro__ctx_t start;
	goro__ctx_make(&start, m->g0sp, mstart0);
	goro__ctx_switch(&m->g0ctx, &start);

	/*
	 * Back from schedexit: the main G has returned.  sysmon keeps
	 * preempting whatever still runs (sched.exiting), so the other Ms
	 * reach their scheduler and leave; then sysmon itself stops.
	 */
	teardown_wait(1);
	goro__sysmon_stop();
	atomic_store(&goro__sched.running, false);
	goro__m = NULL;
	sigaltstack(&oldss, NULL);
	if (m->sigstack)
		goro__sigaltstack_free(m);
	bool clean = teardown();
	goro__slicetimer_mexit(m);
	free(m);
	m0 = NULL;
	atomic_store(&runstate, clean ? 0 : 2);
	return 0;
}


/* ---- entry points for syscall.c and preempt.c ------------------------------- */

void goro__acquirep(p_t *p) { acquirep(p); }
p_t *goro__releasep(void) { return releasep(); }
void goro__execute(g_t *g, bool inherit) { execute(g, inherit); }
void goro__schedexit(void) { schedexit(goro__m); }

/* Park this M (no P held) until it is given one; then schedule. */
void goro__stopm_idle(void)
{
	stopm(0);
	schedule_loop();
}

void goro__mcall_fn(void (*fn)(g_t *))
{
	mcall(fn);
}

void *goro__gentry_addr(void)
{
	return (void *)gentry;
}

/*
 * After anything that may move the calling G to another thread, set errno
 * through this: out of line, so no &errno computed before the move (the
 * compiler may keep it: __errno_location is const) is reused after it.
 */
__attribute__((noinline)) void goro__set_errno(int e)
{
	errno = e;
}
