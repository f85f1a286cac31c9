"""Friendly names: a family-safe adjective and an animal ("Brave Otter"), for a teacher who
would rather not have pupils choose their own names, or who replaces one that is not fit for a
classroom (the host action ``rename``).

Both lists are short, common, kind words a young learner of English can read; 48 × 48 gives
2,304 names, so a class of 30 rarely needs a second draw.
"""

from __future__ import annotations

import random
from collections.abc import Callable

ADJECTIVES = (
    "Brave", "Bright", "Busy", "Calm", "Clever", "Cosy", "Curious", "Daring", "Eager", "Fair",
    "Fast", "Friendly", "Funny", "Gentle", "Glad", "Golden", "Happy", "Helpful", "Honest",
    "Jolly", "Kind", "Lively", "Lucky", "Merry", "Mighty", "Neat", "Nimble", "Noble", "Patient",
    "Polite", "Proud", "Quick", "Quiet", "Ready", "Rosy", "Shiny", "Smart", "Sunny", "Swift",
    "Tidy", "Tiny", "Warm", "Wise", "Witty", "Young", "Zesty", "Cheerful", "Steady",
)  # fmt: skip
ANIMALS = (
    "Badger", "Bear", "Beaver", "Bee", "Camel", "Cat", "Cheetah", "Deer", "Dolphin", "Duck",
    "Eagle", "Falcon", "Ferret", "Finch", "Fox", "Frog", "Gecko", "Giraffe", "Goose", "Hare",
    "Hedgehog", "Heron", "Koala", "Lamb", "Lemur", "Lion", "Llama", "Lynx", "Moose", "Otter",
    "Owl", "Panda", "Parrot", "Penguin", "Puffin", "Rabbit", "Robin", "Salmon", "Seal", "Sloth",
    "Swan", "Tiger", "Toucan", "Turtle", "Walrus", "Whale", "Wolf", "Zebra",
)  # fmt: skip


def friendly_name(taken: Callable[[str], bool], rng: random.Random | None = None) -> str:
    """A random "Adjective Animal" that ``taken`` does not refuse; after many draws all taken
    (a quiz of thousands), a number is added ("Brave Otter 12")."""
    draw = rng or random.SystemRandom()
    for _ in range(50):
        name = f"{draw.choice(ADJECTIVES)} {draw.choice(ANIMALS)}"
        if not taken(name):
            return name
    while True:
        name = f"{draw.choice(ADJECTIVES)} {draw.choice(ANIMALS)} {draw.randint(2, 99)}"
        if not taken(name):
            return name
