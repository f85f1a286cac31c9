"""The HTTP API's response bodies as typed models, for the OpenAPI document.

The request bodies are models the server validates with (:mod:`livequiz.api_models`); these are
the answers' shapes, written the same way so the whole document's schemas come from one kind of
source instead of hand-written JSON Schema. The server builds its answers as plain JSON (most
come from the pure core's views), so what holds these models to the code is the tests: every
response example of the document is the shape a live server sends and validates against its
model's schema (``tests/test_openapi.py``), and schemathesis checks every answer it provokes
against them (``tests/fuzz/test_schemathesis.py``).

A field that some answers leave out (``team`` of a player line without teams) defaults to
``None`` but is not nullable: the schema lists it as optional, not as ``null``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from livequiz.api_models import KindName, Question, Settings, absent, schemas_of
from livequiz.domain.settings import MAX_TEAMS

#: Every code an error body of this API can carry; ``tests/test_openapi.py`` checks it against
#: the code (``http_api.API_ERROR_CODES`` and the core's ``ErrorCode``).
ErrorCodeName = Literal[
    "bad_json",
    "bad_form",
    "malformed_request",
    "request_timeout",
    "bad_request",
    "bad_word_list",
    "invalid_question",
    "invalid_settings",
    "no_questions",
    "not_in_review",
    "too_large",
    "unavailable",
    "unknown_quiz",
    "nickname_invalid",
    "nickname_profane",
    "nickname_taken",
    "lobby_locked",
    "late_join_closed",
    "quiz_full",
    "quiz_finished",
    "invalid_due",
    "app_sign_in_required",
    "bad_app_token",
    "bad_api_key",
    "rate_limited",
    "auth_required",
    "bad_token",
    "forbidden",
    "kicked",
    "unknown_player",
    "not_found",
    "method_not_allowed",
    "internal",
]
PhaseName = Literal["lobby", "question_open", "question_closed", "in_progress", "finished"]
TeamName = Literal["Red", "Blue", "Green", "Yellow", "Purple", "Orange"]

Count = Annotated[int, Field(ge=0)]
Index = Annotated[int, Field(ge=0)]
Team = Annotated[int, Field(ge=0, le=MAX_TEAMS - 1)]
UserId = Annotated[
    str | None,
    Field(
        description="The learning app's id of a user who joined with its sign-in (app_token); "
        "null for a nickname join."
    ),
]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------- errors


class WordListProblem(_Answer):
    """One mistake in an own word list."""

    line: Annotated[int | None, Field(ge=1)] = Field(
        description="The line to fix (CSV: physical lines, header included; JSON: where the "
        "item starts); null for a problem of the list as a whole."
    )
    item: Annotated[int | None, Field(ge=1)] = Field(
        description="The item's position in a JSON list; null for CSV."
    )
    message: str = Field(description="What is wrong, in a teacher's words, without the line.")


class Problem(_Answer):
    """One problem of a question a creation sent."""

    question: Index = Field(description="The question's number, 1 for the first; 0 for the list.")
    field: str = Field(
        description="prompt, options, options[N] (N from 1), correct_option, kind, level, word, "
        "definition, example, or questions (the list itself)."
    )
    message: str = Field(description="What to fix.")


class ErrorDetail(_Answer):
    """What went wrong."""

    code: ErrorCodeName = Field(description="Stable and machine-readable: branch on this.")
    message: str = Field(
        description="For a developer or a user; may change between versions. For "
        "bad_word_list: the first problem ('line 3: ...'), then how many more there are ('; and "
        "2 more problems')."
    )
    errors: Annotated[list[WordListProblem], Field(max_length=50)] = absent(
        description="bad_word_list only, and always there: every problem found in the word "
        "list in one pass, in list order (a problem of the list as a whole last), at most the "
        "first 50.",
    )
    error_count: Annotated[int, Field(ge=1)] = absent(
        description="bad_word_list only, and always there: how many problems the list has in "
        "all; more than the length of errors when some were left out.",
    )
    problems: list[Problem] = absent(
        description="invalid_question only: every problem found, each naming the question and "
        "the field (the message joins them).",
    )


class Error(_Answer):
    """Every refusal, whatever the route (unknown paths and methods included)."""

    error: ErrorDetail


# ---------------------------------------------------------------------- drafts and flags


class LeftOut(_Answer):
    """A line of an own word list left out of a preview, and why."""

    line: int | None
    item: int | None
    message: str


class Draft(_Answer):
    """The questions a creation would make."""

    questions: list[Question] = Field(
        description="The questions a creation with these options would make now."
    )
    left_out: list[LeftOut] = Field(
        description="The lines of the author's word list (`words`) that have a mistake and "
        "were left out of the preview, each with why (the first 50); empty without a list or "
        "with a list without mistakes. A creation from the same list refuses it "
        "(bad_word_list); create from the previewed `questions`."
    )
    left_out_count: Count = Field(description="How many lines were left out in all.")


class Replacement(_Answer):
    """A fresh question for a draft."""

    question: Question


class Flagged(_Answer):
    """A flag taken."""

    index: Index = Field(description="The question flagged.")
    word: str
    kind: KindName
    new: bool = Field(description="false if this person had flagged it already (it counts once).")


class FlaggedQuestion(_Answer):
    """A question flagged on this server, with every flag's count and reasons."""

    word: str
    kind: KindName
    level: Literal["A1", "A2", "B1", "B2", "C1", "C2", ""]
    prompt: str = Field(description="The prompt as last flagged.")
    flags: Annotated[int, Field(ge=1)] = Field(
        description="How many people flagged it (each once per quiz)."
    )
    reasons: Annotated[list[str], Field(max_length=20)] = Field(
        description="The reasons given, newest first (empty ones left out)."
    )
    first_ms: Count = Field(description="When it was first flagged (Unix time, ms).")
    last_ms: Count = Field(description="When it was last flagged (Unix time, ms).")


