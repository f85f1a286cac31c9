"""The owner of a live quiz is cut off from the database and the bus, then comes back.

Three servers, each in its own network namespace (``tests/netns/harness.py``). Mid-question,
the quiz's owner loses its service link (PostgreSQL and NATS): the cable is pulled, nothing is
refused, its connections just hang. Its client link stays up, so the test can ask the cut-off
process to do what it can no longer do, and watch what it tells its clients:

* while cut off it acknowledges no answer and opens or closes no question: a probe player and
  a probe host connected to it send answers and ``close`` for the whole cut, and every reply
  is an error (``unavailable``); no ``ack``, ``question`` or ``closed`` frame reaches any of its
  connections; ``/readyz`` says 503, so a load balancer would stop sending it players;
* another process takes the quiz over (the lease row has a new owner and epoch); players who
  were on the cut-off process reconnect to the others and are acknowledged there; the host, on
  another process, closes the question and opens the next one meanwhile;
* when the link is back the old owner writes nothing (every journal row after the takeover
  carries the new epoch: fencing), owns nothing (``livequiz_quizzes_owned`` 0, a lease lost),
  and serves its players again as an ordinary copy: the players who stayed on it see the
  frames they missed and are acknowledged through the new owner.

At the end the checker (tests/reliability/checker.py) compares every ack with the stored
results: nothing lost, nothing doubled, scores equal to the recount, no sequence number going
back, every client's last snapshot right.

``LIVEQUIZ_NETNS_CUT_S`` sets how long the cut lasts (default 12 s: longer than the database
timeout of 5 s and the router's 10 s of retries, so the cut-off process's own refusals arrive
while it is still cut off); ``LIVEQUIZ_NETNS_CUTS`` how many quizzes are played, one cut each.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any

import httpx

from tests.netns.harness import NetCluster, NetProcess, netns_cluster
from tests.reliability.checker import QuizHistory, Verdict
from tests.reliability.client import Client
from tests.reliability.report import record
from tests.reliability.workload import (
    at_question,
    closed,
    host_until,
    http_retrying,
    join,
    results_retrying,
)

Frame = dict[str, Any]

CUT_S = float(os.environ.get("LIVEQUIZ_NETNS_CUT_S", "12"))
CUTS = int(os.environ.get("LIVEQUIZ_NETNS_CUTS", "1"))
#: How long the old owner may take, once its link is back, to learn it lost the quiz.
REJOIN_TIMEOUT_S = 30.0
QUESTIONS = 4


async def test_cut_off_owner_stops_serving_and_rejoins_as_a_copy(tmp_path: Path) -> None:
    figures: dict[str, Any] = {"cuts": 0, "cut_s": CUT_S}
    verdict = Verdict()
    async with netns_cluster(3, logs=tmp_path) as net:
        for run in range(CUTS):
            found = await cut_one_quiz(net, random.Random(run), owner=run % 3)
            verdict.add(found.pop("verdict"))
            figures["cuts"] += 1
            for name, value in found.items():
                figures.setdefault(name, []).append(value)
    figures.update(verdict.counts())
    print(f"\nnetns cut-off: {figures}")
    record("netns cut-off", figures)
    assert verdict.ok, verdict


async def cut_one_quiz(net: NetCluster, rng: random.Random, *, owner: int) -> dict[str, Any]:
    old = net.processes[owner]
    others = [p for p in net.processes if p is not old]
    created = (
        await http_retrying(
            lambda: old.url,
            "POST",
            "/api/quizzes",
            201,
            json={"count": QUESTIONS, "time_limit_s": 120, "seed": rng.randrange(1 << 30)},
        )
    ).json()
    quiz_id, pin = created["quiz_id"], created["pin"]
    assert net.owner_of((await net.lease(quiz_id))[0]) is old

    # three players on each process; of those on the owner, two stay and one moves at the cut
    home: dict[str, NetProcess] = {}
    clients: dict[str, Client] = {}
    for n in range(9):
        name, token = await join(lambda: old.url, pin, f"player {n}")
        home[name] = net.processes[n % 3]
        clients[name] = Client(name, token, _url(home, name), rng)
    on_old = [name for name in clients if home[name] is old]
    stayers, movers = on_old[:2], on_old[2:]
    probe_name, probe_token = await join(lambda: old.url, pin, "probe")
    home[probe_name] = home["probe host"] = old
    home["host"] = others[0]
    probe = Client(probe_name, probe_token, _url(home, probe_name), rng)
    probe_host = Client("probe host", created["host_token"], _url(home, "probe host"), rng)
    host = Client("host", created["host_token"], _url(home, "host"), rng)
    history = QuizHistory(quiz_id)
    everyone = {**clients, probe_name: probe, "probe host": probe_host, "host": host}
    for name, client in everyone.items():
        history.watch(name, client.frames)
    await asyncio.gather(*(client.connect() for client in everyone.values()))

    async def answer(names: list[str], index: int) -> None:
        async def one(name: str) -> None:
            history.record(name, await everyone[name].answer(index, rng.randrange(4)))

        await asyncio.gather(*(one(name) for name in names))

    players = [*clients, probe_name]
    await host_until(host, "start", at_question(0))
    await answer(players, 0)
    await host_until(host, "close", closed(0))
    await host_until(host, "next", at_question(1))
    # the movers and the probe answer question 1 only once the owner is cut off
    await answer([name for name in clients if name not in movers], 1)
    epoch_before = (await net.lease(quiz_id))[1]

    # ---------------------------------------------------------------- the cut
    on_cut = {n: c for n, c in everyone.items() if home[n] is old and n not in movers}
    marks = {name: len(client.frames) for name, client in on_cut.items()}
    cut_at = time.monotonic()
    net.topology.cut(old.host, ("service",))
    try:
        for name in movers:  # the phone gives up on the silent server and reconnects elsewhere
            home[name] = others[movers.index(name) % len(others)]
            await clients[name].drop()
        probing = asyncio.create_task(probe_while_cut(probe, probe_host, cut_at + CUT_S))
        await answer(movers, 1)  # acknowledged by the new owner
        moved_s = time.monotonic() - cut_at
        new_owner_id, epoch = await net.lease(quiz_id)
        new_owner = net.owner_of(new_owner_id)
        assert new_owner is not old, new_owner_id
        assert epoch > epoch_before, epoch
        await host_until(host, "close", closed(1))
        await host_until(host, "next", at_question(2))
        async with httpx.AsyncClient(timeout=15) as http:
            ready = await http.get(f"{old.url}/readyz")
        assert ready.status_code == 503, ready.text
        replies = await probing
        assert time.monotonic() < cut_at + CUT_S + 1, "the cut lasted longer than planned"
        seen_while_cut = {name: list(on_cut[name].frames[marks[name] :]) for name in on_cut}
    finally:
        net.topology.restore(old.host)
    restored_at = time.monotonic()

    # while cut off: refusals only, and nothing the new owner did, nothing the old one did
    assert replies, "the cut-off process answered nothing while cut off"
    assert all(r["type"] == "error" and r["code"] == "unavailable" for r in replies), replies
    for name, frames in seen_while_cut.items():
        shown = [f for f in frames if f["type"] in ("ack", "question", "closed", "host_ack")]
        assert not shown, f"{name} was shown {shown} by a cut-off process"

    # ---------------------------------------------------------------- back: a copy, not an owner
    rejoined_s = await until_not_owner(old, restored_at)
    assert net.owner_of((await net.lease(quiz_id))[0]) is new_owner
    for name in [*stayers, probe_name]:  # they missed q1's close and q2's opening: shown now
        client = everyone[name]
        await client.wait_for(
            lambda f: f["type"] == "question" and f["question"]["index"] == 2,
            since=marks[name],
            timeout=30,
        )
    await answer(players, 2)  # the stayers and the probe through the old owner, now a copy
    await host_until(host, "close", closed(2))
    await host_until(host, "next", at_question(3))
    await answer(players, 3)
    await host_until(host, "end", lambda state: state["phase"] == "finished")

    journal = await net.journal(quiz_id)
    taken_at = next(seq for seq, e in journal if e > epoch_before)
    stale = [(seq, e) for seq, e in journal if seq >= taken_at and e <= epoch_before]
    assert not stale, f"the old owner wrote after the takeover: {stale}"
    assert [e for _, e in journal] == sorted(e for _, e in journal), journal

    report = await results_retrying(lambda: new_owner.url, quiz_id, created["host_token"])
    states = {name: await everyone[name].state() for name in players}
    verdict = history.check(report, states)
    for client in everyone.values():
        await client.drop()
    return {
        "verdict": verdict,
        "moved_s": round(moved_s, 2),
        "rejoined_s": round(rejoined_s, 2),
        "refusals_while_cut": len(replies),
        "epoch_after": epoch,
    }


def _url(home: dict[str, NetProcess], name: str) -> Any:
    return lambda: home[name].ws_url


async def probe_while_cut(player: Client, host: Client, until: float) -> list[Frame]:
    """Until ``until``: an answer and a ``close`` at a time, each waiting for its reply; the
    replies that came while cut off."""
    replies: list[Frame] = []

    async def ask(client: Client, message: Frame, reply: Any, stop_s: float) -> None:
        while time.monotonic() < until - stop_s:
            try:
                frame = await client.request(message, reply, timeout=until - time.monotonic())
            except TimeoutError:
                return
            if time.monotonic() < until:
                replies.append(frame)
            await asyncio.sleep(0.2)

    await asyncio.gather(
        ask(
            player,
            {"type": "answer", "q": 1, "option": 0},
            lambda f: f["type"] in ("ack", "error") and f.get("q") == 1,
            0.5,
        ),
        ask(
            host,
            # Naming question 1, as the host page does, up to the end of the cut: a close sent
            # in its last 5 s is still within its deadline when the link comes back and may
            # reach the new owner once question 2 is open; it must be refused then, not close
            # question 2 (the players' answers to it below would be refused).
            {"type": "host", "action": "close", "q": 1},
            lambda f: f["type"] in ("host_ack", "error") and f.get("action") == "close",
            0.5,
        ),
    )
    return replies


async def until_not_owner(process: NetProcess, since: float) -> float:
    """Wait until the process owns no quiz and has lost a lease; returns the time it took."""
    deadline = since + REJOIN_TIMEOUT_S
    while True:
        metrics = await process.metrics()
        if (
            metrics.get("livequiz_quizzes_owned") == 0
            and metrics.get("livequiz_leases_lost_total", 0) >= 1
        ):
            return time.monotonic() - since
        assert time.monotonic() < deadline, f"still an owner: {metrics}"
        await asyncio.sleep(0.2)
