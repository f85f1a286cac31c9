"""The HTTP API's request bodies as typed models: one source for what the server accepts and for
what the OpenAPI document says it accepts.

Why models: the document used to be written by hand beside hand-written checks, and the two
drifted (an outside schema fuzzer found bodies the document allowed and the server refused).
Now each request body is a pydantic model (strict: ``1.0`` or ``true`` is no whole number;
unknown fields refused where the server refuses them); ``http_api`` validates every body with
its model (:func:`parse`), and ``openapi`` takes the bodies' schemas from
:func:`request_schemas`, so they cannot drift. (The answers' shapes are models too, in
:mod:`livequiz.api_responses`.) Why pydantic and not msgspec: docs/design.md, "The HTTP
contract: one set of models".

Who words a refusal. The HTTP layer's own rules (types, lengths, unknown fields) are refused
with the code and message of the field's :class:`Refusal`, the ones the API always sent (the
tests pin them). Some fields hold values whose rules belong to the pure core, the one place for
quiz rules: settings (:class:`~livequiz.domain.settings.QuizSettings`), the due time, edited
questions, levels and kinds, nicknames after normalisation, a team, the app's token, a flag's
index past the quiz's questions. For those the model mirrors the core's bounds, so the document
states them, and the core checks the value and words the refusal (:attr:`Refusal.core_decides`);
``tests/test_api_models.py`` holds the model, the document and the core to one verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import models_json_schema

from livequiz import identity, webhooks
from livequiz.domain import flags
from livequiz.domain.question import (
    MAX_OPTION_CHARS,
    MAX_OPTIONS,
    MAX_PROMPT_CHARS,
    MAX_QUESTIONS,
    MAX_TEXT_CHARS,
    MAX_WORD_CHARS,
    MIN_OPTIONS,
)
from livequiz.domain.settings import MAX_TEAMS

JSON = dict[str, Any]
M = TypeVar("M", bound=BaseModel)

# ---------------------------------------------------------------------- bounds

#: The CEFR levels and question kinds as a request writes them (``Level``, ``QuestionKind``:
#: a test holds these lists to the enums).
LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
KINDS = ("word_to_meaning", "meaning_to_word", "synonym", "fill_blank", "listening")
LevelName = Literal["A1", "A2", "B1", "B2", "C1", "C2"]
KindName = Literal["word_to_meaning", "meaning_to_word", "synonym", "fill_blank", "listening"]

#: Questions a generated quiz may have.
MIN_COUNT, MAX_COUNT, DEFAULT_COUNT = 1, 100, 10
#: Seeds are read as 64-bit integers (orjson reads a longer number as a float, refused).
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1
#: ``time_limit_s``, the shorthand of ``settings.time_limit_ms``.
MIN_TIME_LIMIT_S, MAX_TIME_LIMIT_S = 1, 600
#: More than the six levels and five kinds; bounds what an error message echoes.
MAX_CHOICES = 20
MAX_CHOICE_CHARS = 32
MAX_TITLE_CHARS = 80
DEFAULT_TITLE = "Vocabulary quiz"
#: Longest nickname text worth normalising (as over the WebSocket): the rules allow 20.
MAX_NICKNAME_CHARS = 64
#: Words of a draft a replacement must not ask: at most a quiz's worth, each a word's length.
MAX_AVOID = 100
MAX_AVOID_CHARS = 50
#: The latest due time a JSON number holds exactly (the core bounds it to 90 days from now).
MAX_DUE_AT_MS = 2**53 - 1

#: One line of text with something in it: no control character (Unicode category Cc), and not
#: only spaces (the server strips them). Titles.
ONE_LINE = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
#: A nickname before the core's normalisation: something besides white space, and no control
#: character but white space (a tab or a line break is white space, which the rules turn into
#: one space: "An\tna" is "An na").
NICKNAME_TEXT = (
    "^[^\\x00-\\x08\\x0e-\\x1b\\x7f-\\x84\\x86-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f]"
    "[^\\x00-\\x08\\x0e-\\x1b\\x7f-\\x84\\x86-\\x9f]*$"
)
#: One line of plain text, possibly empty: no control or private-use character (categories
#: Cc, Co). The server also refuses lone surrogates (Cs); the pattern cannot say so, as a
#: surrogate range is not a valid class in every validator's regular expressions (Rust's
#: regex, under jsonschema-rs, refuses the whole pattern). Flag reasons.
PLAIN_LINE = "^[^\\x00-\\x1f\\x7f-\\x9f\\ue000-\\uf8ff\U000f0000-\U0010ffff]*$"
#: An http(s) URL with a host (the scheme in any case, as the server reads it).
WEBHOOK_URL = "^[hH][tT][tT][pP][sS]?://[^\\s/?#]+"
BASE64 = "^[A-Za-z0-9+/]*={0,2}$"


# ---------------------------------------------------------------------- refusals


@dataclass(frozen=True, slots=True)
class Refusal:
    """How the API refuses a field the model refused: its error code and message (the message
    may depend on the value). ``core_decides``: for a value it says true of, the rule is the
    core's; the model's verdict stands aside, the core checks the value and words the refusal
    (or accepts it, so the core stays the one place for quiz rules)."""

    message: str | Callable[[object], str]
    code: str = "bad_request"
    core_decides: Callable[[object], bool] | None = None

    def message_for(self, value: object) -> str:
        return self.message if isinstance(self.message, str) else self.message(value)


class BodyRefused(Exception):
    """A request body the model refused: the code and message of the first refused field
    (``http_api`` turns it into the JSON error body, with the status of its code)."""

    def __init__(self, code: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _always(_value: object) -> bool:
    return True


def _is_int(value: object) -> bool:
    return type(value) is int


def _is_whole_index(value: object) -> bool:
    return type(value) is int and value >= 0


def _is_object(value: object) -> bool:
    return isinstance(value, dict)


def _short_strings(value: object) -> bool:
    """A list the HTTP layer takes as levels or kinds: the core judges its values."""
    return (
        isinstance(value, list)
        and len(value) <= MAX_CHOICES
        and all(isinstance(v, str) and len(v) <= MAX_CHOICE_CHARS for v in value)
    )


def _short_string(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_CHOICE_CHARS


def _title_message(value: object) -> str:
    if isinstance(value, str) and value.strip() and len(value) <= MAX_TITLE_CHARS:
        return "title must be one line of text"
    return f"title must be 1 to {MAX_TITLE_CHARS} characters"


def _seed_message(value: object) -> str:
    if type(value) is int:
        return "seed must fit in 64 bits (a signed integer)"
    return "seed must be a whole number"


def _nickname_message(value: object) -> str:
    if not isinstance(value, str):
        return "nickname must be a string"
    return "that nickname is far too long"


def _nickname_is_text(value: object) -> bool:
    """Text of a sane length: the nickname rules (after Unicode normalisation) are the core's."""
    return isinstance(value, str) and len(value) <= MAX_NICKNAME_CHARS


