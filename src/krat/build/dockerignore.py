""".dockerignore: Docker's pattern rules (moby/patternmatcher).

Each line is a pattern; `#` starts a comment line; surrounding whitespace is
trimmed; `!` makes an exception; a pattern is cleaned like a path (so a trailing
`/` and `./` vanish and a leading `/` is dropped). `*` and `?` never cross `/`, `**`
matches any number of directories, `[...]` are classes and `\\` escapes. The last
matching pattern wins, and a path is excluded when it or any parent directory is.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from krat.errors import InvalidArgument


def read_patterns(text: str) -> list[str]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = posixpath.normpath(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(("!" if invert else "") + line)
    return patterns


_EXACT, _PREFIX, _SUFFIX, _REGEX = range(4)
_ESCAPE = set(".+()|{}$")  # regexp specials with no meaning in filepath.Match


@dataclass(frozen=True)
class _Pattern:
    text: str
    exclusion: bool
    body: str
    kind: int
    regex: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        if self.kind == _EXACT:
            return path == self.body
        if self.kind == _PREFIX:
            return path.startswith(self.body[:-2])
        if self.kind == _SUFFIX:
            suffix = self.body[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return self.regex is not None and self.regex.match(path) is not None


def _compile(text: str, exclusion: bool, body: str) -> _Pattern:
    """moby/patternmatcher's rules, including its exact/prefix/suffix fast paths."""
    out, kind, i, n = ["^"], _EXACT, 0, len(body)
    first = True
    while i < n:
        ch = body[i]
        i += 1
        if ch == "*" and i < n and body[i] == "*":
            i += 1
            if i < n and body[i] == "/":
                i += 1
            if i >= n:
                if kind == _EXACT:
                    kind = _PREFIX
                else:
                    out.append(".*")
                    kind = _REGEX
            else:
                out.append("(.*/)?")
                kind = _REGEX
            if first:
                kind = _SUFFIX
        elif ch == "*":
            out.append("[^/]*")
            kind = _REGEX
        elif ch == "?":
            out.append("[^/]")
            kind = _REGEX
        elif ch in _ESCAPE:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(body[i]))
                i += 1
                kind = _REGEX
            else:
                out.append("\\\\")
        elif ch in "[]":
            out.append(ch)
            kind = _REGEX
        else:
            out.append(re.escape(ch) if ch in "^" else ch)
        first = False
    regex = None
    if kind == _REGEX:
        try:
            regex = re.compile("".join(out) + "$", re.DOTALL)
        except re.error as err:
            raise InvalidArgument(f".dockerignore: bad pattern {text!r}: {err}") from None
    return _Pattern(text, exclusion, body, kind, regex)


class IgnoreMatcher:
    def __init__(self, patterns: list[str]) -> None:
        self.patterns = []
        for text in patterns:
            exclusion = text.startswith("!")
            body = text[1:] if exclusion else text
            if not body:
                continue
            self.patterns.append(_compile(text, exclusion, body))
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """Is this context-relative path (slash-separated) left out of the context?"""
        path = path.strip("/")
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # only a later pattern of the other kind can change the verdict
            hit = pattern.match(path)
            if not hit:
                hit = any(pattern.match("/".join(parents[:i + 1])) for i in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_include_below(self, directory: str) -> bool:
        """Could an exception re-include something under this excluded directory?"""
        if not self.has_exceptions:
            return False
        prefix = directory.strip("/") + "/"
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            literal = re.split(r"[*?\[\\]", pattern.text[1:])[0]
            if literal.startswith(prefix) or prefix.startswith(literal) or not literal:
                return True
        return False
