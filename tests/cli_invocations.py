"""Find the ``edgar-insider ...`` invocations in shell text and check them against the CLI.

Used by the tests of the Dockerfile, docker-compose.yml, deploy/crontab, README.md and
docs/operations.md: a documented command that the click CLI does not have (a renamed
command, a removed option) fails a test instead of an operator's night.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click

from ingest.cli import cli

PROGRAM = "edgar-insider"
# Where one command of a shell line ends.
_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")"}
_FENCE = re.compile(r"^```(\w*)\s*$")


def is_program(token: str) -> bool:
    """``edgar-insider``, a path to it (``.venv/bin/edgar-insider``), or a systemd
    ``ExecStart=/opt/.../bin/edgar-insider``."""
    word = token.rsplit("=", 1)[-1]
    return word == PROGRAM or word.endswith(f"/bin/{PROGRAM}")


def invocations(shell: str) -> Iterator[list[str]]:
    """The argument lists (program name excluded) of every edgar-insider call in ``shell``:
    one or more lines of shell, a crontab or a systemd unit; backslash continuations are
    joined, comments skipped."""
    text = shell.replace("\\\n", " ")
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = ""
        tokens = list(lexer)
        for start, token in enumerate(tokens):
            if start and tokens[start - 1] == "-c":  # sh -c '...': a script of its own
                yield from invocations(token)
            elif is_program(token):
                args: list[str] = []
                for word in tokens[start + 1:]:
                    if word in _OPERATORS:
                        break
                    args.append(word)
                yield args


def fenced_blocks(markdown: str, languages: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(language, body) of every fenced block of ``markdown`` in one of ``languages``."""
    language: str | None = None
    body: list[str] = []
    for line in markdown.splitlines():
        fence = _FENCE.match(line.strip())
        if fence and language is None:
            language, body = fence.group(1), []
        elif fence and not fence.group(1):
            if language in languages:
                yield language, "\n".join(body)
            language = None
        elif language is not None:
            body.append(line)


def problems(args: list[str]) -> list[str]:
    """What is wrong with ``edgar-insider ARGS`` (empty: nothing): unknown command,
    unknown option, or an option of the group after the command."""
    group_options = _option_names(cli)
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0).split("=", 1)[0]
        if option not in group_options:
            return [f"edgar-insider has no option {option}"]
    if not rest:
        return []  # `edgar-insider --help`, `edgar-insider --version`
    name, rest = rest[0], rest[1:]
    command = cli.commands.get(name)
    if command is None:
        return [f"edgar-insider has no command {name!r}"]
    known = _option_names(command)
    return [
        f"edgar-insider {name} has no option {word.split('=', 1)[0]}"
        for word in rest
        if word.startswith("-") and word != "-" and word.split("=", 1)[0] not in known
    ]


def _option_names(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names
