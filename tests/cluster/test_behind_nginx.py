"""Three processes on PostgreSQL and NATS behind nginx (the committed deploy/nginx.conf): the
deployment a school district runs, as plain processes (no Docker engine here).

Players join and connect through the proxy, land on all three processes, play one quiz; one
process is killed; its players come back through the proxy to the others, and the checker finds
no acknowledged answer lost and none counted twice.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.cluster.harness import Front, Ledger, Player, cluster, gauge, post
from tests.cluster.test_cluster import NAMES, answer_all, finish_and_check, host_action
from tests.deploy.nginx import NGINX, NginxProxy

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (make deploy-tools): not tested"
)


async def test_three_processes_behind_nginx_lose_one_and_its_players_come_back() -> None:
    async with (
        cluster(3, "--trusted-proxy", "127.0.0.1/32") as processes,
        NginxProxy(backends=[process.port for process in processes]) as proxy,
    ):
        front = Front(proxy.port)
        created = await post(front, "/api/quizzes", {"count": 2, "seed": 3, "time_limit_s": 30})
        host = Player("host", created["host_token"], [front], 0)
        await host.connect()
        players: dict[str, Player] = {}
        for name in NAMES:
            joined = await post(front, f"/api/quizzes/{created['pin']}/players", {"nickname": name})
            players[name] = Player(name, joined["token"], [front], 0)
            await players[name].connect()
        try:
            # the WebSocket upgrade goes through the proxy, and the sockets spread over all three
            held = [await gauge(process, "livequiz_connections") for process in processes]
            assert all(count >= 2 for count in held), held
            assert sum(held) == len(NAMES) + 1

            ledger = Ledger()
            await host_action(host, "start")
            await answer_all(ledger, players, NAMES[:6], 0)
            victim = max(range(3), key=lambda i: held[i])
            processes[victim].kill()
            async with asyncio.timeout(30):
                await processes[victim].process.wait()
            await answer_all(ledger, players, NAMES[6:], 0)
            await answer_all(ledger, players, NAMES, 0)  # the acknowledged ones stand
            back = [p for p in [host, *players.values()] if p.reconnects]
            assert back, "nobody was on the killed process"
            survivors = [p for i, p in enumerate(processes) if i != victim]
            now_held = [await gauge(process, "livequiz_connections") for process in survivors]
            assert sum(now_held) >= len(NAMES)  # everyone is back, on the two that live
            await finish_and_check(processes, created, host, players, ledger)
        finally:
            for client in [host, *players.values()]:
                await client.drop()
