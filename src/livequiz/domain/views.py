"""What each audience may see of a quiz, as plain JSON-ready dicts.

The one rule that matters most lives here: while a question is open, no view, the host's
included, holds its correct option, nor anything that gives it away (the headword of a
meaning → word question is its answer, so the word and definition wait for the reveal too).
In ``at_close`` reveal mode, a player's own result and score for the open question wait as well.

Views are built from the session on demand (a join, a rejoin, a question close); the frequent
leaderboard frame is :func:`leaderboard`, built once per tick and shared by every connection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from livequiz.domain.question import Question
from livequiz.domain.session import AnswerRecord, Phase, Player, QuizSession
from livequiz.domain.settings import QuizSettings, RevealMode

JSON = dict[str, Any]

#: The teams' names, in team order (``teams``: 2 to 6); pages give each its colour and shape.
TEAM_NAMES = ("Red", "Blue", "Green", "Yellow", "Purple", "Orange")


def question_view(session: QuizSession, now_ms: int, player_id: int | None = None) -> JSON | None:
    """The current question as players see it; the answer only once it has closed.

    ``None`` in the lobby, and always in a self-paced quiz (each player has their own:
    :func:`own_question_view`)."""
    if session.question is None:
        return None
    is_open = session.phase is Phase.QUESTION_OPEN
    extra = 0 if player_id is None else session.extra_ms(player_id)
    view = question_at(
        session.questions,
        session.settings,
        session.current,
        session.closes_at_ms,
        now_ms,
        is_open=is_open,
        player_id=player_id,
        extra_ms=extra,
        options_at_ms=session.options_at_ms,
    )
    if not is_open and session.next_at_ms is not None and session.phase is Phase.QUESTION_CLOSED:
        view["next_in_ms"] = max(session.next_at_ms - now_ms, 0)
    if is_open and session.paused_at_ms is not None:
        # the clock stands still: the time left is what it was at the pause
        view["paused"] = True
        view["remaining_ms"] = max(session.closes_at_ms + extra - session.paused_at_ms, 0)
    return view


def option_order(player_id: int, index: int, question: Question) -> list[int]:
    """The order player ``player_id`` sees the options of question ``index`` in, with the
    setting ``shuffle_options``: ``order[k]`` is the question's option shown in place ``k``.

    The same for that player on every process, every reconnect and every replay (a seeded
    shuffle of the player, the question and its prompt; nothing stored): answers, reveals,
    counts and reports all keep the question's own order, and only the player's screen maps.
    (Sorting by a hash of each place, not :mod:`random`: the core draws nothing at random.)"""

    def rank(option: int) -> bytes:
        key = f"{player_id}:{index}:{option}:{question.prompt}".encode()
        return hashlib.blake2b(key, digest_size=8).digest()

    return sorted(range(len(question.options)), key=rank)


def question_at(
    questions: Sequence[Question],
    settings: QuizSettings,
    index: int,
    closes_at_ms: int,
    now_ms: int,
    *,
    is_open: bool,
    player_id: int | None = None,
    extra_ms: int = 0,
    options_at_ms: int | None = None,
) -> JSON:
    """Question ``index`` as players see it at ``now_ms``: from the quiz's definition and the
    moment it closes, never from the session's current state, so the frame of a question
    that opened in the middle of a batch shows that question, whatever the batch did next.

    With ``shuffle_options``, a player's view (``player_id``) lists the options in that
    player's order and says which is which (``order``); the host's and the big screen's keep
    the question's order. A player with extra time (``extra_ms``) gets their own deadline,
    and how much later it is than everyone's (the ``resumed`` frame after a pause carries
    everyone's). While the question's reading time runs (``options_at_ms``), the options are
    not listed yet: the ``options`` frame brings them."""
    question = questions[index]
    closes_at_ms += extra_ms
    reading = is_open and options_at_ms is not None
    options = list(question.options)
    order = None
    if reading:
        options = []
    elif settings.shuffle_options and player_id is not None:
        order = option_order(player_id, index, question)
        options = [options[k] for k in order]
    view: JSON = {
        "index": index,
        "count": len(questions),
        "kind": question.kind,
        "prompt": question.prompt,
        "options": options,
        "closes_at_ms": closes_at_ms,
        "remaining_ms": max(closes_at_ms - now_ms, 0),
        "time_limit_ms": settings.time_limit_ms,
        "open": is_open,
    }
    if order is not None:
        view["order"] = order
    if extra_ms:
        view["extra_ms"] = extra_ms
    if reading:
        assert options_at_ms is not None
        view["options_at_ms"] = options_at_ms
        view["options_in_ms"] = max(options_at_ms - now_ms, 0)
    if not is_open:
        view["reveal"] = reveal(question)
    return view


def options_view(
    question: Question, settings: QuizSettings, index: int, player_id: int | None = None
) -> JSON:
    """The options of question ``index`` once its reading time is over, as one player (in
    their order, with ``shuffle_options``) or the host and the big screen see them."""
    view: JSON = {"index": index, "options": list(question.options)}
    if settings.shuffle_options and player_id is not None:
        order = option_order(player_id, index, question)
        view["options"] = [question.options[k] for k in order]
        view["order"] = order
    return view


def own_question_view(session: QuizSession, player: Player, now_ms: int) -> JSON | None:
    """Self-paced: the player's own current question (``None`` before their first), its
    answer only once it has closed for them."""
    if player.at < 0:
        return None
    return question_at(
        session.questions,
        session.settings,
        player.at,
        player.closes_at_ms,
        now_ms,
        is_open=not player.at_closed,
        player_id=player.id,
    )


def progress(session: QuizSession, player: Player) -> JSON:
    """Self-paced: how far a player has got, and when the quiz is due."""
    return {
        "due_at_ms": session.due_at_ms,
        # questions closed for them: none before their first, then up to the current one
        "done": max(player.at, 0) + int(player.at_closed),
        "count": len(session.questions),
        "finished": player.finished,
    }


def reveal(question: Question) -> JSON:
    """The answer to a closed question, with what a learner should remember of it."""
    return {
        "correct_option": question.correct_option,
        "word": question.word,
        "definition": question.definition,
        "example": question.example,
    }


def leaderboard(session: QuizSession) -> JSON:
    """The shared frame of one tick: top-K, counts and the sequence number it is current to."""
    return {
        "seq": session.seq,
        "phase": session.phase.value,
        "players": len(session.board),
        "answered": session.answered_count if session.phase is Phase.QUESTION_OPEN else None,
        "top": [
            {
                "player_id": placing.player_id,
                "nickname": session.players[placing.player_id].nickname,
                "score": placing.score,
                "rank": placing.rank,
            }
            for placing in session.board.top(session.settings.top_k)
        ],
        **({"teams": team_board(session)} if session.settings.teams else {}),
    }


def team_board(session: QuizSession) -> list[JSON]:
    """Every team's line: its members' average score (rounded down), how many are on the
    board, its rank (equal averages share one)."""
    return [
        {
            "team": placing.team,
            "name": TEAM_NAMES[placing.team],
            "score": placing.score,
            "members": placing.members,
            "rank": placing.rank,
        }
        for placing in session.board.teams()
    ]


def answer_result(session: QuizSession, record: AnswerRecord) -> JSON:
    """What the answerer learns of their own answer, right away or (``at_close``) later."""
    result: JSON = {"index": record.index, "option": record.option}
    hidden = (
        session.settings.reveal is RevealMode.AT_CLOSE
        and session.phase is Phase.QUESTION_OPEN
        and session.current == record.index
    )
    if hidden:
        result["revealed"] = False
        return result
    result.update(
        revealed=True,
        correct=record.correct,
        points=record.points,
        score=record.score,
        streak=record.streak,
    )
    return result


def standing(session: QuizSession, player: Player) -> JSON:
    """A player's own score and rank, as the board currently shows them."""
    if player.kicked or not player.approved:
        return {"score": player.published_score, "rank": None, "players": len(session.board)}
    view: JSON = {
        "score": player.published_score,
        "rank": session.board.rank_of(player.id),
        "players": len(session.board),
    }
    team = session.board.team_of(player.id)
    if team is not None:
        view["team"] = team
        view["team_rank"] = next(t.rank for t in session.board.teams() if t.team == team)
    return view


