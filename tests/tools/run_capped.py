# SPDX-License-Identifier: MIT
# Runs a command with a memory and a time cap, for tests that feed connrec hostile input:
#   run_capped.py MAX_RSS_MB SECONDS COMMAND [ARGS...]
# Polls the command's resident memory every 20 ms; over MAX_RSS_MB, or still running after
# SECONDS, it is killed (-9) and this exits 125 ("over the memory cap") or 124 ("timed out")
# after saying so on stderr. Otherwise exits with the command's status (128+N for signal N).
# Prints "peak_rss_mb N" on stderr last either way.
import subprocess
import sys
import time

cap_mb, secs, cmd = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
p = subprocess.Popen(cmd)
peak = 0
deadline = time.monotonic() + secs
status = None
while status is None:
    try:
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    peak = max(peak, int(line.split()[1]) // 1024)
    except OSError:
        pass
    if peak > cap_mb:
        p.kill()
        p.wait()
        print("run_capped: over the memory cap (%d MB > %d MB)" % (peak, cap_mb), file=sys.stderr)
        status = 125
    elif time.monotonic() > deadline:
        p.kill()
        p.wait()
        print("run_capped: still running after %gs" % secs, file=sys.stderr)
        status = 124
    else:
        try:
            rc = p.wait(timeout=0.02)
            status = rc if rc >= 0 else 128 - rc
        except subprocess.TimeoutExpired:
            pass
print("peak_rss_mb %d" % peak, file=sys.stderr)
sys.exit(status)
