"""``livequiz bench reconnect-storm``: the whole storm, small, and the parts that judge it.

The storm starts a real ``livequiz serve`` process (it has to ``kill -9`` it), so it runs here
at 300 players: every client must come back after the restart with a view that is not stale,
and the quiz must go on to the end with every score recounted. How fast they come back is the
benchmark's figure (docs/reliability.md), not something a test asserts.
"""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from livequiz.bench.cli import build_parser, main, storm_config_from_args
from livequiz.bench.storm import StormConfig, _share_times, format_storm, run_storm
from livequiz.bench.worker import _Player, _Worker


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_every_client_comes_back_after_a_kill_9_with_a_view_that_is_not_stale(
    tmp_path: Path,
) -> None:
    players = 300
    result = await run_storm(
        StormConfig(
            players=players,
            port=_free_port(),
            data_dir=tmp_path / "data",
            window_s=1.0,
            settle_s=0.5,
            workers=2,
        )
    )

    assert result["errors"] == {}, format_storm(result)
    assert result["ok"] is True
    # every client was connected, lost its connection to the kill, and came back
    assert result["joined"] == result["dropped"] == result["back"] == players
    assert result["not_back"] == 0
    # … each with a view the server really has: question 0 closed, as the host sees it
    assert result["stale_views"] == 0
    assert result["stale"] == {}
    assert result["host_view"] == "question_closed:0"
    assert result["views"] == {"question_closed:0": players}
    assert result["host_seq"]["after"] >= result["host_seq"]["before"] > 0
    assert result["pending_at_drop"] == 0
    # the first tries ran into a dead server; at least one try each brought them back
    assert result["reconnect"]["attempts"] >= players
    assert result["reconnect"]["attempts"] == (players + result["reconnect"]["failed"]), result[
        "reconnect"
    ]
    assert result["drop_to_welcome_ms"]["count"] == players
    for key in ("back_after_start_s", "back_after_ready_s", "back_after_kill_s"):
        assert set(result[key]) == {"p50", "p99", "all"}
        assert all(value is not None for value in result[key].values())
    assert result["back_after_kill_s"]["all"] > result["restart"]["kill_to_start_s"]
    # the quiz went on after the storm: question 1 answered by all, every score recounted
    play = result["play"]
    assert play["accepted"] == 2 * players
    assert (play["finals"], play["missing_finals"]) == (players, 0)
    assert result["recount"]["own_checked"] == result["recount"]["host_checked"] == players
    assert result["recount"]["mismatches"] == 0
    server = result["server_process"]
    assert server["cpu_storm_s"] > 0
    assert server["peak_rss_storm_mib"] > 0
    assert result["machine"]["cores"] >= 1
    assert "stale views" in format_storm(result)
    # the data directory given was kept, with the server's log
    assert (tmp_path / "data" / "server.log").exists()


# ---------------------------------------------------------------------- the parts


def _storm_worker() -> Any:
    """A stand-in for a storm worker: the counters a comeback writes to."""
    return SimpleNamespace(
        storm=True,
        returns=[],
        views=Counter(),
        stale=Counter(),
        stale_examples=[],
        back=0,
        check_back=lambda: None,
    )


def _welcome(seq: int, score: int, phase: str = "question_closed", index: int = 0) -> Any:
    return {
        "type": "welcome",
        "token": "v1.t",
        "state": {
            "seq": seq,
            "phase": phase,
            "question": {"index": index},
            "player": {"player_id": 7, "score": score},
        },
    }


def test_a_comeback_whose_welcome_is_behind_the_client_is_counted_stale() -> None:
    worker = _storm_worker()
    player = _Player(worker, 0, "1", "b0_0")
    player._on_welcome(_welcome(seq=3, score=0))  # the first welcome: nothing to compare
    player.max_seq, player.points = 12, 950  # what it saw and was acked before the drop

    player.t_drop = 1.0
    player._on_welcome(_welcome(seq=11, score=900))

    assert worker.stale == {"seq_went_back": 1, "score": 1}
    assert worker.stale_examples == [
        {"reason": "seq_went_back", "player_id": 7, "welcome_seq": 11, "seen": 12},
        {"reason": "score", "player_id": 7, "welcome_score": 900, "acked_points": 950},
    ]
    assert worker.views == {"question_closed:0": 1}
    assert len(worker.returns) == 1
    assert worker.returns[0][0] == 1.0
    assert player.t_drop is None


