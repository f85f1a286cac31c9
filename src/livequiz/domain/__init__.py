"""The pure quiz core: no I/O, no asyncio, no clock of its own.

Every function and method here takes the current time as an argument (milliseconds, an ``int``),
so each rule can be tested to the millisecond and a quiz can be rebuilt by replaying the same
commands. Nothing in this package imports anything that does I/O.
"""
