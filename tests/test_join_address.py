"""The join link phones can open (livequiz/join_address.py, issue 18 "join from the room")."""

from __future__ import annotations

import httpx
import pytest

from livequiz.join_address import (
    LOCAL_ONLY_HINT,
    JoinAddress,
    PublicUrlError,
    check_public_url,
    lan_address,
)
from tests.server import running_server


@pytest.mark.parametrize(
    ("address", "page", "expected"),
    [
        # --public-url wins over everything
        (JoinAddress("https://quiz.school.example", "0.0.0.0"), "http://127.0.0.1:8000/",
         ("https://quiz.school.example", True)),
        # a page opened by the LAN address or a name: phones use the same
        (JoinAddress(None, "0.0.0.0", "10.1.2.3"), "http://192.168.1.20:8000/",
         ("http://192.168.1.20:8000", True)),
        (JoinAddress(None, "127.0.0.1"), "https://quiz.example/", ("https://quiz.example", True)),
        # a page at 127.0.0.1 on a server listening everywhere: the LAN address, same port
        (JoinAddress(None, "0.0.0.0", "10.1.2.3"), "http://127.0.0.1:8000/",
         ("http://10.1.2.3:8000", True)),
        (JoinAddress(None, "::", "10.1.2.3"), "http://localhost:8000/",
         ("http://10.1.2.3:8000", True)),
        (JoinAddress(None, "0.0.0.0", "10.1.2.3"), "http://[::1]:80/", ("http://10.1.2.3", True)),
        # listening on one LAN address
        (JoinAddress(None, "192.168.1.20"), "http://127.0.0.1:9000/",
         ("http://192.168.1.20:9000", True)),
        (JoinAddress(None, "fd00::5"), "http://127.0.0.1:9000/", ("http://[fd00::5]:9000", True)),
        # a page opened at 0.0.0.0 (which the browser takes for this computer): as 127.0.0.1
        (JoinAddress(None, "0.0.0.0", "10.1.2.3"), "http://0.0.0.0:8000/",
         ("http://10.1.2.3:8000", True)),
        # only this computer can reach it
        (JoinAddress(None, "127.0.0.1"), "http://127.0.0.1:8000/",
         ("http://127.0.0.1:8000", False)),
        (JoinAddress(None, "0.0.0.0", None), "http://127.0.0.1:8000/",
         ("http://127.0.0.1:8000", False)),
    ],
)  # fmt: skip
def test_the_join_base_phones_can_reach(
    address: JoinAddress, page: str, expected: tuple[str, bool]
) -> None:
    assert address.base_for(page) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("quiz.school.example", "must start with http:// or https://"),
        ("ftp://quiz.example", "must start with http:// or https://"),
        ("https://", "names no host"),
        ("https://quiz.example/?x=1", "no query or fragment"),
        ("https://quiz.example/#top", "no query or fragment"),
    ],
)
def test_a_bad_public_url_is_refused_naming_the_problem(url: str, problem: str) -> None:
    with pytest.raises(PublicUrlError, match=problem):
        check_public_url(url)


def test_a_public_url_loses_its_trailing_slash() -> None:
    assert check_public_url(" https://quiz.example/lq/ ") == "https://quiz.example/lq"


def test_the_lan_address_is_not_a_loopback_one() -> None:
    found = lan_address()
    if found is None:  # a machine with no route out: nothing to find, nothing wrong
        return
    assert not found.startswith("127.")


async def test_a_server_on_every_interface_gives_the_page_at_localhost_its_lan_link() -> None:
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no route out, so no LAN address to offer")
    async with running_server(host="0.0.0.0") as srv:
        quiz = await srv.create_quiz(count=1)
        pin, port = quiz["pin"], srv.server.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as local:
            link = (await local.get(f"/api/quizzes/{pin}/join")).json()
            qr = (await local.get(f"/api/quizzes/{pin}/qr.svg")).text
    expected = f"http://{lan}:{port}/play?pin={pin}"
    assert link == {"pin": pin, "join_url": expected, "reachable": True, "hint": None}
    assert f"QR code to join: {expected}" in qr


async def test_a_server_on_localhost_only_says_phones_cannot_join() -> None:
    async with running_server() as srv:
        quiz = await srv.create_quiz(count=1)
        link = (await srv.http.get(f"/api/quizzes/{quiz['pin']}/join")).json()
    assert link["reachable"] is False
    assert link["hint"] == LOCAL_ONLY_HINT
    assert link["join_url"].startswith("http://127.0.0.1:")


async def test_the_public_url_is_what_the_qr_code_says() -> None:
    async with running_server(public_url="https://quiz.school.example") as srv:
        quiz = await srv.create_quiz(count=1)
        qr = (await srv.http.get(f"/api/quizzes/{quiz['pin']}/qr.svg")).text
    assert f"QR code to join: https://quiz.school.example/play?pin={quiz['pin']}" in qr
