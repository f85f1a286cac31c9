"""``livequiz play``: a terminal client, so anyone can join a live quiz without a browser.

It speaks the same public protocol as every other client: join by PIN over the WebSocket, show
each question, read the answer as a digit, and print the result and the leaderboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any, TextIO

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI


def play(server: str, pin: str, nickname: str, out: TextIO) -> int:
    """Play until the quiz finishes; returns the exit status."""
    ws_url = server.replace("https://", "wss://").replace("http://", "ws://").rstrip("/") + "/ws"
    try:
        return asyncio.run(_play(ws_url, pin, nickname, out))
    except (OSError, InvalidURI, ConnectionClosed) as error:
        print(f"livequiz: cannot reach the quiz server at {server}: {error}", file=sys.stderr)
        return 1


async def _play(ws_url: str, pin: str, nickname: str, out: TextIO) -> int:
    async with connect(ws_url, compression=None, open_timeout=10) as ws:
        await ws.send(orjson.dumps({"type": "join", "pin": pin, "nickname": nickname}).decode())
        reader: asyncio.Task[None] | None = None
        async for raw in ws:
            frame: dict[str, Any] = orjson.loads(raw)
            kind = frame.get("type")
            if kind == "error" and frame.get("code") not in ("already_answered",):
                out.write(f"! {frame['message']}\n")
                if "q" not in frame:
                    return 1
            elif kind == "welcome":
                out.write(
                    f"joined '{frame['quiz']['title']}' as {nickname}; waiting for the host…\n"
                )
                question = frame["state"].get("question")
                if question and question.get("open"):
                    reader = _ask(ws, question, out, reader)
            elif kind == "question":
                reader = _ask(ws, frame["question"], out, reader)
            elif kind == "ack" and frame["answer"].get("revealed"):
                answer = frame["answer"]
                verdict = "right" if answer["correct"] else "wrong"
                out.write(f"  {verdict}: +{answer['points']} points, total {answer['score']}\n")
            elif kind == "closed":
                reveal = frame["reveal"]
                out.write(f"  answer: {reveal['word']} — {reveal['definition']}\n")
            elif kind == "result":
                standing = frame["standing"]
                rank, of, score = standing["rank"], standing["players"], standing["score"]
                out.write(f"  you are #{rank} of {of} with {score}\n")
            elif kind == "final":
                results = frame["results"]
                out.write(f"\nfinal: #{results['rank']} with {results['score']} points\n")
                for missed in results["missed"]:
                    out.write(f"  review: {missed['word']} — {missed['definition']}\n")
                return 0
            elif kind == "kicked":
                out.write("the host removed you from this quiz\n")
                return 1
            out.flush()
    return 0


def _ask(
    ws: ClientConnection, question: dict[str, Any], out: TextIO, previous: asyncio.Task[None] | None
) -> asyncio.Task[None]:
    if previous is not None:
        previous.cancel()
    out.write(f"\nQ{question['index'] + 1}: {question['prompt']}\n")
    for number, option in enumerate(question["options"], start=1):
        out.write(f"  {number}) {option}\n")
    out.flush()
    return asyncio.create_task(_read_answer(ws, question))


async def _read_answer(ws: ClientConnection, question: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    with contextlib.suppress(ValueError, ConnectionClosed):
        option = int(line.strip()) - 1
        await ws.send(
            orjson.dumps({"type": "answer", "q": question["index"], "option": option}).decode()
        )
