"""``livequiz play``: a terminal client, so anyone can join a live quiz without a browser.

It speaks the same public protocol as every other client: join by PIN, then a
:class:`~livequiz.client.QuizClient` that reconnects by itself after a drop; each question is shown
with numbered options, the answer is read as a digit, and results and the review are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any, TextIO

import httpx

from livequiz.client import QuizClient


def play(server: str, pin: str, nickname: str, out: TextIO) -> int:
    """Play until the quiz finishes; returns the exit status."""
    base = server.rstrip("/")
    ws_url = base.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
    try:
        response = httpx.post(f"{base}/api/quizzes/{pin}/players", json={"nickname": nickname})
    except httpx.HTTPError as error:
        print(f"livequiz: cannot reach the quiz server at {server}: {error}", file=sys.stderr)
        return 1
    if response.status_code != 201:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}"
        print(f"livequiz: {message}", file=sys.stderr)
        return 1
    token = response.json()["token"]
    return asyncio.run(_play(ws_url, token, nickname, out))


async def _play(ws_url: str, token: str, nickname: str, out: TextIO) -> int:
    stop = asyncio.Event()
    status = [0]
    reader: list[asyncio.Task[None]] = []

    def ask(question: dict[str, Any]) -> None:
        for task in reader:
            task.cancel()
        reader.clear()
        out.write(f"\nQ{question['index'] + 1}: {question['prompt']}\n")
        for number, option in enumerate(question["options"], start=1):
            out.write(f"  {number}) {option}\n")
        reader.append(asyncio.create_task(_read_answer(client, question)))

    def on_frame(frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "error":
            out.write(f"! {frame['message']}\n")
        elif kind == "welcome":
            out.write(f"in '{frame['quiz']['title']}' as {nickname}; waiting for the host…\n")
            question = frame["state"].get("question")
            if question and question.get("open") and frame["state"].get("answer") is None:
                ask(question)
        elif kind == "question":
            ask(frame["question"])
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
        elif kind == "kicked":
            out.write("the host removed you from this quiz\n")
            status[0] = 1
            stop.set()
        out.flush()

    client = QuizClient(ws_url, token, on_frame)
    await client.run(stop)
    for task in reader:
        task.cancel()
    return status[0]


async def _read_answer(client: QuizClient, question: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    with contextlib.suppress(ValueError):
        option = int(line.strip()) - 1
        await client.send({"type": "answer", "q": question["index"], "option": option})