def _reason_message(value: object) -> str:
    return flags.reason_problem(value) or "reason must be one line of plain text"


def _webhook_message(value: object) -> str:
    try:
        webhooks.check_url(value)
    except ValueError as error:
        return str(error)
    return "webhook_url must be an http:// or https:// URL"


def _upper_stripped(value: object) -> object:
    """Levels are read in any case, with spaces around ("b1 " is B1), as the core reads them."""
    return value.strip().upper() if isinstance(value, str) else value


def _lower_stripped(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# ---------------------------------------------------------------------- field types

Title = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TITLE_CHARS,
        pattern=ONE_LINE,
        description="One line, shown on the host's screen and the players' phones.",
    ),
    Refusal(_title_message),
]
Count = Annotated[
    int,
    Field(ge=MIN_COUNT, le=MAX_COUNT),
    Refusal(f"count must be a whole number from {MIN_COUNT} to {MAX_COUNT}"),
]
Seed = Annotated[
    int | None,
    Field(
        ge=SEED_MIN, le=SEED_MAX, description="The same seed and options give the same questions."
    ),
    Refusal(_seed_message),
]
Levels = Annotated[
    list[Annotated[LevelName, BeforeValidator(_upper_stripped)]] | None,
    Field(
        min_length=1,
        max_length=MAX_CHOICES,
        description="Ask words of these CEFR-like levels only (default: all). Case and spaces "
        "around a level do not matter ('b1' is B1).",
    ),
    Refusal("levels must be a list of short strings", core_decides=_short_strings),
]
Kinds = Annotated[
    list[Annotated[KindName, BeforeValidator(_lower_stripped)]] | None,
    Field(
        min_length=1,
        max_length=MAX_CHOICES,
        description="Question kinds to mix (default: the four written ones). `listening` (the "
        "word is spoken, the options are written words) only when named, and only on a server "
        "with the speech synthesizer espeak-ng: without it, 422 `invalid_settings`.",
    ),
    Refusal("kinds must be a list of short strings", core_decides=_short_strings),
]
Words = Annotated[
    str | None,
    Field(
        description="An own word list: the text of a CSV file (header row, column 'word' "
        "required; 'definition', 'pos', 'example', 'level' optional) or of a JSON list of words "
        "or objects. Missing fields are looked up in the built-in deck; a word found nowhere "
        "needs a definition. 'pos' is noun, verb, adjective, adverb (or n, v, adj, adv), "
        "'phrasal verb' ('phrasal-verb', 'phrasal', 'phr v': a verb with its particle, 'give "
        "up') or 'expression' ('idiom', 'phrase', 'fixed expression'). A word may be listed "
        "once per part of speech ('record' as a noun and as a verb). An example may hold the "
        "word in any inflected form ('gave up' for give up). At least 4 words. Every mistake is "
        "reported at once, each with its line, in a bad_word_list error."
    ),
    Refusal("words must be the text of a CSV or JSON file"),
]
TimeLimitS = Annotated[
    int | None,
    Field(
        ge=MIN_TIME_LIMIT_S,
        le=MAX_TIME_LIMIT_S,
        description="Shorthand for settings.time_limit_ms (not both).",
    ),
    Refusal(f"time_limit_s must be a whole number from {MIN_TIME_LIMIT_S} to {MAX_TIME_LIMIT_S}"),
]
DueAtMs = Annotated[
    int | None,
    Field(
        ge=1,
        le=MAX_DUE_AT_MS,
        description="pace 'self' only, and required there: when the homework is due, in "
        "milliseconds since the Unix epoch (server clock), 1 minute to 90 days from now. The "
        "quiz is created handed out (phase in_progress); at the due time (plus grace) it "
        "finishes for everyone. Refused with invalid_due if missing, out of range, or given for "
        "a live quiz.",
    ),
    Refusal("due_at_ms must be a whole number", code="invalid_due", core_decides=_always),
]
WebhookUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=webhooks.MAX_URL_CHARS,
        pattern=WEBHOOK_URL,
        description="With the learning app's API key only (403 forbidden without): when the "
        "quiz finishes, and (homework) when each player finishes, its results are POSTed here, "
        "signed with the webhook_secret of the answer, retried until the app answers 2xx "
        "(docs/protocol.md, 'Results back to the app'). Without it, the API key's webhook, if "
        "it has one.",
    ),
    Refusal(_webhook_message),
]
Nickname = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NICKNAME_CHARS,
        pattern=NICKNAME_TEXT,
        description="2 to 20 letters (with their accents), digits, spaces and - _ . ' after "
        "Unicode NFKC normalisation, at most 40 code points; no control, format or direction "
        "characters; unique in the quiz up to case and look-alike letters of other alphabets "
        "(UTS #39 skeleton); no profanity, also disguised. The schema states what can be "
        "checked before normalisation (one character may become two: '㎏' is 'kg'); a longer "
        "text is refused outright. The rules in full: docs/protocol.md, 'Nicknames'.",
    ),
    Refusal(_nickname_message, code="nickname_invalid", core_decides=_nickname_is_text),
]


