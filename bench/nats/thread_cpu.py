#!/usr/bin/env python3
# CPU and context switches per thread name of running processes, over an interval: reads
# /proc/PID/task/*/{stat,status} twice and prints, per process, the CPU% (of one core) and the
# context switches per second of each thread name (threads of one name summed: xN). The bank's
# threads are named (ix-<store>, sub-<store>, js-acks, bus-serve, commands-N, projector, ...);
# libnats' own (socket readers, flushers, timers) are "bank". Figures only.
#
# usage: bench/nats/thread_cpu.py SECONDS NAME=PID[,NAME=PID...]
import collections
import os
import sys
import time


def snap(pids):
    d = {}
    for pid in pids:
        for tid in os.listdir(f'/proc/{pid}/task'):
            try:
                with open(f'/proc/{pid}/task/{tid}/stat') as f:
                    st = f.read()
                comm = st[st.index('(') + 1:st.rindex(')')]
                fields = st[st.rindex(')') + 2:].split()
                ticks = int(fields[11]) + int(fields[12])  # utime + stime
                cs = 0
                with open(f'/proc/{pid}/task/{tid}/status') as f:
                    for line in f:
                        if line.startswith(('voluntary_ctxt', 'nonvoluntary_ctxt')):
                            cs += int(line.split()[1])
                d[(pid, tid)] = (comm, ticks, cs)
            except (FileNotFoundError, ProcessLookupError):
                pass  # a thread that ended meanwhile
    return d, time.monotonic()


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: thread_cpu.py SECONDS NAME=PID[,NAME=PID...]')
    secs = float(sys.argv[1])
    procs = [p.split('=', 1) for p in sys.argv[2].split(',')]
    pids = [pid for _, pid in procs]
    hz = os.sysconf('SC_CLK_TCK')
    a, t0 = snap(pids)
    time.sleep(secs)
    b, t1 = snap(pids)
    elapsed = t1 - t0
    for name, pid in procs:
        by = collections.defaultdict(lambda: [0.0, 0.0, 0])
        cpu = cs = 0.0
        for key, (comm, ticks, switches) in b.items():
            if key[0] != pid or key not in a:
                continue
            dc = (ticks - a[key][1]) / hz / elapsed * 100
            dx = (switches - a[key][2]) / elapsed
            by[comm][0] += dc
            by[comm][1] += dx
            by[comm][2] += 1
            cpu += dc
            cs += dx
        print(f'== {name}: {cpu:.1f}% CPU, {cs:.0f} context switches/s')
        for comm, (c, x, n) in sorted(by.items(), key=lambda kv: -kv[1][0]):
            if c >= 1 or x >= 100:
                print(f'   {comm:16s} x{n:<3d} {c:5.1f}% {x:7.0f} cs/s')


main()
