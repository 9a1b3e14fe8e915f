"""Runs `heroku login -i` on a pseudo-terminal and answers its prompts.

The CLI reads the password in raw mode, so it needs a TTY: piped input ends
the command without logging in. Usage: pty_login.py HEROKU_BIN EMAIL PASSWORD.
Prints everything the CLI wrote and exits with its exit code. Gives up after
60 seconds.
"""

import os
import pty
import select
import sys
import time

DEADLINE = time.monotonic() + 60


def read_until(fd, transcript, needle):
    while needle not in transcript[0]:
        if not read_some(fd, transcript):
            return False
    return True


def read_some(fd, transcript):
    remaining = DEADLINE - time.monotonic()
    if remaining <= 0:
        return False
    ready, _, _ = select.select([fd], [], [], remaining)
    if not ready:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        return False
    if not data:
        return False
    transcript[0] += data.decode("utf-8", "replace")
    return True


def main():
    heroku, email, password = sys.argv[1:4]
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(heroku, [heroku, "login", "-i"])
    transcript = [""]
    if read_until(fd, transcript, "Email"):
        os.write(fd, (email + "\r").encode())
        if read_until(fd, transcript, "Password"):
            os.write(fd, (password + "\r").encode())
    while read_some(fd, transcript):
        pass
    if time.monotonic() >= DEADLINE:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(transcript[0])
    sys.exit(os.waitstatus_to_exitcode(status))


main()