def absent(**about: Any) -> Any:
    """The default of a field a body may leave out but not send as null: optional in the
    schema, never null (``null`` is refused as a value of the wrong type)."""
    return Field(None, **about)


class _Strict(BaseModel):
    """Whole numbers are JSON integers (``1.0`` and ``true`` are refused, as over the
    WebSocket); unknown fields are refused."""

    model_config = ConfigDict(strict=True, extra="forbid")


# ---------------------------------------------------------------------- settings


#: 0, "off", as a JSON integer (``Literal[0]`` would take ``false`` and ``0.0`` too).
Off = Annotated[int, Field(ge=0, le=0), WithJsonSchema({"type": "integer", "const": 0})]


class Settings(_Strict):
    """Per-quiz rules. In a request every field is optional (defaults as in the example); in a
    response every field is present. Unknown names are refused."""

    model_config = ConfigDict(
        json_schema_extra={
            # the one rule between two settings (as the core's QuizSettings.validate)
            "if": {"required": ["team_choice"], "properties": {"team_choice": {"const": True}}},
            "then": {"required": ["teams"], "properties": {"teams": {"minimum": 2}}},
        }
    )

    time_limit_ms: Annotated[int, Field(ge=1_000, le=600_000)] = Field(
        20_000, description="How long a question stays open."
    )
    grace_ms: Annotated[int, Field(ge=0, le=5_000)] = Field(
        500,
        description="Answers arriving this long after the deadline still count (fewest speed "
        "points).",
    )
    scoring: Literal["speed", "accuracy", "none"] = Field(
        "speed",
        description="speed: faster correct answers earn more; accuracy: every correct answer "
        "earns base_points; none: practice, no points.",
    )
    base_points: Annotated[int, Field(ge=1, le=100_000)] = Field(
        1000, description="Points for a correct answer given at once."
    )
    streak_bonus: Annotated[int, Field(ge=0, le=10_000)] = Field(
        100, description="Bonus per correct answer in a row after the first."
    )
    streak_bonus_cap: Annotated[int, Field(ge=0, le=100_000)] = Field(
        500, description="The most streak bonus one answer can earn."
    )
    reveal: Literal["immediate", "at_close"] = Field(
        "immediate",
        description="immediate: each player learns at once whether they were right and the "
        "board shows it at the next tick; at_close: both wait until the question closes.",
    )
    pace: Literal["live", "self"] = Field(
        "live",
        description="live: the host opens each question for everyone; self: homework, created "
        "handed out with due_at_ms, each player opening their next question on a clock of its "
        "own (reveal and close_when_all_answered do not apply).",
    )
    identity: Literal["nickname", "app"] = Field(
        "nickname",
        description="nickname: anyone with the quiz ID joins under a nickname; app: only the "
        "learning app's signed-in users, with the app's token (app_token in the join), as "
        "themselves; the same user on another device is the same player.",
    )
    close_when_all_answered: bool = Field(
        True, description="Close the question as soon as every present player has answered."
    )
    allow_late_join: bool = Field(
        True,
        description="Players may join after the start (from the current question, 0 points).",
    )
    approve_names: bool = Field(
        False,
        description="The host approves each nickname (or gives a friendly one, or removes the "
        "player) before it shows on any board or screen; until then the player waits and "
        "cannot answer (name_not_approved). The learning app's users need no approval.",
    )
    shuffle_options: bool = Field(
        False,
        description="Each player sees each question's options in an order of their own (its "
        "`question` lists them so and adds `order`: `order[k]` is the question's option shown "
        "in place k). Answers (`option`), reveals, counts and reports keep the question's "
        "order; the host and the big screen see that order.",
    )
    auto_advance_ms: Off | Annotated[int, Field(ge=3_000, le=120_000)] = Field(
        0,
        description="Live: the next question opens by itself this long after each reveal (0: "
        "the host moves on; else 3,000 to 120,000). The host may still move on sooner.",
    )
    reading_ms: Off | Annotated[int, Field(ge=1_000, le=30_000)] = Field(
        0,
        description="Live: each question shows its prompt alone this long before its options "
        "(0: at once; else 1,000 to 30,000); its time limit and speed points run from the "
        "options (the protocol's `options` frame).",
    )
    teams: Off | Annotated[int, Field(ge=2, le=MAX_TEAMS)] = Field(
        0,
        description="Live: 0 (no teams) or 2 to 6 teams (Red, Blue, Green, Yellow, Purple, "
        "Orange). Each player joins the smallest team; the host may move players (protocol: "
        "host action `team`). A team's score is its members' average, so its size does not "
        "decide; the team board is in every `board` frame and in the results.",
    )
    team_choice: bool = Field(
        False,
        description="With teams: each player picks their team as they join (`team` of the "
        "join; one who does not pick joins the smallest); refused without teams.",
    )
    max_players: Annotated[int, Field(ge=1, le=100_000)] = Field(
        20_000, description="Player cap; a join past it is refused with quiz_full."
    )
    top_k: Annotated[int, Field(ge=1, le=100)] = Field(
        10, description="How many players the shared leaderboard frame lists."
    )
    max_delivery_lag_ms: Annotated[int, Field(ge=0, le=10_000)] = Field(
        1_000,
        description="Speed time counts from when the question reached the player, but from no "
        "later than this after it opened.",
    )


