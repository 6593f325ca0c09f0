"""A bridge with hosts, talked to by many threads at once."""

from __future__ import annotations

import threading

from _farm import echo, echo_server

from netns_fast.pytest_plugin import NetnsFactory

HOSTS = 6


def test_hosts_on_a_bridge_reach_each_other_from_threads(
    netns_factory: NetnsFactory,
) -> None:
    """Every host echoes with every other host across a bridge, threaded."""
    sw = netns_factory()
    hosts = []
    for k in range(HOSTS):
        h = netns_factory()
        h.veth(sw, "eth0", f"p{k}")
        h.addr_add("eth0", f"10.1.0.{k + 1}/24")
        hosts.append(h)
    sw.bridge("br0", ports=[f"p{k}" for k in range(HOSTS)])
    servers = [echo_server(h, f"10.1.0.{k + 1}") for k, h in enumerate(hosts)]
    failures: list[BaseException] = []

    def client(k: int) -> None:
        try:
            for j, (_, port) in enumerate(servers):
                if j != k:
                    msg = f"{k}->{j}".encode()
                    got = echo(hosts[k], f"10.1.0.{j + 1}", port, msg)
                    assert got == msg
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [
        threading.Thread(target=client, args=(k,)) for k in range(HOSTS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for srv, _ in servers:
        srv.close()
    assert not failures, failures
