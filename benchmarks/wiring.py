"""Wiring: one wired test network per test, set up and torn down, every
rival side by side in one run.

The wired pair (2 fresh namespaces, a veth between them, an IPv4 /24 on
each end, both ends and both loopbacks up, then torn down), the rivals
interleaved cycle by cycle in one process (each round one cycle of each,
in a new shuffled order; the slow rivals every --slow-every rounds), so
that every rival meets the kernel's background teardown of the others'
namespaces alike (in blocks of 40 cycles per rival the same code measured
0.64x to 1.53x of itself from round to round):

- ``ip`` processes: ip netns add x2, ip link add eth0 netns A type veth
  peer name eth0 netns B, ip -n addr add / link set up x6, ip netns del x2
- pyroute2: netns.create x2, IPRoute(netns=) in each, netns.remove x2
- netns_fast handles + pyroute2 wiring: Netns.new() x2, an IPRoute made
  inside each (as the README shows), closed
- netns_fast API: Netns.new() x2 + a.veth(b, ..., addrs=...), closed
- netns_fast Topology: Topology.build() of the pair, Network.close()
- the bare C floor, compiled here (benchmarks/wire_floor.c, as a shared
  object whose floor_cycle() times one cycle itself, on this process's
  thread): unshare x2, one RTM_NEWLINK, then RTM_NEWADDR + RTM_NEWLINK up
  per end and per loopback, fds closed

Then the pre-wired pool (Pool(topology=pair)): acquire + release per test
around a simulated test body (--work ms, busy), so that its C threads can
stay ahead, with acquire's median and p90; the star (one bridge namespace
with 8 hosts on veths: ip processes, Topology.build, the pool); and the
sustained run: 5,000 pre-wired pair cycles with no test body, the
kernel's teardown backlog against the pool's bound
(max_pending + (size + outstanding) * nodes).

Goals: the API's wired pair <= 1.15x the C floor; the pre-wired pool's
acquire median <= 50 µs; the sustained run within the bound. Prints µs,
ratios and the goals' verdicts; --plot PATH draws docs/wiring.png.

Usage (root): python benchmarks/wiring.py [--quick] [--rounds R]
[--slow-every K] [--n POOL_CYCLES] [--work MS] [--cycles C]
[--plot docs/wiring.png]. It re-executes itself
in a private mount namespace (a tmpfs on /run/netns) and a fresh network
namespace, so nothing it makes is visible outside.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import random
import subprocess
import time
from collections.abc import Callable

from _bench import (
    busy,
    compile_c,
    isolate,
    median,
    quantile,
    settle,
    table,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ADDRS = ("10.0.0.1/24", "10.0.0.2/24")
Cycle = Callable[[int], float]
"""Runs cycle k of a rival; its µs."""


def timed(one: Callable[[int], None]) -> Cycle:
    """A rival whose cycle k is one(k), timed here."""

    def run(k: int) -> float:
        t0 = time.perf_counter()
        one(k)
        return (time.perf_counter() - t0) * 1e6

    return run


# -- the rivals of the wired pair ---------------------------------------------


def ip_pair(k: int) -> None:
    """The pair with ip processes."""
    a, b = f"ipa{k}", f"ipb{k}"
    cmds = [
        f"ip netns add {a}",
        f"ip netns add {b}",
        f"ip link add eth0 netns {a} type veth peer name eth0 netns {b}",
    ]
    for ns, cidr in ((a, ADDRS[0]), (b, ADDRS[1])):
        cmds += [
            f"ip -n {ns} addr add {cidr} dev eth0",
            f"ip -n {ns} link set eth0 up",
            f"ip -n {ns} link set lo up",
        ]
    cmds += [f"ip netns del {a}", f"ip netns del {b}"]
    for cmd in cmds:
        subprocess.run(cmd.split(), check=True)


def _pr2_wire(ipr: object, cidr: str) -> None:
    """Address eth0, set it and lo up (pyroute2)."""
    addr, _, plen = cidr.partition("/")
    idx = ipr.link_lookup(ifname="eth0")[0]  # type: ignore[attr-defined]
    ipr.addr("add", index=idx, address=addr, prefixlen=int(plen))  # type: ignore[attr-defined]
    ipr.link("set", index=idx, state="up")  # type: ignore[attr-defined]
    ipr.link("set", index=1, state="up")  # type: ignore[attr-defined]


def pyroute2_pair(k: int) -> None:
    """The pair with pyroute2 alone."""
    from pyroute2 import IPRoute, netns

    a, b = f"pra{k}", f"prb{k}"
    netns.create(a)
    netns.create(b)
    with IPRoute(netns=a) as ipa:
        peer = {"ifname": "eth0", "net_ns_fd": b}
        ipa.link("add", ifname="eth0", kind="veth", peer=peer)
        _pr2_wire(ipa, ADDRS[0])
    with IPRoute(netns=b) as ipb:
        _pr2_wire(ipb, ADDRS[1])
    netns.remove(a)
    netns.remove(b)


def handles_pyroute2_pair(k: int) -> None:
    """netns_fast's anonymous handles, wired with pyroute2."""
    from pyroute2 import IPRoute

    from netns_fast import Netns, enter

    with Netns.new() as a, Netns.new() as b:
        with enter(a):
            ipa = IPRoute()
        with enter(b):
            ipb = IPRoute()
        try:
            peer = {"ifname": "eth0", "net_ns_fd": b.fileno()}
            ipa.link("add", ifname="eth0", kind="veth", peer=peer)
            _pr2_wire(ipa, ADDRS[0])
            _pr2_wire(ipb, ADDRS[1])
        finally:
            ipa.close()
            ipb.close()