def _settings_accepted(values: Mapping[str, Any]) -> bool:
    """Whether the model takes these settings (the team rule included), for the tests that
    hold the model to the core."""
    try:
        settings = Settings.model_validate(dict(values))
    except ValidationError:
        return False
    return not settings.team_choice or settings.teams > 0


SettingsField = Annotated[
    Settings,
    Refusal("settings must be an object", core_decides=_is_object),
]


# ---------------------------------------------------------------------- questions


class Question(_Strict):
    """A question with its answer, as a preview shows it and as a creation takes it back. Every
    field is checked by the server: 2 to 6 options, all different (case does not matter), none
    empty; correct_option an index into them; one line of text each (no control characters);
    the lengths below."""

    prompt: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
    options: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=MAX_OPTION_CHARS)]],
        Field(min_length=MIN_OPTIONS, max_length=MAX_OPTIONS, description="2 to 6 answers."),
    ]
    correct_option: Annotated[int, Field(ge=0, le=MAX_OPTIONS - 1)] = Field(
        description="Index of the right option (0 is the first)."
    )
    kind: Literal[
        "word_to_meaning", "meaning_to_word", "synonym", "fill_blank", "listening", "authored"
    ] = Field(
        description="How the question was made; `authored`: a teacher's own, asked as written "
        "(from a Kahoot! spreadsheet)."
    )
    level: Literal["A1", "A2", "B1", "B2", "C1", "C2", ""] = Field(
        "", description="The CEFR level of the word; empty (or left out) if not known."
    )
    word: Annotated[str, Field(min_length=1, max_length=MAX_WORD_CHARS)] = Field(
        description="The word asked: shown in the review of missed words, and what a flag keeps "
        "out of generation (with the kind)."
    )
    definition: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] = Field(
        "", description="Shown in the review of missed words; may be empty."
    )
    example: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] = Field(
        "", description="May be empty."
    )


