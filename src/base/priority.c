#include "base/priority.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_bool enabled;

void priority_set_enabled(bool on)
{
    atomic_store(&enabled, on);
}

void priority_behind_loop(void)
{
    if (!atomic_load(&enabled)) return;
    /* The calling thread's policy (Linux: pid 0 is the thread); its nice stays as it is. */
    struct sched_param none = {0};
    (void)sched_setscheduler(0, SCHED_BATCH, &none);
}

void priority_background(void)
{
    if (!atomic_load(&enabled)) return;
    /* On Linux, PRIO_PROCESS with a thread id sets that thread's nice only. */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int now = getpriority(PRIO_PROCESS, tid);
    if (now == -1 && errno) return;
    int want = now + PRIORITY_BACKGROUND_NICE;
    if (want > 19) want = 19;
    (void)setpriority(PRIO_PROCESS, tid, want);
    priority_behind_loop();
}
