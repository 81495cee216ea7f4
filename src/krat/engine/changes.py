"""`--change 'INSTRUCTION ...'` for import and commit: the Dockerfile instructions that only
touch the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER,
VOLUME, WORKDIR), applied to a config dict. Pure functions."""

from __future__ import annotations

import json
import shlex

from krat.errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER",
           "VOLUME", "WORKDIR")


def _json_or_shell(value: str, shell: bool) -> list[str]:
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return parsed
    if shell:
        return ["/bin/sh", "-c", text]
    return text.split()


def _pairs(value: str, instruction: str) -> dict[str, str]:
    try:
        words = shlex.split(value)
    except ValueError as err:
        raise InvalidArgument(f"--change {instruction}: {err}") from None
    if words and "=" not in words[0]:
        # legacy form: ENV KEY value with spaces
        key, _, rest = value.strip().partition(" ")
        if not rest.strip():
            raise InvalidArgument(f"--change {instruction} {value!r}: expected KEY=VALUE or KEY VALUE")
        return {key: rest.strip()}
    out = {}
    for word in words:
        key, eq, val = word.partition("=")
        if not eq or not key:
            raise InvalidArgument(f"--change {instruction} {value!r}: expected KEY=VALUE")
        out[key] = val
    return out


def _set_env(config: dict, pairs: dict[str, str]) -> None:
    env = list(config.get("Env") or [])
    for key, val in pairs.items():
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={val}"]
    config["Env"] = env


def apply_change(config: dict, change: str) -> None:
    """Apply one `INSTRUCTION args` line to `config` (the image config's "config" object)."""
    instruction, _, value = change.strip().partition(" ")
    instruction = instruction.upper()
    value = value.strip()
    if instruction not in ALLOWED:
        raise InvalidArgument(f"--change {change!r}: {instruction or 'empty'} is not one of {', '.join(ALLOWED)}")
    if not value:
        raise InvalidArgument(f"--change {change!r}: {instruction} needs an argument")
    if instruction == "CMD":
        config["Cmd"] = _json_or_shell(value, shell=True)
    elif instruction == "ENTRYPOINT":
        config["Entrypoint"] = _json_or_shell(value, shell=True)
    elif instruction == "ENV":
        _set_env(config, _pairs(value, instruction))
    elif instruction == "LABEL":
        config["Labels"] = {**(config.get("Labels") or {}), **_pairs(value, instruction)}
    elif instruction == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for port in value.split():
            ports[port if "/" in port else f"{port}/tcp"] = {}
        config["ExposedPorts"] = ports
    elif instruction == "VOLUME":
        volumes = dict(config.get("Volumes") or {})
        for path in _json_or_shell(value, shell=False):
            volumes[path] = {}
        config["Volumes"] = volumes
    elif instruction == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), value]
    else:
        key = {"STOPSIGNAL": "StopSignal", "USER": "User", "WORKDIR": "WorkingDir"}[instruction]
        config[key] = value


def apply_changes(config: dict, changes: list[str]) -> dict:
    out = dict(config)
    for change in changes:
        apply_change(out, change)
    return out
