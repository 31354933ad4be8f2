# A worker that counts every signal 40 (a real-time signal: deliveries
# queue, none merges with another) that each of its processes receives:
# the main process, a child in its process group and a grandchild that left
# it with setsid. Each appends "ready" and then one "sig" line per delivery
# to $OUT_DIR/sig.<role>; they run until SIGKILL.
import os
import signal
import time

role = "main"
if os.fork() == 0:
    role = "child"
    if os.fork() == 0:
        role = "escaped"
        os.setsid()
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
signal.signal(40, lambda *_: None)
with open(os.path.join(os.environ["OUT_DIR"], "sig." + role), "a", buffering=1) as f:
    f.write("ready\n")
    while True:
        for _ in os.read(r, 64):
            f.write("sig\n")