Questions = Annotated[
    list[Question],
    Field(
        min_length=1,
        max_length=MAX_QUESTIONS,
        description="The quiz's own questions (1 to 100), e.g. a preview the teacher edited; "
        "not with count, seed, levels, kinds or words. Every field is checked; an "
        "invalid_question error lists every problem.",
    ),
    # every rule of a question is the core's (domain/question.py), which names every problem
    Refusal("questions must be a list of questions", "invalid_question", core_decides=_always),
]


# ---------------------------------------------------------------------- request bodies

#: ``due_at_ms`` is required with ``settings.pace`` "self" and refused without it.
_SELF_PACED: JSON = {
    "required": ["settings"],
    "properties": {"settings": {"required": ["pace"], "properties": {"pace": {"const": "self"}}}},
}
#: A due time given (null is none: a live quiz may send it).
_DUE_GIVEN: JSON = {"required": ["due_at_ms"], "properties": {"due_at_ms": {"type": "integer"}}}
_DUE_WITH_SELF_PACE: JSON = {
    "allOf": [{"if": _SELF_PACED, "then": _DUE_GIVEN}, {"if": _DUE_GIVEN, "then": _SELF_PACED}]
}


class _QuizOptions(_Strict):
    """The options a creation and a draft share."""

    title: Title = DEFAULT_TITLE
    time_limit_s: TimeLimitS = None
    # absent: the defaults (the handler reads ``{}``); null is refused (no settings object)
    settings: SettingsField = absent()
    due_at_ms: DueAtMs = None
    count: Count = DEFAULT_COUNT
    seed: Seed = None
    levels: Levels = None
    kinds: Kinds = None
    words: Words = None