def test_a_comeback_that_matches_what_the_client_knew_is_not_stale() -> None:
    worker = _storm_worker()
    player = _Player(worker, 0, "1", "b0_0")
    player._on_welcome(_welcome(seq=3, score=0))
    player.max_seq, player.points = 12, 950
    player.t_drop, player.attempt = 1.0, 4

    player._on_welcome(_welcome(seq=12, score=950))

    assert worker.stale == {}
    assert worker.back == 1
    assert worker.returns[0][2] == 4  # the tries it took
    assert (player.attempt, player.hello_msg) == (0, b'{"type":"hello","token":"v1.t"}')


def test_backoff_is_full_jitter_below_the_capped_ceiling_or_the_ceiling_itself() -> None:
    import random

    worker = SimpleNamespace(
        backoff_base_s=0.5, backoff_cap_s=15.0, jitter=True, rng=random.Random(3)
    )
    for attempt, ceiling in ((0, 0.5), (1, 1.0), (3, 4.0), (5, 15.0), (60, 15.0)):
        delays = [_Worker.backoff_s(worker, attempt) for _ in range(200)]  # type: ignore[arg-type]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.8 * ceiling
        assert min(delays) < 0.2 * ceiling
    worker.jitter = False
    assert [_Worker.backoff_s(worker, a) for a in range(7)] == [  # type: ignore[arg-type]
        0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0
    ]  # fmt: skip


def test_times_until_a_share_is_back_count_the_clients_that_never_came() -> None:
    back = [10.4, 10.1, 10.2, 10.3]
    assert _share_times(back, 4, 10.0) == pytest.approx({"p50": 0.2, "p99": 0.4, "all": 0.4})
    # five were connected, four came back: 99 % and 100 % were never reached
    five = _share_times(back, 5, 10.0)
    assert five["p50"] == pytest.approx(0.3)
    assert (five["p99"], five["all"]) == (None, None)
    assert _share_times([], 0, 10.0) == {"p50": None, "p99": None, "all": None}


def test_the_cli_builds_a_storm_and_refuses_a_server_of_its_own_choosing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["-W", "3", "--seed", "5", "reconnect-storm", "--players", "10000", "--port", "9001",
         "--no-jitter", "--backoff-base-s", "1", "--serve-arg=--sync", "--serve-arg=full"]
    )  # fmt: skip
    config = storm_config_from_args(args)
    assert (config.players, config.port, config.jitter, config.backoff_base_s) == (
        10000, 9001, False, 1.0
    )  # fmt: skip
    assert (config.backoff_cap_s, config.workers, config.seed) == (15.0, 3, 5)
    assert config.serve_args == ("--sync", "full")
    assert config.data_dir is None

    assert main(["--server", "http://elsewhere:8000", "reconnect-storm"]) == 2
    assert "--server do not apply" in capsys.readouterr().err


async def test_a_connection_lost_before_the_upgrade_answer_is_a_failed_try() -> None:
    sent: list[bytes] = []
    transport = SimpleNamespace(send=lambda _kind, data: sent.append(data))
    tries: list[int] = []

    async def connect(player: _Player) -> None:
        # picows returns normally when the socket is lost before the upgrade is answered, and
        # calls no callback: the first try; the second one opens
        tries.append(1)
        if len(tries) == 2:
            player.on_ws_connected(transport)  # type: ignore[arg-type]

    worker: Any = SimpleNamespace(
        stopping=False,
        backoff_s=lambda attempt: 0.0,
        reconnect_attempts=0,
        reconnect_connected=0,
        reconnect_failures=Counter(),
        connect=connect,
    )
    player = _Player(worker, 0, "1", "b0_0")
    player.hello_msg, player.reconnecting = b'{"type":"hello","token":"v1.t"}', True

    await player._reconnect()

    assert worker.reconnect_failures == {"lost_in_handshake": 1}
    assert (worker.reconnect_attempts, worker.reconnect_connected) == (2, 1)
    assert (player.attempt, player.reconnecting) == (2, False)
    assert sent == [b'{"type":"hello","token":"v1.t"}']
