"""Docker's two word splitters used while parsing (quotes kept, or flags unquoted).

`split_words` is the parser's parseWords (ARG, ENV and LABEL): words keep their
quotes and escapes, which are removed later by variable substitution.
`extract_flags` takes the leading `--flag` words off an instruction, unquoting them.
"""

from __future__ import annotations

from krat.build.expand import is_go_space

_SPACES, _WORD, _QUOTE = 0, 1, 2


def split_words(rest: str, escape: str) -> list[str]:
    words: list[str] = []
    phase, quote, blank_ok = _SPACES, "", False
    buf: list[str] = []
    pos, n = 0, len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == _SPACES:
            if pos == n:
                break
            if is_go_space(ch):
                pos += 1
                continue
            phase = _WORD
        if pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == _WORD:
            if is_go_space(ch):
                phase = _SPACES
                if blank_ok or buf:
                    words.append("".join(buf))
                buf, blank_ok = [], False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote, blank_ok, phase = ch, True, _QUOTE
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue  # an escape at the very end is dropped
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        if ch == quote:
            phase = _WORD
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = _WORD
                pos += 1
                continue
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words


def extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading `--name=value` words -> (the rest of the line, the flags unquoted)."""
    words: list[str] = []
    phase, quote, blank_ok = _SPACES, "", False
    buf: list[str] = []
    pos, n = 0, len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == _SPACES:
            if pos == n:
                break
            if is_go_space(ch):
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = _WORD
        if pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == _WORD:
            if is_go_space(ch):
                word = "".join(buf)
                phase = _SPACES
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf, blank_ok = [], False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote, blank_ok, phase = ch, True, _QUOTE
                pos += 1
                continue
        elif ch == quote:
            phase = _WORD
            pos += 1
            continue
        if ch == escape:
            if pos + 1 == n:
                if phase == _QUOTE:
                    phase = _WORD
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        buf.append(ch)
        pos += 1
    return "", words
