/* Scheduling priority of a thread: the threads that serve clients (the HTTP loop, the bus's
 * intake) keep the process's nice; the threads doing the work behind them (stores, command
 * workers, projector, password hashing) run in the background, at nice +PRIORITY_BACKGROUND_NICE
 * from the process's. When the CPU is short (overload), the loop still reads each request at once
 * and the API's admission door answers a refused one in the same turn, instead of both
 * waiting their turn among a dozen busy workers while the requests pile up unread in the sockets;
 * the admitted work goes on with what is left, which is nearly all of it (the loop's share is
 * small). When the CPU is not short, nice changes nothing. Not +19: it answered busy faster at
 * twice the capacity (p99 34-45 instead of 56-101 ms), but a bank sharing its session with
 * other busy programs (started from one shell, or by ctest) then starved its own projector (two
 * e2e tests saw transactions projected a second late; docs/benchmarks.md).
 *
 * Nice weighs threads against the others of their scheduling group: with Linux's autogroup
 * (a session: a program started by a shell or a service manager) or a service's cgroup, that is
 * the bank's own threads, not other programs on the machine.
 *
 * Every thread behind the loop, the bus's intake included, also runs as SCHED_BATCH (same nice,
 * same share of the CPU): a thread the loop wakes does not preempt it on waking but runs when the
 * loop sleeps or its slice ends. Each request the loop hands over wakes a thread; as SCHED_OTHER
 * that thread took the loop's CPU at once (perf sched at 8,000/s offered: 3,700 preemptions of
 * the loop a second, about a fifth of its time off the CPU in the middle of a turn). */
#ifndef BASE_PRIORITY_H
#define BASE_PRIORITY_H

#include <stdbool.h>

#define PRIORITY_BACKGROUND_NICE 10

/* Whether priority_background acts, for the whole process (off until set): the program turns it
 * on where its loop and its workers share the CPU, i.e. where it serves HTTP clients. A process
 * of the split roles without the API (a command handler, a projector on NATS) has no loop to
 * yield to, and its workers in the background would yield to nats-server and the other roles run
 * from the same session (measured at nice +10: p99 at 1,000/s 158 -> 239 ms). */
void priority_set_enabled(bool on);

/* Lowers the calling thread's priority to the background's, when enabled: nice
 * +PRIORITY_BACKGROUND_NICE, SCHED_BATCH. A thread it starts inherits it. Best effort: logs
 * nothing and changes nothing where the system refuses. */
void priority_background(void);

/* For a thread behind the loop that keeps the process's nice (the bus's intake): SCHED_BATCH
 * only, when enabled. Best effort, as priority_background. */
void priority_behind_loop(void);

#endif