class FlagList(_Answer):
    """The open flags."""

    flags: list[FlaggedQuestion] = Field(
        description="Every flagged question not cleared yet, most flagged first."
    )


class FlagsCleared(_Answer):
    """Flags cleared."""

    word: str
    kind: KindName
    cleared: Count = Field(description="Flags cleared (0 if none were open).")


# ---------------------------------------------------------------------- quizzes and players


class RejoinAnswer(_Answer):
    """A request to be an away player again, and the host's answer so far."""

    request_id: str
    status: Literal["waiting", "let_in", "turned_away"]
    nickname: str = Field(description="The player's name in the quiz.")
    token: str | None = Field(description="The player's token once let in; null otherwise.")


class JoinLink(_Answer):
    """The join link phones in the room can open."""

    pin: Annotated[str, Field(pattern="^[0-9]{6}$")]
    join_url: Annotated[str, Field(pattern="^https?://[^/?#]+(/[^?#]*)?/play[?]pin=[0-9]{6}$")] = (
        Field(description="The absolute link phones open: `<base>/play?pin=PIN`.")
    )
    reachable: bool = Field(
        description="Whether other devices can open it (false: a loopback address)."
    )
    hint: str | None = Field(description="What to do when `reachable` is false; null otherwise.")


class QuizCreated(_Answer):
    """A quiz, created in its lobby (or handed out, homework)."""

    quiz_id: str = Field(description="Internal id, never reused; the results URL uses it.")
    pin: Annotated[str, Field(pattern="^[1-9][0-9]{5}$")] = Field(
        description="The six digits players type; reused once the quiz finishes."
    )
    title: str
    host_token: str = Field(
        description="Secret of the host: WebSocket 'hello' as host, and the results. Valid for "
        "24 hours."
    )
    join_url: str = Field(description="Relative URL of the player page.")
    questions: Annotated[int, Field(ge=1)]
    settings: Settings
    due_at_ms: int | None = Field(
        description="A self-paced quiz's due time (it was created handed out, phase "
        "in_progress); null for a live quiz."
    )
    webhook_secret: str | None = Field(
        description="The signing secret of the quiz's own webhook_url, shown this once (null "
        "without one; a webhook of the API key signs with the key's)."
    )


class QuizState(_Answer):
    """A live quiz as a join page needs it."""

    pin: str
    title: str
    phase: PhaseName
    players: Count = Field(description="Players in the quiz (kicked players not counted).")
    questions: Annotated[int, Field(ge=1)] = Field(description="Questions in the quiz.")
    current: Annotated[int, Field(ge=-1)] = Field(
        description="Index of the current question; -1 in the lobby."
    )
    locked: bool = Field(description="The host locked joining.")
    joinable: bool = Field(description="A join with a free, valid nickname would be let in now.")
    due_at_ms: int | None = Field(
        description="A self-paced quiz's due time (server clock, ms since the Unix epoch); "
        "null for a live quiz."
    )
    teams: Annotated[int, Field(ge=0, le=MAX_TEAMS)] = Field(
        description="Its teams (0: none; setting `teams`)."
    )
    team_choice: bool = Field(
        description="Players pick their team as they join (`team` of the join); else they "
        "join the smallest."
    )


class Joined(_Answer):
    """A player, joined."""

    quiz_id: str
    player_id: Annotated[int, Field(ge=1)]
    nickname: str = Field(description="The nickname as normalised.")
    token: str = Field(
        description="The player's secret: keep it (local storage) to rejoin with a WebSocket "
        "'hello' and to read own results. Valid for 24 hours."
    )


# ---------------------------------------------------------------------- results and reports


class PlayerLine(_Answer):
    """A player on the host's report."""

    rank: Annotated[int, Field(ge=1)] = Field(description="Equal scores share a rank (1, 2, 2, 4).")
    player_id: int
    nickname: str
    user_id: UserId
    score: int
    correct: Count = Field(description="Correct answers.")
    answered: Count = Field(description="Answers given.")
    team: Team = absent(
        description="With teams: the player's team (0 is the first).",
    )