class CreateQuiz(_QuizOptions):
    """Every field is optional; unknown fields are refused (bad_request). due_at_ms goes with
    settings.pace 'self', and only with it."""

    model_config = ConfigDict(json_schema_extra=_DUE_WITH_SELF_PACE)

    webhook_url: WebhookUrl = absent()
    questions: Questions = absent()


class DraftQuiz(_QuizOptions):
    """The options of CreateQuiz but questions; every field is optional; unknown fields are
    refused (bad_request)."""

    model_config = ConfigDict(json_schema_extra=_DUE_WITH_SELF_PACE)

    kahoot: Annotated[
        str,
        Field(
            pattern=BASE64,
            description="A Kahoot! quiz spreadsheet (their .xlsx template), base64-encoded: the "
            "preview offers its questions as written (kind `authored`, one right answer each) "
            "and lists every row left out with why; not with levels, kinds, words or seed.",
        ),
        Refusal("kahoot must be the .xlsx file, base64-encoded"),
    ] = absent()


class ReplacementRequest(_Strict):
    """A fresh question of a kind and level for a draft."""

    kind: Annotated[
        Annotated[KindName, BeforeValidator(_lower_stripped)],
        Refusal("kind must be the kind of the question replaced", core_decides=_short_string),
    ]
    level: Annotated[
        Annotated[LevelName, BeforeValidator(_upper_stripped)],
        Refusal("level must be the level of the question replaced", core_decides=_short_string),
    ]
    avoid: Annotated[
        list[Annotated[str, Field(max_length=MAX_AVOID_CHARS)]],
        Field(
            max_length=MAX_AVOID,
            description="The words of the draft (the replaced one too): none of them, nor a "
            "word related to one of them, is asked.",
        ),
        Refusal(f"avoid must be a list of at most {MAX_AVOID} words (the words of the draft)"),
    ] = []
    words: Annotated[
        str | None,
        Field(description="The own word list the draft came from, as in CreateQuiz."),
        Refusal("words must be the text of a CSV or JSON file"),
    ] = None
    seed: Annotated[
        int | None,
        Field(ge=SEED_MIN, le=SEED_MAX, description="The same seed gives the same question."),
        Refusal(_seed_message),
    ] = None


class FlagRequest(_Strict):
    """A flag on a question of the quiz, once it has closed."""

    index: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_QUESTIONS - 1,
            description="The question's index in the quiz, 0 for the first (a quiz has at most "
            "100).",
        ),
        # past the quiz's own questions: the handler says how many it has
        Refusal(
            "index must be the question's number, 0 for the first", core_decides=_is_whole_index
        ),
    ]
    reason: Annotated[
        str | None,
        Field(
            max_length=flags.MAX_REASON_CHARS,
            pattern=PLAIN_LINE,
            description="Optional, one line of plain text: what is wrong with the question.",
        ),
        Refusal(_reason_message),
    ] = None


class JoinRequest(BaseModel):
    """A nickname, or the learning app's sign-in (app_token): one of the two. Other fields are
    ignored."""

    model_config = ConfigDict(
        strict=True,
        extra="allow",
        json_schema_extra={"oneOf": [{"required": ["nickname"]}, {"required": ["app_token"]}]},
    )

    team: Annotated[
        int | None,
        Field(
            ge=0,
            le=MAX_TEAMS - 1,
            description="With a nickname, in a quiz whose players pick their team (`team_choice` "
            "of getQuiz): the team picked, 0 for the first (Red). Without it a player joins the "
            "smallest team.",
        ),
        # a team the quiz does not have: the core says which it has
        Refusal("team must be a whole number (0 is the first)", core_decides=_is_int),
    ] = None
    app_token: Annotated[
        str,
        Field(
            min_length=1,
            max_length=identity.MAX_TOKEN_CHARS,
            description="The learning app's JWT for its signed-in user, if this server is "
            "configured for it (livequiz serve --app-…): HS256, or RS256/ES256 against the "
            "app's JWKS; iss, aud, exp and sub checked. The player's name is the token's name "
            "(else preferred_username); the same sub joining again (another device) gets the "
            "same player back. Refused with bad_app_token (401) when not valid, and required by "
            "quizzes whose settings.identity is 'app'.",
        ),
        # verified by livequiz.identity, which says what is wrong with a token (401)
        Refusal("app_token must be the app's token", "bad_app_token", core_decides=_always),
    ] = absent()
    nickname: Nickname = absent()


