/*
 * goro.c - the runtime as one translation unit.
 *
 * The files below are one concept each; they are compiled together so
 * that all of the runtime's C code lies between goro__text_begin and
 * goro__text_end, a single text range the SIGURG handler can test a PC
 * against even when libgoro is linked statically into the executable
 * (preempt.c).  Makefile.am compiles this with -fno-toplevel-reorder and
 * without function reordering, so nothing is moved out of the range.
 */
#define UNW_LOCAL_ONLY
#include "runtime.h"

__attribute__((noinline, used)) void goro__text_begin(void)
{
	__asm__ volatile("");
}

#include "lock.c"
#include "runq.c"
#include "proc.c"
#include "m.c"
#include "sched.c"
#include "run.c"
#include "stack.c"
#include "time.c"
#include "sync.c"
#include "api.c"
#include "debug.c"
#include "preempt.c"
#include "syscall.c"
#include "chan.c"
#include "select.c"
#include "../sysmon/sysmon.c"
#include "slicetimer.c"
#include "xsave.c"

__attribute__((noinline, used)) void goro__text_end(void)
{
	__asm__ volatile("");
}
