"""A real DNS server on 127.0.0.1:53 (dnslib) whose answers for one name change with every query,
as a rebinding attacker's would; used with a private mount namespace whose /etc/resolv.conf
points at it, so only the process under test asks it."""

from __future__ import annotations

import threading

from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSServer


class Rebinder(BaseResolver):
    def __init__(self, name: str, answers: list[str]) -> None:
        self.name = name.rstrip(".").lower()
        self.answers = answers
        self.asked: list[tuple[str, str]] = []  # (qtype, the address answered or "")
        self._lock = threading.Lock()

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            if qname == self.name and qtype == "A":
                address = self.answers[sum(1 for t, _ in self.asked if t == "A") % len(self.answers)]
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=0))
                self.asked.append((qtype, address))
            else:
                self.asked.append((qtype, ""))  # NOERROR, no records (AAAA and the rest)
        return reply

    def a_answers(self) -> list[str]:
        with self._lock:
            return [a for t, a in self.asked if t == "A"]


class RebindingDns:
    def __init__(self, name: str, answers: list[str], port: int = 53) -> None:
        self.resolver = Rebinder(name, answers)
        self.server = DNSServer(self.resolver, port=port, address="127.0.0.1")
        self.server.start_thread()

    def close(self) -> None:
        self.server.stop()