class RejoinRequest(_Strict):
    """The away player's nickname (case, spacing and look-alike letters do not matter: the
    nickname rules of a join apply first)."""

    nickname: Nickname


# ---------------------------------------------------------------------- form bodies

#: The whitespace JSON allows around a value (form fields are read as JSON).
_WS = "[ \\t\\n\\r]*"


def _or_empty(pattern: str) -> str:
    """A form field's pattern that also takes the empty value (a field left empty is a field
    left out: a plain HTML form sends its empty inputs)."""
    return f"^(?:{pattern.removeprefix('^').removesuffix('$')})?$"


def _list_field(choices: Iterable[str]) -> str:
    """A form field holding some of ``choices``: comma-separated ('B1, B2') or a JSON list, of
    at most :data:`MAX_CHOICES` (schemathesis found a longer list schema-valid and refused)."""
    alternatives = "|".join(choices)
    more = f"{{0,{MAX_CHOICES - 1}}}"
    comma = f"{_WS}({alternatives}){_WS}(,{_WS}({alternatives}){_WS}){more}"
    json_list = f'{_WS}\\[{_WS}"({alternatives})"{_WS}(,{_WS}"({alternatives})"{_WS}){more}\\]{_WS}'
    return f"^({comma}|{json_list})$"


def _whole_number_field(low: int, high: int) -> str:
    """A form field holding a whole number from ``low`` (0 or 1) to ``high`` (10, 100,
    1000...)."""
    digits = len(str(high)) - 1
    first = "0-9" if low == 0 else "1-9"
    return f"^{_WS}([{first}][0-9]{{0,{digits - 1}}}|{high}){_WS}$"


def _form_text(pattern: str, description: str, **more: Any) -> Any:
    return Field(None, pattern=_or_empty(pattern), description=description, **more)


class _FormOptions(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    title: str = absent(
        max_length=MAX_TITLE_CHARS,
        pattern=_or_empty(ONE_LINE),
    )
    count: str = _form_text(
        _whole_number_field(MIN_COUNT, MAX_COUNT),
        f"A whole number, {MIN_COUNT} to {MAX_COUNT}.",
    )
    seed: str = _form_text(f"^{_WS}-?(0|[1-9][0-9]{{0,17}}){_WS}$", "A whole number.")
    levels: str = _form_text(_list_field(LEVELS), "'B1,B2' or '[\"B1\",\"B2\"]'.")
    kinds: str = _form_text(_list_field(KINDS), "'synonym,fill_blank' or a JSON list.")
    time_limit_s: str = _form_text(
        f"^{_WS}([1-9][0-9]?|[1-5][0-9]{{2}}|600){_WS}$",
        f"A whole number, {MIN_TIME_LIMIT_S} to {MAX_TIME_LIMIT_S}.",
    )
    settings: str = _form_text(
        f"^{_WS}\\{{[\\s\\S]*\\}}{_WS}$",
        "A JSON object, as in CreateQuiz.",
        json_schema_extra={"contentMediaType": "application/json"},
    )
    due_at_ms: str = _form_text(
        f"^{_WS}[1-9][0-9]{{0,15}}{_WS}$", "A whole number, as in CreateQuiz."
    )
    words: str = absent(
        description="The word list, UTF-8 CSV or JSON (a byte order mark is fine): a file "
        "upload (the only file field) or, URL-encoded, the text itself.",
        json_schema_extra={"contentMediaType": "text/csv"},
    )


class CreateQuizForm(_FormOptions):
    """The same options as a form: multipart with the word list as a file upload, or
    URL-encoded (a plain HTML form) with the word list as a text field. Field values are text:
    numbers and the settings object are read as JSON, levels and kinds may also be
    comma-separated ('B1,B2'). A field left empty is a field left out (a plain HTML form sends
    its empty inputs)."""

    webhook_url: str = absent(
        max_length=webhooks.MAX_URL_CHARS,
        pattern=_or_empty(WEBHOOK_URL + "[\\s\\S]*$"),
        description="As in CreateQuiz.",
    )
    questions: str = _form_text(
        f"^{_WS}\\[[\\s\\S]*\\]{_WS}$",
        "A JSON list, as in CreateQuiz.",
        json_schema_extra={"contentMediaType": "application/json"},
    )


class DraftQuizForm(_FormOptions):
    """The options of DraftQuiz as a form, as in CreateQuizForm."""


#: The request models, by the name of their schema in the OpenAPI document.
REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    CreateQuiz,
    CreateQuizForm,
    DraftQuiz,
    DraftQuizForm,
    ReplacementRequest,
    FlagRequest,
    JoinRequest,
    RejoinRequest,
)