def ahead(session: QuizSession, player: Player) -> JSON | None:
    """Who a player has to catch ("120 points behind Mia"): the nearest player with more
    points, as the board shows them; ``None`` for a leader or a removed player."""
    if player.kicked or not player.approved:
        return None
    placing = session.board.ahead_of(player.id)
    if placing is None:
        return None
    return {
        "player_id": placing.player_id,
        "nickname": session.players[placing.player_id].nickname,
        "score": placing.score,
        "rank": placing.rank,
    }


def player_view(session: QuizSession, player_id: int, now_ms: int) -> JSON:
    """Everything one player needs to draw their screen: the snapshot after a (re)join."""
    player = session.player(player_id)
    paced = session.self_paced
    own_answer = player.answers.get(player.at if paced else session.current)
    view: JSON = {
        "seq": session.seq,
        "phase": session.phase.value,
        "player": {
            "player_id": player.id,
            "nickname": player.nickname,
            "streak": player.published_streak,
            "kicked": player.kicked,
            "approved": player.approved,
            **standing(session, player),
        },
        "question": own_question_view(session, player, now_ms)
        if paced
        else question_view(session, now_ms, player.id),
        "answer": None if own_answer is None else answer_result(session, own_answer),
        "leaderboard": leaderboard(session),
    }
    if not paced and session.phase in (Phase.QUESTION_OPEN, Phase.QUESTION_CLOSED):
        # A late joiner may land between questions: the closed one was not put to them, so
        # their screen says so rather than "no answer" (and it is not in their review).
        view["asked"] = session.phase is Phase.QUESTION_OPEN or session.was_asked(
            player, session.current
        )
    if paced:
        view["progress"] = progress(session, player)
    return view


