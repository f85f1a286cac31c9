"""The teacher stays in charge, in Chromium: the preview of every question before the quiz
exists (replace one, edit one, create from the list as edited), on a desktop, by keyboard on a
360 px phone; and flags: a player at the reveal and in the review, the host at the reveal, the
host's list with the reasons and counts, and clearing it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.harness import (
    Harness,
    correct_option,
    eventually,
    join_in_ui,
    press_tab_until,
    session_for_pin,
    wrong_option,
)
from tests.server import RunningServer

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Four B1 words: a draft of four word_to_meaning questions asks all of them.
FOUR_WORDS = "word,level\nharbour,B1\nbrave,B1\nancient,B1\nwhisper,B1\n"


async def preview_in_ui(host: Page, *, count: int, level: str = "B1") -> Locator:
    """Fill the form (one level, the default kinds) and ask for the preview; returns the items."""
    await expect(host.locator("#create-form")).to_be_visible()
    await host.locator(f'input[name="level"][value="{level}"]').check()
    await host.locator("#count").fill(str(count))
    await host.locator("#preview-button").click()
    items = host.locator("#preview-list > li")
    await expect(items).to_have_count(count)
    await expect(host.locator("#create-section")).to_be_hidden()
    return items


async def shown(item: Locator) -> dict[str, Any]:
    """What a preview item shows: prompt, options, the one marked right, and its tags."""
    options = await item.locator(".preview-options > li .text").all_inner_texts()
    right = item.locator(".preview-options > li.right")
    await expect(right).to_have_count(1)
    return {
        "prompt": await item.locator(".preview-prompt").inner_text(),
        "options": options,
        "right": await right.locator(".text").inner_text(),
        "kind": await item.locator(".tag.kind").inner_text(),
        "level": await item.locator(".tag.level").inner_text(),
        "word": (await item.locator(".tag.word").inner_text()).removeprefix("Word: "),
    }


async def pin_of(host: Page) -> str:
    pin_display = host.locator("#pin-display")
    await expect(pin_display).to_have_text(re.compile(r"\d{6}"))
    return (await pin_display.inner_text()).strip()


async def test_preview_replace_edit_then_create(harness: Harness, srv: RunningServer) -> None:
    host = await harness.open("/host", "desktop", name="host")
    items = await preview_in_ui(host, count=4)
    before = [await shown(items.nth(i)) for i in range(4)]
    for question in before:
        assert question["level"] == "Level B1"
        assert question["kind"] in ("Word → meaning", "Meaning → word")
        assert question["right"] in question["options"]

    # Replace question 2: same kind and level, a word not in the draft.
    await host.get_by_role("button", name="Replace question 2").click()
    await expect(items.nth(1).locator(".tag.word")).not_to_have_text(f"Word: {before[1]['word']}")
    replaced = await shown(items.nth(1))
    assert (replaced["kind"], replaced["level"]) == (before[1]["kind"], before[1]["level"])
    assert replaced["word"] not in {q["word"] for q in before}
    await expect(host.get_by_role("button", name="Replace question 2")).to_be_focused()

    # Edit question 1: new wording, a new second answer, and the third answer is the right one.
    await host.get_by_role("button", name="Edit question 1").click()
    edit = items.nth(0)
    await expect(edit.locator("form.edit-form")).to_be_visible()
    await edit.get_by_label("Question", exact=True).fill("Which meaning fits best?")
    await edit.get_by_label("Answer B", exact=True).fill("a brand new answer")
    await edit.get_by_label("Answer C is the right one").check()
    await edit.get_by_role("button", name="Save").click()
    await expect(items.nth(0).locator(".preview-prompt")).to_have_text("Which meaning fits best?")
    edited = await shown(items.nth(0))
    assert edited["options"][1] == "a brand new answer"
    assert edited["right"] == edited["options"][2]

    # Create: the quiz is the list exactly as the teacher left it.
    await host.locator("#preview-create").click()
    pin = await pin_of(host)
    questions = session_for_pin(srv, pin).questions
    assert [q.prompt for q in questions[1:]] == [
        replaced["prompt"],
        before[2]["prompt"],
        before[3]["prompt"],
    ]
    assert questions[0].prompt == "Which meaning fits best?"
    assert questions[0].options[1] == "a brand new answer"
    assert questions[0].correct_option == 2
    assert questions[1].word == replaced["word"]
    assert [q.answer for q in questions[1:]] == [
        replaced["right"],
        before[2]["right"],
        before[3]["right"],
    ]
    assert all(q.level == "B1" for q in questions)


async def test_an_edit_with_a_mistake_is_not_saved(harness: Harness) -> None:
    host = await harness.open("/host", "desktop", name="host")
    items = await preview_in_ui(host, count=2)
    original = await shown(items.nth(0))
    await host.get_by_role("button", name="Edit question 1").click()
    edit = items.nth(0)
    await edit.get_by_label("Answer B", exact=True).fill(original["options"][0].upper())
    await edit.get_by_role("button", name="Save").click()
    await expect(edit.locator(".problem")).to_have_text(
        "Two answers are the same: make them differ."
    )
    await edit.get_by_role("button", name="Cancel").click()
    assert await shown(items.nth(0)) == original
    # Back to the options, and the ordinary create still works.
    await host.locator("#preview-back").click()
    await expect(host.locator("#create-form")).to_be_visible()
    await expect(host.locator("#preview-button")).to_be_focused()


async def test_the_preview_by_keyboard_on_a_360_px_phone(
    harness: Harness, srv: RunningServer
) -> None:
    context = await harness.browser.new_context(
        base_url=srv.base_url,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
    )
    harness.contexts.append(context)
    host = await harness.open("/host", name="host on a small phone", context=context)
    await host.locator('input[name="level"][value="A2"]').check()
    await host.locator("#count").fill("3")
    await press_tab_until(host, "#preview-button")
    await host.keyboard.press("Enter")
    items = host.locator("#preview-list > li")
    await expect(items).to_have_count(3)
    assert await host.evaluate("document.documentElement.scrollWidth") <= 360

    await press_tab_until(host, 'button[aria-label="Edit question 3"]')
    await host.keyboard.press("Enter")
    prompt = items.nth(2).get_by_label("Question", exact=True)
    await expect(prompt).to_be_focused()
    await prompt.fill("A question typed on a phone?")
    await host.keyboard.press("Enter")  # submits the edit form: saved
    await expect(items.nth(2).locator(".preview-prompt")).to_have_text(
        "A question typed on a phone?"
    )
    await expect(host.get_by_role("button", name="Edit question 3")).to_be_focused()
    assert await host.evaluate("document.documentElement.scrollWidth") <= 360

    await press_tab_until(host, "#preview-create")
    await host.keyboard.press("Enter")
    pin = await pin_of(host)
    assert session_for_pin(srv, pin).questions[2].prompt == "A question typed on a phone?"


async def test_replace_says_so_when_no_word_is_left(harness: Harness) -> None:
    harness.console.allow(r"Failed to load resource: .* 422")
    host = await harness.open("/host", "desktop", name="host")
    for kind in ("meaning_to_word",):
        await host.locator(f'input[name="kind"][value="{kind}"]').uncheck()
    await host.locator("#words-file").set_input_files(
        {"name": "words.csv", "mimeType": "text/csv", "buffer": FOUR_WORDS.encode()}
    )
    await host.locator("#count").fill("4")
    await host.locator("#preview-button").click()
    items = host.locator("#preview-list > li")
    await expect(items).to_have_count(4)
    words = {(await shown(items.nth(i)))["word"] for i in range(4)}
    assert words == {"harbour", "brave", "ancient", "whisper"}
    await host.get_by_role("button", name="Replace question 1").click()
    await expect(host.locator("#message")).to_have_text(
        "No other B1 word is left for this kind of question: edit it instead."
    )
    await expect(items).to_have_count(4)


async def test_players_and_the_host_flag_and_the_host_clears(
    harness: Harness, srv: RunningServer
) -> None:
    host = await harness.open("/host", "desktop", name="host")
    items = await preview_in_ui(host, count=2, level="C1")
    await expect(items.first).to_be_visible()
    await host.locator("#preview-create").click()
    pin = await pin_of(host)
    session = session_for_pin(srv, pin)
    first, second = session.questions

    anna = await harness.open(f"/play?pin={pin}", "phone", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(anna.locator("#lobby")).to_be_visible()
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)
    await host.locator("#start-button").click()

    # While the question is open there is nothing to flag.
    await expect(anna.locator("#prompt")).to_have_text(first.prompt)
    await expect(anna.locator("#flag-box")).to_be_hidden()
    await anna.locator(f'button.option[data-option="{correct_option(srv, pin)}"]').click()
    await expect(anna.locator("#reveal")).to_be_visible()  # all answered: closed

    # At the reveal, Anna flags question 1 with a reason.
    await anna.get_by_role("button", name="Flag this question: question 1").click()
    await anna.get_by_label("What is wrong with it? (optional)").fill("two answers fit")
    await anna.get_by_role("button", name="Send flag").click()
    await expect(anna.locator("#flag-box .flag-status")).to_contain_text("your teacher")
    await expect(anna.locator("#flag-box .flag-open")).to_be_disabled()

    # The host flags it too, and sees it in the list: two flags, Anna's reason.
    await host.get_by_role("button", name="Flag this question: question 1").click()
    await host.locator("#host-flag .flag-send").click()
    flag_line = host.locator(f'#flags-list li[data-word="{first.word}"][data-kind="{first.kind}"]')
    await expect(flag_line).to_contain_text("2 flags")
    await expect(flag_line).to_contain_text("two answers fit")

    # Question 2: Anna misses it, and flags it in the review of missed words after the quiz.
    await host.locator("#next-button").click()
    await expect(anna.locator("#prompt")).to_have_text(second.prompt)
    await anna.locator(f'button.option[data-option="{wrong_option(srv, pin)}"]').click()
    await expect(anna.locator("#reveal")).to_be_visible()
    await host.locator("#next-button").click()  # "Finish quiz"
    review = anna.locator("#review li", has_text=second.word)
    await expect(review).to_be_visible()
    flag = f"Flag this question: the question on '{second.word}'"
    await review.get_by_role("button", name=flag).click()
    await review.locator(".flag-send").click()
    await expect(review.locator(".flag-status")).to_contain_text("your teacher")

    async def both_stored() -> None:
        listed = {(f.word, f.kind): f.flags for f in await srv.server.records.open_flags()}
        assert listed.get((first.word, first.kind)) == 2
        assert listed.get((second.word, second.kind)) == 1

    await eventually(both_stored)

    # The host refreshes the list and clears the first question's flags.
    await host.locator("#flags-refresh").click()
    second_line = host.locator(f'#flags-list li[data-word="{second.word}"]')
    await expect(second_line).to_contain_text("1 flag")
    await flag_line.get_by_role("button", name=re.compile("^Clear the flags of")).click()
    await expect(flag_line).to_have_count(0)
    await expect(second_line).to_be_visible()
    listed = {(f.word, f.kind) for f in await srv.server.records.open_flags()}
    assert (first.word, first.kind) not in listed
    assert (second.word, second.kind) in listed


async def test_a_question_with_six_options_is_played_on_a_phone(
    harness: Harness, srv: RunningServer
) -> None:
    options = ["big", "small", "tall", "short", "wide", "narrow"]
    question = {
        "prompt": "Which word means 'not wide'?",
        "options": options,
        "correct_option": 5,
        "kind": "meaning_to_word",
        "word": "narrow",
    }
    response = await srv.http.post("/api/quizzes", json={"questions": [question]})
    assert response.status_code == 201, response.text
    quiz = response.json()
    host = await harness.open("/host", "desktop", name="host")
    await host.evaluate(
        "session => sessionStorage.setItem('livequiz.host', JSON.stringify(session))",
        {k: quiz[k] for k in ("quiz_id", "pin", "host_token")},
    )
    await host.reload()
    anna = await harness.open(f"/play?pin={quiz['pin']}", "phone", name="Anna")
    await join_in_ui(anna, "Anna")
    await expect(host.locator("#players li[data-player-id]")).to_have_count(1)
    await host.locator("#start-button").click()

    buttons = anna.locator("button.option:visible")
    await expect(buttons).to_have_count(6)
    assert [t.strip() for t in await buttons.locator(".text").all_inner_texts()] == options
    await expect(host.locator("#host-options li")).to_have_count(6)
    await expect(host.locator("#host-options li").nth(5)).to_contain_text("F")
    await anna.keyboard.press("f")  # key F (or 6) picks the sixth option
    await expect(anna.locator("#result")).to_contain_text("Right")
    player = next(iter(session_for_pin(srv, quiz["pin"]).players.values()))
    assert player.correct_count == 1