# ---------------------------------------------------------------------- validation


def fields_of(model: type[BaseModel]) -> frozenset[str]:
    """The field names a body of ``model`` may hold."""
    return frozenset(model.model_fields)


def refusal_of(model: type[BaseModel], field: str) -> Refusal | None:
    for item in model.model_fields[field].metadata:
        if isinstance(item, Refusal):
            return item
    return None


def parse(model: type[M], body: Mapping[str, Any]) -> M:
    """``body`` as ``model``, or :class:`BodyRefused` for the first field refused, in the
    model's field order (an unknown field first). A field whose rule is the core's
    (:attr:`Refusal.core_decides`) is passed on as it came, for the core to check."""
    try:
        return model.model_validate(dict(body))
    except ValidationError as error:
        problems = error.errors(include_url=False)
    unknown = sorted(
        str(p["loc"][0]) for p in problems if p["type"] == "extra_forbidden" and len(p["loc"]) == 1
    )
    if unknown:
        listed = ", ".join(sorted(fields_of(model)))
        raise BodyRefused(
            "bad_request", f"unknown field {unknown[0][:32]!r}; fields are {listed}", unknown[0]
        ) from None
    for problem in problems:
        field = str(problem["loc"][0]) if problem["loc"] else ""
        refusal = refusal_of(model, field) if field in model.model_fields else None
        value = body.get(field)
        if refusal is None:
            raise BodyRefused("bad_request", f"{field}: {problem['msg']}", field) from None
        if refusal.core_decides is not None and refusal.core_decides(value):
            continue
        raise BodyRefused(refusal.code, refusal.message_for(value), field) from None
    # Only the core's fields were refused: the core checks them (and words the refusal).
    return model.model_construct(**{k: v for k, v in body.items() if k in model.model_fields})


# ---------------------------------------------------------------------- the document


def _tidy(node: Any) -> Any:
    """pydantic's schema as the document writes it: no generated titles, and no ``default:
    null`` of a field that is simply optional (null is not always a value it takes)."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        # ``anyOf: [{type: T, ...}, {type: null}]`` as ``type: [T, null]``: one schema, the
        # way the rest of the document writes a nullable value
        (kept,) = [option for option in options if option != {"type": "null"}]
        if isinstance(kept.get("type"), str):
            merged = {**kept, "type": [kept["type"], "null"]}
            return _tidy({**{k: v for k, v in node.items() if k != "anyOf"}, **merged})
    tidy: JSON = {}
    for key, value in node.items():
        if (key == "title" and isinstance(value, str)) or (key == "default" and value is None):
            continue
        if key == "description" and isinstance(value, str):  # a docstring's line breaks
            tidy[key] = " ".join(value.split("\n"))
        elif key == "properties":  # names of fields, not keywords: kept whatever they are
            tidy[key] = {name: _tidy(schema) for name, schema in value.items()}
        else:
            tidy[key] = _tidy(value)
    return tidy


def schemas_of(models: Iterable[type[BaseModel]]) -> dict[str, JSON]:
    """The JSON Schemas of ``models`` and of every model they hold, by name, tidied, with
    references into ``components.schemas`` of the OpenAPI document."""
    _, top = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, JSON] = _tidy(top["$defs"])
    return schemas


def request_schemas() -> dict[str, JSON]:
    """The schemas of the request bodies (and of what they hold: Settings, Question), by
    name, for ``components.schemas`` of the OpenAPI document."""
    return schemas_of(REQUEST_MODELS)