def api_pair(k: int) -> None:
    """netns_fast's own API on handles."""
    from netns_fast import Netns

    with Netns.new() as a, Netns.new() as b:
        a.veth(b, "eth0", "eth0", addrs=ADDRS)


def pair_topology() -> object:
    """The wired pair as a Topology (the same addresses)."""
    from netns_fast import Topology

    t = Topology().node("a").node("b")
    return t.link("a:eth0", "b:eth0", addrs=ADDRS)


def topology_pair() -> Callable[[int], None]:
    """The pair as Topology.build() + Network.close()."""
    topo = pair_topology()

    def one(k: int) -> None:
        topo.build().close()  # type: ignore[attr-defined]

    return one


def namespaces_only(k: int) -> None:
    """netns_fast's part that is no wiring: Netns.new() x2, closed."""
    from netns_fast import Netns

    Netns.new().close()
    Netns.new().close()


def c_floor(library: str, only_ns: bool = False) -> Cycle:
    """The bare C floor, built as a shared object: each call runs one
    cycle on this thread and times it itself (the call's own cost is
    outside)."""
    lib = ctypes.CDLL(library)
    lib.floor_cycle.restype = ctypes.c_double
    lib.floor_cycle.argtypes = [ctypes.c_int]
    mode = 1 if only_ns else 0

    def run(k: int) -> float:
        return float(lib.floor_cycle(mode))

    return run


# -- the table ----------------------------------------------------------------


def side_by_side(
    rivals: dict[str, tuple[Cycle, int]], rounds: int
) -> dict[str, list[float]]:
    """Rivals interleaved cycle by cycle: each round runs one cycle of
    every rival whose ``every`` divides the round number (1: each round;
    the slow rivals less often), in a new shuffled order, so that every
    rival meets the kernel's background teardown of the others' cycles
    alike; a pause every 50 rounds. The µs of every cycle, by rival."""
    got: dict[str, list[float]] = {name: [] for name in rivals}
    gc.collect()
    gc.disable()  # as timeit: no rival pays for another's garbage
    try:
        for r in range(rounds):
            order = [
                name for name, (_, every) in rivals.items() if r % every == 0
            ]
            random.shuffle(order)
            for name in order:
                got[name].append(rivals[name][0](r))
            if r % 50 == 49:
                gc.collect()
                settle(100)
                print(f"  round {r + 1}/{rounds}", flush=True)
    finally:
        gc.enable()
    return got


def print_table(
    title: str, got: dict[str, list[float]], base: str
) -> dict[str, float]:
    """Medians, p90 and ratios to ``base``; the medians."""
    medians = {name: median(v) for name, v in got.items()}
    rows = [["rival", "n", "median µs", "p90 µs", f"vs {base}"]]
    for name, values in got.items():
        rows.append(
            [
                name,
                str(len(values)),
                f"{medians[name]:.0f}",
                f"{quantile(values, 0.9):.0f}",
                f"{medians[name] / medians[base]:.2f}x",
            ]
        )
    print(f"\n{title}\n{table(rows)}")
    return medians


# -- the pre-wired pool -------------------------------------------------------


