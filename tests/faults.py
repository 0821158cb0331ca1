"""Faults to test against: a TCP proxy between the client and the real dev chain that
drops the connection at the worst moment, or stops answering."""

from __future__ import annotations

import socket
import threading
import time


class FaultyProxy:
    """Forwards TCP between the client and the chain; can drop every connection when
    the chain first reports on a submitted transaction, or stop forwarding at all."""

    def __init__(self, upstream_port: int, port: int = 0):
        self.upstream = ("127.0.0.1", upstream_port)
        self.drop_on_submit = False
        self.frozen = False
        self.drops = 0
        self._server = socket.create_server(("127.0.0.1", port))  # 0: a free one
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_chain: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while self.frozen:
                    time.sleep(0.05)
                # The chain's first word on a watched transaction: it is in the pool (and,
                # on a dev chain that builds a block per transaction, in a block).
                if from_chain and self.drop_on_submit and b"author_extrinsicUpdate" in data:
                    self.drop_on_submit = False
                    self.drops += 1
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        """Stop: new connections are refused and open ones dropped (shut down, so that
        the ends waiting on them hear it at once)."""
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting on it
        except OSError:
            pass
        self._server.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
