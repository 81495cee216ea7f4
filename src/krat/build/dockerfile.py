"""The Dockerfile parser: text -> a list of Instruction, split as Docker splits them.

`parse(text)` follows the rules of Docker's own (BuildKit) parser: parser
directives (`# escape=`, `# syntax=`, `# check=`) before anything else; line
continuations with the escape character, skipping comment and empty lines inside
them; shell and JSON forms (a `[` line that is not a JSON array of strings is shell
form, as Docker does; an array of non-strings is an error); heredocs on RUN, COPY
and ADD (also under ONBUILD); case-insensitive keywords.

`.args` are the parser's words, before variable substitution and quote removal
(ENV/LABEL as key, value pairs; ARG as `name[=value]` words); that happens per
instruction in the builder (krat.build.expand), exactly where Docker does it.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field

from krat.build.expand import Lexer, is_go_space
from krat.build.words import extract_flags, split_words
from krat.errors import InvalidArgument

KEYWORDS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)
HEREDOC_KEYWORDS = ("ADD", "COPY", "RUN")
DIRECTIVES = ("syntax", "escape", "check")

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$", re.DOTALL)


class DockerfileError(InvalidArgument):
    """A Dockerfile that cannot be parsed; the message starts with file:line."""


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str          # as written, leading tabs kept even for <<- (see .text)
    expand: bool = True   # False when the delimiter word was quoted
    chomp: bool = False   # <<- strips leading tabs
    fd: int = 0

    @property
    def text(self) -> str:
        if self.chomp:
            return re.sub(r"(?m)^\t+", "", self.content)
        return self.content


@dataclass(frozen=True, eq=True)
class Instruction:
    keyword: str                  # upper case
    args: list[str]
    flags: list[str]
    line: int                     # 1-based first line
    end_line: int
    original: str                 # the logical line, continuations joined (Docker's Original)
    json: bool = False            # exec (JSON array) form
    heredocs: tuple[Heredoc, ...] = ()
    sub: "Instruction | None" = field(default=None, compare=False)   # ONBUILD's instruction
    source: str = field(default="", compare=False)                    # the lines as written

    def location(self, filename: str = "Dockerfile") -> str:
        return f"{filename}:{self.line}"


@dataclass
class Parsed:
    instructions: list[Instruction]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)


def parse(text: str, filename: str = "Dockerfile") -> list[Instruction]:
    return parse_file(text, filename).instructions


def parse_file(text: str, filename: str = "Dockerfile") -> Parsed:
    return _Parser(text, filename).run()


def _error(filename: str, line: int, message: str) -> DockerfileError:
    return DockerfileError(f"{filename}:{line}: {message}")


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _lstrip(line: str) -> str:
    i = 0
    while i < len(line) and is_go_space(line[i]):
        i += 1
    return line[i:]


def _strip(line: str) -> str:
    line = _lstrip(line)
    j = len(line)
    while j > 0 and is_go_space(line[j - 1]):
        j -= 1
    return line[:j]


def _is_comment(line: str) -> bool:
    return _lstrip(line).startswith("#")


class _Parser:
    def __init__(self, text: str, filename: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        self.lines = _split_lf(text)
        self.filename = filename
        self.pos = 0
        self.current = 0
        self.escape = "\\"
        self.continuation = _continuation_regex("\\")
        self.directives: dict[str, str] = {}
        self.directives_done = False

    def next_line(self) -> str | None:
        if self.pos >= len(self.lines):
            return None
        line = self.lines[self.pos]
        self.pos += 1
        return line

    def directive(self, line: str) -> bool:
        """Docker's rule: directives only until the first line that is not one."""
        if self.directives_done:
            return False
        if not line.startswith("#"):
            self.directives_done = True
            return False
        match = _DIRECTIVE.match(_lstrip(line[1:]))
        if not match or match.group(1).lower() not in DIRECTIVES:
            self.directives_done = True
            return False
        name, value = match.group(1).lower(), match.group(2)
        if name in self.directives:
            raise _error(self.filename, self.current + 1, f"only one {name} parser directive can be used")
        self.directives[name] = value
        if name == "escape":
            if value not in ("`", "\\"):
                raise _error(self.filename, self.current + 1,
                             f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self.continuation = _continuation_regex(value)
        return True

    def process(self, raw: str, strip_left: bool) -> str:
        token = _trim_newline(raw)
        if strip_left:
            token = _lstrip(token)
        self.directive(token)
        return "" if _is_comment(token) else token

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        match = self.continuation.search(line)
        if match:
            return line[:match.start()] + (match.group(1) or ""), False
        return line, True

    def run(self) -> Parsed:
        out: list[Instruction] = []
        while (raw := self.next_line()) is not None:
            first_index = self.pos - 1
            line = self.process(raw, strip_left=True)
            self.current += 1
            start = self.current
            line, eol = self.trim_continuation(line)
            if eol and not line:
                continue
            buf = [line]
            while not eol and (raw := self.next_line()) is not None:
                line = self.process(raw, strip_left=False)
                self.current += 1
                if _is_comment(raw) or not _lstrip(_trim_newline(line)):
                    continue
                line, eol = self.trim_continuation(line)
                buf.append(line)
            logical = "".join(buf)
            out.append(self.instruction(logical, start, first_index))
        if not out:
            raise _error(self.filename, max(self.current, 1), "file with no instructions")
        return Parsed(out, self.escape, dict(self.directives))

    def instruction(self, logical: str, start: int, first_index: int) -> Instruction:
        try:
            node = _node(logical, self.escape, start)
            heredocs: tuple[Heredoc, ...] = ()
            target = node.sub if node.keyword == "ONBUILD" and node.sub else node
            if target.keyword in HEREDOC_KEYWORDS and not target.json and "<<" in logical:
                heredocs = self.read_heredocs(logical, start)
        except InvalidArgument as err:
            raise _error(self.filename, start, err.message) from None
            if target is not node:
                target = _replace(target, heredocs=heredocs, end_line=self.current)
        source = "".join(self.lines[first_index:self.pos])
        return _replace(node, end_line=self.current, heredocs=heredocs, sub=target if node.sub else None,
                        source=source)

    def read_heredocs(self, logical: str, start: int) -> tuple[Heredoc, ...]:
        docs = []
        for doc in heredocs_in_line(logical):
            content, terminated = [], False
            while (raw := self.next_line()) is not None:
                self.current += 1
                candidate = _trim_newline(raw)
                if doc.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == doc.name:
                    terminated = True
                    break
                content.append(raw)
            if not terminated:
                raise DockerfileError(f"unterminated heredoc {doc.name}")
            docs.append(_replace(doc, content="".join(content)))
        return tuple(docs)


def _split_lf(text: str) -> list[str]:
    """Lines with their endings; only \\n ends a line (a lone \\r does not), as in Docker."""
    if not text:
        return []
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _continuation_regex(escape: str) -> re.Pattern[str]:
    e = re.escape(escape)
    return re.compile(r"([^" + e + r"])" + e + r"[ \t]*\Z|^" + e + r"[ \t]*\Z", re.DOTALL)


def _replace(inst, **changes):
    from dataclasses import replace

    return replace(inst, **changes)


def _node(line: str, escape: str, start: int) -> Instruction:
    parts = _WHITESPACE.split(_strip(line), maxsplit=1)
    keyword = parts[0]
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = extract_flags(parts[1], escape)
    rest = _strip(rest)
    upper = keyword.upper()
    if upper not in KEYWORDS:
        raise DockerfileError(_unknown(keyword))
    sub = None
    if upper == "ONBUILD":
        if not rest:
            args, is_json = [], False
        else:
            trigger = _WHITESPACE.split(rest, maxsplit=1)[0].upper()
            if trigger in ("ONBUILD", "FROM", "MAINTAINER"):
                raise DockerfileError(f"{trigger} isn't allowed as an ONBUILD trigger")
            sub = _node(rest, escape, start)
            args, is_json = [sub.keyword, *sub.args], sub.json
    else:
        args, is_json = _ARG_PARSERS[upper](rest, escape)
    return Instruction(upper, args, flags, start, start, line, is_json, (), sub)


def _unknown(keyword: str) -> str:
    close = difflib.get_close_matches(keyword.upper(), KEYWORDS, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0].lower()}?)" if close else ""
    return f"unknown instruction: {keyword}{hint}"