def pool_cycles(
    topo: object, n: int, work: float, size: int, threads: int
) -> tuple[list[float], list[float]]:
    """n acquire + release cycles of a pre-wired pool (topo None: a pool
    of bare namespaces, as before topologies) around a test body; the µs
    of each acquire and each release."""
    from netns_fast import Pool

    acq, rel = [], []
    kw = {} if topo is None else {"topology": topo}
    with Pool(size, threads=threads, **kw) as pool:  # type: ignore[arg-type]
        deadline = time.monotonic() + 30
        while pool.stats().ready < size and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(max(2, n // 10)):  # warm-up
            pool.acquire().close()
            busy(work)
        for _ in range(n):
            t0 = time.perf_counter()
            net = pool.acquire()
            t1 = time.perf_counter()
            busy(work)
            t2 = time.perf_counter()
            net.close()
            t3 = time.perf_counter()
            acq.append((t1 - t0) * 1e6)
            rel.append((t3 - t2) * 1e6)
    return acq, rel


def print_pool(title: str, acq: list[float], rel: list[float]) -> float:
    """Acquire median/p90, release median; the acquire median."""
    a50 = median(acq)
    print(
        f"\n{title}\n  acquire median {a50:.1f} µs, p10 "
        f"{quantile(acq, 0.1):.1f} µs, p90 {quantile(acq, 0.9):.1f} µs; "
        "release median "
        f"{median(rel):.1f} µs (n={len(acq)})"
    )
    return a50


# -- the star -----------------------------------------------------------------

HOSTS = 8


def star_topology() -> object:
    """One bridge namespace, 8 hosts on veths, addresses on one /24."""
    from netns_fast import Topology

    t = Topology().node("sw").bridge("sw", "br0")
    for h in range(HOSTS):
        t.node(f"h{h}").link(f"h{h}:eth0", "sw:br0", name=f"h{h}")
    return t


def ip_star(k: int) -> None:
    """The star with ip processes."""
    sw = f"sw{k}"
    cmds = [
        f"ip netns add {sw}",
        f"ip -n {sw} link add br0 type bridge",
        f"ip -n {sw} addr add 10.255.0.1/24 dev br0",
        f"ip -n {sw} link set br0 up",
        f"ip -n {sw} link set lo up",
    ]
    for h in range(HOSTS):
        host = f"s{k}h{h}"
        cmds += [
            f"ip netns add {host}",
            f"ip link add eth0 netns {host} type veth peer name eth{h} "
            f"netns {sw}",
            f"ip -n {sw} link set eth{h} master br0 up",
            f"ip -n {host} addr add 10.255.0.{h + 2}/24 dev eth0",
            f"ip -n {host} link set eth0 up",
            f"ip -n {host} link set lo up",
        ]
    cmds += [f"ip netns del {sw}"]
    cmds += [f"ip netns del s{k}h{h}" for h in range(HOSTS)]
    for cmd in cmds:
        subprocess.run(cmd.split(), check=True)


# -- sustained ----------------------------------------------------------------


def sustained(topo: object, cycles: int, size: int, threads: int) -> bool:
    """cycles pre-wired pair cycles, no test body; the backlog against
    the bound. True when it stayed within."""
    from netns_fast import Pool

    max_pending = 256
    bound = max_pending + (size + 1) * 2
    print(
        f"\nsustained: {cycles} pre-wired pair cycles, no test body "
        f"(size={size}, threads={threads}, max_pending={max_pending} "
        f"namespaces, bound={bound})"
    )
    rows = [["cycles", "s", "pending", "max", "throttled", "ready"]]
    start = time.perf_counter()
    step = max(1, cycles // 5)
    with Pool(  # type: ignore[call-overload]
        size, topology=topo, threads=threads, max_pending=max_pending
    ) as pool:
        for i in range(1, cycles + 1):
            pool.acquire(timeout=60).close()
            if i % step == 0:
                st = pool.stats()
                rows.append(
                    [
                        str(i),
                        f"{time.perf_counter() - start:.1f}",
                        str(st.pending),
                        str(st.pending_max),
                        str(st.throttled),
                        str(st.ready),
                    ]
                )
        elapsed = time.perf_counter() - start
        drained = pool.drain(60.0)
        st = pool.stats()
    kept = st.pending_max <= bound
    print(table(rows))
    print(
        f"{cycles / elapsed:.0f} pairs/s ({elapsed / cycles * 1e6:.0f} µs "
        f"per pair); backlog max {st.pending_max} namespaces (bound "
        f"{bound}: {'kept' if kept else 'EXCEEDED'}); drained: {drained}; "
        f"signal working: {st.observing}"
    )
    return kept and st.observing


# -- the plot -----------------------------------------------------------------


def plot(path: str, bars: dict[str, float], floor: str) -> None:
    """A horizontal bar chart of µs per wired pair (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(bars)
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(labels) + 1.6))
    ys = range(len(labels))
    colors = ["tab:gray" if k == floor else "tab:blue" for k in labels]
    ax.barh(list(ys), [bars[k] for k in labels], color=colors)
    for y, k in zip(ys, labels):
        ax.text(
            bars[k] * 1.05,
            y,
            f"{bars[k]:.0f} µs ({bars[k] / bars[floor]:.2f}x)",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("µs per wired pair, set up and torn down (median, log)")
    ax.set_title("one wired pair per test (2 vCPUs; lower is better)")
    ax.set_xlim(right=max(bars.values()) * 6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def main() -> None:
    """Parse the options, isolate, run every part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument(
        "--rounds", type=int, help="rounds of the pair (default 400)"
    )
    parser.add_argument(
        "--slow-every",
        type=int,
        default=8,
        help="a cycle of the slow rivals every N rounds",
    )
    parser.add_argument("--n", type=int, help="pool cycles (default 200)")
    parser.add_argument(
        "--work", type=float, default=5.0, help="pool test body, ms"
    )
    parser.add_argument("--cycles", type=int, help="sustained cycles")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plot", help="write the bar chart here (PNG)")
    args = parser.parse_args()
    isolate(network=True)
    rounds = args.rounds or (40 if args.quick else 400)
    slow = max(1, args.slow_every)
    n = args.n or (20 if args.quick else 200)
    cycles = args.cycles or (500 if args.quick else 5000)
    with open(os.path.join(HERE, "wire_floor.c")) as f:
        floor = compile_c(
            f.read(), "wire_floor.so", ["-shared", "-fPIC", "-DFLOOR_LIB"]
        )
    api = "netns_fast API (handles + veth)"
    rivals: dict[str, tuple[Cycle, int]] = {
        "C floor": (c_floor(floor), 1),
        api: (timed(api_pair), 1),
        "netns_fast Topology.build": (timed(topology_pair()), 1),
        "netns_fast handles + pyroute2": (timed(handles_pyroute2_pair), slow),
        "ip processes": (timed(ip_pair), slow),
        "pyroute2": (timed(pyroute2_pair), slow),
        "(namespaces only) C floor": (c_floor(floor, only_ns=True), 1),
        "(namespaces only) Netns.new x2": (timed(namespaces_only), 1),
    }
    print(
        f"wired pair: {rounds} rounds, rivals interleaved cycle by cycle "
        f"(the slow ones every {slow})"
    )
    got = side_by_side(rivals, rounds)
    medians = print_table(
        "wired pair per test, set up and torn down", got, "C floor"
    )
    ratio = medians[api] / medians["C floor"]
    topo_ratio = medians["netns_fast Topology.build"] / medians["C floor"]
    pair = pair_topology()
    work = args.work / 1e3
    # Each pool starts once the kernel has torn down what came before
    # (thousands of namespaces after the table).
    settle(sum(map(len, got.values())) * 2)
    acq, rel = pool_cycles(pair, n, work, 8, args.threads)
    title = (
        f"pre-wired pool of the pair (size 8, threads {args.threads}), "
        f"test body {args.work:.1f} ms"
    )
    a50 = print_pool(title, acq, rel)
    pool_row = a50 + median(rel)
    settle(4 * n)
    b_acq, b_rel = pool_cycles(None, n, work, 8, args.threads)
    bare = print_pool(
        f"for comparison, a pool of bare namespaces (size 8), test body "
        f"{args.work:.1f} ms",
        b_acq,
        b_rel,
    )

    star = star_topology()
    star_rounds = max(10, rounds // 4)
    star_rivals: dict[str, tuple[Cycle, int]] = {
        "Topology.build (star)": (
            timed(lambda k: star.build().close()),  # type: ignore[attr-defined]
            1,
        ),
        "ip processes (star)": (timed(ip_star), 10),
    }
    print(f"\nstar of {HOSTS}: {star_rounds} rounds")
    star_got = side_by_side(star_rivals, star_rounds)
    print_table(
        f"star: one bridge namespace, {HOSTS} hosts on veths",
        star_got,
        "Topology.build (star)",
    )
    settle(sum(map(len, star_got.values())) * (HOSTS + 1))
    s_acq, s_rel = pool_cycles(star, n // 2, 4 * work, 4, 1)
    print_pool(
        f"pre-wired pool of the star (size 4), test body {4 * args.work:.0f}"
        " ms",
        s_acq,
        s_rel,
    )
    settle(len(s_acq) * (HOSTS + 1))
    kept = sustained(pair, cycles, 8, args.threads)

    print("\ngoals")
    print(
        f"  API wired pair {ratio:.2f}x the C floor (Topology.build "
        f"{topo_ratio:.2f}x): goal <= 1.15x "
        f"{'met' if ratio <= 1.15 else 'NOT met'}"
    )
    print(
        f"  pre-wired pool acquire median {a50:.1f} µs: goal <= 50 µs "
        f"{'met' if a50 <= 50 else 'NOT met'} ({a50 / bare:.2f}x the bare "
        f"pool's {bare:.1f} µs in the same run)"
    )
    print(f"  sustained run within the bound: {'met' if kept else 'NOT met'}")
    if args.plot:
        bars = {k: v for k, v in medians.items() if not k.startswith("(")}
        bars["pre-wired pool acquire + release"] = pool_row
        plot(
            args.plot,
            dict(sorted(bars.items(), key=lambda kv: kv[1])),
            "C floor",
        )


if __name__ == "__main__":
    main()
