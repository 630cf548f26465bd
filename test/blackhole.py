"""A TCP port on 127.0.0.1 where connecting hangs, for connect-timeout tests.

It listens with a backlog of 0 and fills that backlog with one connection
of its own that is never accepted, so the kernel drops further SYNs and a
client's connect() waits until its own timeout.  Prints the port, then
sleeps until killed (at most --seconds).
"""
import argparse
import os
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--seconds", type=float, default=3600)
    args = parser.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]

    filler = socket.create_connection(("127.0.0.1", port), timeout=5)

    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.replace(args.port_file + ".tmp", args.port_file)
    print(port, flush=True)
    time.sleep(args.seconds)
    filler.close()
    listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
