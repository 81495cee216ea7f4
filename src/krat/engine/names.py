"""Container identity: 64-hex ids and Docker-like generated names (adjective_surname).

The word lists are krat's own: adjectives of temper and surnames of people who built
computing, systems and mathematics.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import random
    from collections.abc import Sequence

ADJECTIVES = (
    "able", "agile", "amber", "ample", "ardent", "astute", "balmy", "bold", "brave", "breezy",
    "bright", "brisk", "calm", "candid", "careful", "cheery", "civil", "clever", "cosmic", "crisp",
    "curious", "daring", "deft", "eager", "earnest", "easy", "exact", "fair", "fearless", "fond",
    "frank", "gentle", "giddy", "glad", "golden", "grand", "hardy", "hearty", "humble", "jolly",
    "keen", "kind", "lively", "loyal", "lucid", "merry", "mellow", "modest", "nimble", "noble",
    "patient", "placid", "plucky", "polite", "proud", "quick", "quiet", "rapid", "ready", "robust",
    "rosy", "serene", "sharp", "shiny", "silent", "snappy", "sober", "solid", "spry", "steady",
    "stoic", "sunny", "swift", "tidy", "tender", "upbeat", "valiant", "vivid", "warm", "wise",
    "witty", "zealous", "zesty",
)

SURNAMES = (
    "agnesi", "aiken", "allen", "amdahl", "babbage", "backus", "baran", "bartik", "bell", "berners",
    "bosack", "brooks", "cerf", "church", "codd", "conway", "corbato", "dahl", "dijkstra", "eckert",
    "engelbart", "estrin", "feigenbaum", "floyd", "forsythe", "gödel", "goldberg", "goldstine",
    "hamming", "hartree", "hoare", "holberton", "hopper", "huffman", "iverson", "kahan", "kay",
    "kernighan", "kilburn", "knuth", "lamport", "lampson", "liskov", "lovelace", "mauchly", "mccarthy",
    "metcalfe", "milner", "minsky", "moler", "naur", "neumann", "newell", "noether", "nygaard",
    "ossanna", "perlis", "pike", "postel", "rabin", "randell", "ritchie", "saltzer", "sammet",
    "shannon", "shaw", "simon", "sutherland", "tarjan", "thacker", "thompson", "torvalds", "turing",
    "wheeler", "wilkes", "williams", "wirth", "yao", "zuse",
)
SURNAMES = tuple(s for s in SURNAMES if s.isascii())


def cgroups_path(container_id: str) -> str:
    """linux.cgroupsPath of a container (the runtime puts it under every hierarchy's root)."""
    return f"/krat/{container_id}"


def new_id() -> str:
    """64 lowercase hex; never all digits in the first 12 (they become the hostname)."""
    while True:
        value = os.urandom(32).hex()
        if not value[:12].isdigit():
            return value


def generate_name(retry: int = 0, rng: random.Random | None = None) -> str:
    pick = rng.choice if rng is not None else _urandom_choice
    name = f"{pick(ADJECTIVES)}_{pick(SURNAMES)}"
    if retry:
        name += pick("0123456789")
    return name


def _urandom_choice(seq: Sequence[str]) -> str:
    """random.SystemRandom().choice without importing random (krat run names every container)."""
    return seq[int.from_bytes(os.urandom(8), "big") % len(seq)]
