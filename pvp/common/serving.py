"""A waitress server in a thread that stops cleanly (the kiosk screen, test control planes)."""

from __future__ import annotations

import threading
from typing import Any

from waitress import wasyncore
from waitress.server import create_server


class ThreadedServer:
    def __init__(self, app: Any, host: str, port: int, threads: int = 4, name: str = "http"):
        # poll(), not waitress's default select(): select() raises "filedescriptor out of
        # range" once any descriptor of the process passes 1023, and the server dies.
        self.server: Any = create_server(
            app, host=host, port=port, threads=threads, asyncore_use_poll=True
        )
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def start(self) -> ThreadedServer:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        # Close from the server's own loop thread: closing its sockets from here races its
        # select() into EBADF. An empty socket map ends the loop. The trigger's lock is held
        # until the wake-up byte is written: a wake-up already on its way (a response just
        # finished) would otherwise run the thunk, close the trigger, and leave this write
        # to a closed descriptor (EBADF) or to whatever file reused its number.
        server = self.server
        trigger = server.trigger
        with trigger.lock:
            trigger.thunks.append(lambda: wasyncore.close_all(server._map))
            trigger._physical_pull()
        self.thread.join(timeout=timeout)
        server.task_dispatcher.shutdown()