def host_view(session: QuizSession, now_ms: int) -> JSON:
    """The host's screen: the players' view plus who is here and the quiz's settings."""
    return {
        "seq": session.seq,
        "phase": session.phase.value,
        "locked": session.locked,
        "question": question_view(session, now_ms),
        "answered": session.answered_count,
        "present": session.present_count,
        "players": [
            {
                "player_id": player.id,
                "nickname": player.nickname,
                "present": player.present,
                "score": player.published_score,
                **(
                    {"progress": progress(session, player)}
                    if session.self_paced
                    else {"answered": session.current in player.answers}
                ),
                "asks_to_rejoin": session.asks_to_rejoin(player.id),
                "approved": player.approved,
                "extra_percent": player.extra_percent,
                **({"team": session.board.team_of(player.id)} if session.settings.teams else {}),
            }
            for player in session.players.values()
            if not player.kicked
        ],
        "leaderboard": leaderboard(session),
        "settings": session.settings.to_mapping(),
        **({"due_at_ms": session.due_at_ms} if session.self_paced else {}),
    }


def player_results(session: QuizSession, player_id: int) -> JSON:
    """A player's final results: score, rank, counts and the words they missed, for review."""
    player = session.player(player_id)
    missed = [
        {
            "index": index,
            "word": question.word,
            "definition": question.definition,
            "example": question.example,
            "answered": player.answers[index].option if index in player.answers else None,
            "correct_option": question.correct_option,
        }
        for index, question in enumerate(session.questions[: _asked_of(session, player)])
        if session.was_asked(player, index)
        and not (index in player.answers and player.answers[index].correct)
    ]
    return {
        **standing(session, player),
        "player_id": player.id,
        "nickname": player.nickname,
        "correct": _visible_correct(session, player),
        "answered": len(player.answers),
        "missed": missed,
    }


def final_results(session: QuizSession) -> JSON:
    """The teacher's report: every player's line and every asked question's statistics."""
    players = [
        {
            "rank": placing.rank,
            "player_id": placing.player_id,
            "nickname": session.players[placing.player_id].nickname,
            "user_id": session.players[placing.player_id].user_id,
            "score": placing.score,
            "correct": _visible_correct(session, session.players[placing.player_id]),
            "answered": len(session.players[placing.player_id].answers),
            **(
                {"team": session.board.team_of(placing.player_id)} if session.settings.teams else {}
            ),
        }
        for placing in session.board
    ]
    questions = []
    # Self-paced, a question stays open for whoever has not reached it until the quiz is due:
    # its statistics (and answer) wait for the finish, as a live question's wait for its close.
    asked = session.current + 1
    if session.self_paced:
        asked = 0
        if session.phase is Phase.FINISHED:
            asked = max((p.at + 1 for p in session.players.values()), default=0)
    for index, question in enumerate(session.questions[:asked]):
        if not session.self_paced and (not _closed(session, index) or index in session.skipped):
            continue
        counts = [0] * len(question.options)
        for player in session.players.values():
            record = player.answers.get(index)
            if record is not None:
                counts[record.option] += 1
        wrong = [
            (count, option)
            for option, count in enumerate(counts)
            if option != question.correct_option
        ]
        top_wrong = max(wrong)
        questions.append(
            {
                "index": index,
                "kind": question.kind,
                "prompt": question.prompt,
                "word": question.word,
                "options": list(question.options),
                "correct_option": question.correct_option,
                "option_counts": counts,
                "correct": counts[question.correct_option],
                "most_picked_wrong": top_wrong[1] if top_wrong[0] > 0 else None,
            }
        )
    report: JSON = {"phase": session.phase.value, "players": players, "questions": questions}
    if session.settings.teams:
        report["teams"] = team_board(session)
    return report


def _asked_of(session: QuizSession, player: Player) -> int:
    """How many questions have been asked of this player (the first ones, in order)."""
    return player.at + 1 if session.self_paced else session.current + 1


def _closed(session: QuizSession, index: int) -> bool:
    """Whether question ``index`` has been asked and closed (its answer may be shown)."""
    return index < session.current or session.phase in (Phase.QUESTION_CLOSED, Phase.FINISHED)


def _visible_correct(session: QuizSession, player: Player) -> int:
    """Correct answers, not counting the open question's while ``at_close`` hides results."""
    hidden = (
        session.settings.reveal is RevealMode.AT_CLOSE
        and session.phase is Phase.QUESTION_OPEN
        and (record := player.answers.get(session.current)) is not None
        and record.correct
    )
    return player.correct_count - int(hidden)
