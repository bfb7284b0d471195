"""Runs a command under a pseudo-terminal of a given size; prints a JSON summary of what it wrote.

usage: run_in_pty.py COLS TIMEOUT_S OUTFILE cmd args...
The child sees a TTY on stdin/stdout/stderr whose TIOCGWINSZ reports COLS columns (0 like CI
runners, `docker run -t` and `script -qc`). Output is capped: a runaway spinner is killed at the
timeout and its byte count still reported.
"""
import fcntl, json, os, pty, select, signal, struct, sys, termios, time

cols, timeout, outfile, cmd = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
total, kept, killed, start = 0, bytearray(), False, time.time()
CAP = 1 << 20
while True:
    if time.time() - start > timeout:
        os.kill(pid, signal.SIGKILL)
        killed = True
        break
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        continue
    try:
        data = os.read(fd, 65536)
    except OSError:
        break  # EIO: the child closed the terminal
    if not data:
        break
    total += len(data)
    if len(kept) < CAP:
        kept += data[: CAP - len(kept)]
_, status = os.waitpid(pid, 0)
with open(outfile, "wb") as f:
    f.write(kept)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
print(json.dumps({"bytes": total, "exitCode": code, "killed": killed}))