class TeamLine(_Answer):
    """A team on the board."""

    team: Team = Field(description="The team (0 is the first).")
    name: TeamName
    score: Count = Field(description="The average of its members' scores, rounded down.")
    members: Count = Field(description="Its players on the board.")
    rank: Annotated[int, Field(ge=1)] = Field(description="Equal averages share a rank.")


class QuestionStats(_Answer):
    """A question of the host's report, with how it was answered."""

    index: Index
    kind: str
    prompt: str
    word: str
    options: list[str]
    correct_option: Index
    option_counts: list[Count]
    correct: Count = Field(description="How many players chose the correct option.")
    most_picked_wrong: int | None = Field(
        description="The wrong option chosen most often; null if nobody was wrong."
    )


class HostReport(_Answer):
    """The teacher's report: every player by rank, and every question asked and closed so far
    (an open question is never included)."""

    phase: PhaseName
    players: list[PlayerLine]
    questions: list[QuestionStats]
    teams: list[TeamLine] = absent(
        description="With teams only: the team board, best average first.",
    )


class WrongPick(_Answer):
    """The wrong option picked most."""

    option: Index
    text: str
    count: Annotated[int, Field(ge=1)]


class ReportWord(_Answer):
    """A word of the class report."""

    index: Index
    word: str
    kind: KindName
    prompt: str
    answer: str = Field(description="The right option's text.")
    asked: Count = Field(
        description="Players it was put to: live, who had joined before it closed; homework, "
        "who opened it."
    )
    answered: Count = Field(description="Of those, who answered.")
    correct: Count = Field(description="Of those, who answered right.")
    share_correct: Annotated[float | None, Field(ge=0, le=1)] = Field(
        description="correct / asked (not answering is not knowing); null if it was put to nobody."
    )
    average_ms: Annotated[int | None, Field(ge=0)] = Field(
        description="Mean time of the answers given, right or wrong."
    )
    most_picked_wrong: WrongPick | None = Field(
        description="The wrong option chosen most (the first on a tie); null if nobody chose a "
        "wrong one."
    )
    to_reteach: bool


class ReportCell(_Answer):
    """A student's answer to one reported question."""

    index: Index
    option: int | None = Field(description="null: asked, not answered.")
    correct: bool
    points: Count
    elapsed_ms: Annotated[int | None, Field(ge=0)]


class ReportStudent(_Answer):
    """A student of the class report."""

    rank: Annotated[int, Field(ge=1)]
    player_id: Annotated[int, Field(ge=1)]
    nickname: str
    user_id: UserId
    score: Count
    asked: Count
    answered: Count
    correct: Count
    average_ms: Annotated[int | None, Field(ge=0)]
    cells: list[ReportCell | None] = Field(
        description="One per reported question, in quiz order (the words' index): null if it "
        "was never put to this student."
    )


class ClassReport(_Answer):
    """Which words the class did not know, and how each student did: questions that have closed
    (a live quiz), or every question once the quiz has finished (homework). Figures:
    docs/protocol.md, 'The teacher's report'."""

    phase: PhaseName
    words: list[ReportWord] = Field(
        description="Hardest first: the lowest share correct, then the slowest average time, "
        "then quiz order."
    )
    reteach: list[str] = Field(
        description="The words fewer than 80 % of those asked knew, hardest first."
    )
    students: list[ReportStudent] = Field(description="By rank (removed players left out).")


class MissedWord(_Answer):
    """A word a player missed, for their review."""

    index: Index
    word: str
    definition: str
    example: str = Field(description="May be empty.")
    answered: int | None = Field(
        description="The option the player chose; null if they did not answer."
    )
    correct_option: Index


class PlayerResults(_Answer):
    """One player's own results, with the words they missed for review."""

    score: int
    rank: Annotated[int, Field(ge=1)]
    players: Annotated[int, Field(ge=1)] = Field(description="Players on the board.")
    player_id: int
    nickname: str
    correct: Count
    answered: Count
    missed: list[MissedWord] = Field(
        description="Closed questions answered wrongly or not at all, in order."
    )


# ---------------------------------------------------------------------- operations


class Health(_Answer):
    """The process answers."""

    status: Literal["ok"]


class Readiness(_Answer):
    """Whether the process can do its work now."""

    status: Literal["ready", "starting", "unavailable"]
    reason: str = absent(
        description="What keeps the process from working (absent when ready).",
    )


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Error,
    Draft,
    Replacement,
    Flagged,
    FlagList,
    FlagsCleared,
    RejoinAnswer,
    JoinLink,
    QuizCreated,
    QuizState,
    Joined,
    HostReport,
    ClassReport,
    PlayerResults,
    Health,
    Readiness,
)


def response_schemas() -> dict[str, Any]:
    """The schemas of the answers (and what they hold), by name, for ``components.schemas``."""
    return schemas_of(RESPONSE_MODELS)