class _NotJSON(Exception):
    pass


def _reject_constant(name: str):
    raise ValueError(name)


def _json_args(rest: str) -> list[str]:
    rest = _lstrip(rest)
    if not rest.startswith("["):
        raise _NotJSON()
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except ValueError:
        raise _NotJSON() from None
    if not isinstance(value, list):
        raise _NotJSON()
    if not all(isinstance(item, str) for item in value):
        raise DockerfileError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _whitespace_list(rest: str) -> list[str]:
    return _WHITESPACE.split(rest) if rest else []


def _maybe_json(rest: str, _escape: str) -> tuple[list[str], bool]:
    if not rest:
        return [], False
    try:
        return _json_args(rest), True
    except _NotJSON:
        return [rest], False


def _maybe_json_list(rest: str, _escape: str) -> tuple[list[str], bool]:
    try:
        return _json_args(rest), True
    except _NotJSON:
        return _whitespace_list(rest), False


def _string(rest: str, _escape: str) -> tuple[list[str], bool]:
    return ([rest] if rest else []), False


def _strings(rest: str, _escape: str) -> tuple[list[str], bool]:
    return _whitespace_list(rest), False


def _name_or_name_value(rest: str, escape: str) -> tuple[list[str], bool]:
    return split_words(rest, escape), False


def _name_value(rest: str, escape: str) -> tuple[list[str], bool]:
    words = split_words(rest, escape)
    if not words:
        return [], False
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise DockerfileError("must have two arguments (name value, or name=value)")
        return parts, False
    args = []
    for word in words:
        if "=" not in word:
            raise DockerfileError(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        key, _, value = word.partition("=")
        args += [key, value]
    return args, False


def _healthcheck(rest: str, escape: str) -> tuple[list[str], bool]:
    sep = 0
    while sep < len(rest) and not is_go_space(rest[sep]):
        sep += 1
    if sep == 0:
        return [], False
    cmd, is_json = _maybe_json(_lstrip(rest[sep:]), escape)
    return [rest[:sep], *cmd], is_json


_ARG_PARSERS = {
    "ADD": _maybe_json_list, "COPY": _maybe_json_list, "VOLUME": _maybe_json_list,
    "ARG": _name_or_name_value,
    "CMD": _maybe_json, "ENTRYPOINT": _maybe_json, "RUN": _maybe_json, "SHELL": _maybe_json,
    "ENV": _name_value, "LABEL": _name_value,
    "EXPOSE": _strings, "FROM": _strings,
    "HEALTHCHECK": _healthcheck,
    "MAINTAINER": _string, "STOPSIGNAL": _string, "USER": _string, "WORKDIR": _string,
}


def parse_heredoc_word(word: str) -> Heredoc | None:
    """`<<EOF`, `<<-"EOF"`, `2<<EOF` -> the heredoc it opens, or None."""
    match = _HEREDOC.match(word)
    if not match or not match.group(3):
        return None
    rest = match.group(3)
    words = Lexer("\\", skip_unset=True).words(rest, {})
    if len(words) != 1:
        return None
    raw = Lexer("\\", skip_unset=True, raw_quotes=True).words(rest, {})
    if len(raw) != 1:
        raise DockerfileError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(words[0], "", expand=quotes == raw_quotes, chomp=match.group(2) == "-",
                   fd=int(match.group(1) or 0))


def heredocs_in_line(line: str) -> list[Heredoc]:
    lexer = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = lexer.words(line, {})
    except InvalidArgument:
        words = []  # Docker ignores lexing errors here: no heredoc then
    docs = []
    for word in words:
        doc = parse_heredoc_word(word)
        if doc is not None:
            docs.append(doc)
    return docs
