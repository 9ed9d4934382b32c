"""Helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from critterops.errors import UserError

FORMATS = ("text", "json", "markdown")


def example_path(name: str = "pawmart") -> Path:
    """The bundled example system (package data)."""
    path = Path(str(resources.files("critterops") / "examples" / name))
    if not path.is_dir():
        raise UserError(f"the bundled example {name!r} is missing from this installation; reinstall critterops")
    return path


def console(stream: Any = None) -> Any:
    from rich.console import Console

    out = stream or sys.stdout
    # a pipe or a file gets plain text at a width that keeps tables readable
    width = None if out.isatty() else 200
    return Console(file=out, soft_wrap=False, highlight=False, width=width)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def add_range_arguments(parser: Any) -> None:
    """PATH, --base, --head and --example, shared by risk, plan and affected."""
    parser.add_argument("path", nargs="?", help="repository (default: current folder)")
    parser.add_argument(
        "--base", help="the deployed version: a branch, tag or commit (default: origin/HEAD, origin/main, main)"
    )
    parser.add_argument("--head", default="HEAD", help="the version to ship (default: HEAD)")
    parser.add_argument(
        "--example",
        action="store_true",
        help="use the bundled example: PawMart with a five-commit pull request, built in a temporary git repository",
    )


def add_judge_argument(parser: Any) -> None:
    """``--judge``, the same for ``deploy`` and ``demo``."""
    parser.add_argument(
        "--judge",
        choices=("sequential", "mann-whitney", "threshold"),
        default="sequential",
        help="how the canary is judged against the stable version: sequential (default; an anytime-valid test "
        "of error rates with a latency guard), mann-whitney (Kayenta's judge) or threshold (fixed limits)",
    )


def check_range_arguments(args: Any) -> None:
    if args.example and args.path:
        raise UserError("give either PATH or --example, not both")
    if args.example and (args.base or args.head != "HEAD"):
        raise UserError("--example compares the example's main with its pull-request branch; drop --base/--head")


def nothing_to_compare(root: Path, base: str | None, head: str, command: str) -> str | None:
    """A plain explanation when the range holds no commit to score, else ``None``.

    On a fresh clone's main branch (or a branch that has not moved yet) the default base is the
    head itself, and the old message ("none of origin/HEAD, origin/main, main, master exists") sent
    people looking for a missing branch. Say what happened and which ``--base`` to give instead.
    """
    from critterops.change.versions import DEFAULT_BASES
    from critterops.gitrepo import GitRepo

    repo = GitRepo.open(root)
    head_commit = repo.resolve(head)
    if base is None:
        existing = [(ref, _commit(repo, ref)) for ref in DEFAULT_BASES]
        found = [(ref, sha) for ref, sha in existing if sha]
        if not found:
            raise UserError(
                "no --base given and none of "
                + ", ".join(DEFAULT_BASES)
                + " exists in this repository. "
                + _suggest(repo, command)
            )
        # the same choice change.versions.default_base makes: the first candidate that is not the head
        chosen = next(((ref, sha) for ref, sha in found if sha != head_commit), None)
        if chosen is None:
            names = " and ".join(ref for ref, _ in found)
            return (
                f"Nothing to compare: {head} ({head_commit[:10]}) is the same commit as {names}, the default base, "
                f"so there is no change to score.\n{_suggest(repo, command)}"
            )
        base, base_commit = chosen
    else:
        base_commit = repo.resolve(base)
        if base_commit == head_commit:
            return (
                f"Nothing to compare: --base {base} and --head {head} are the same commit ({head_commit[:10]}).\n"
                + _suggest(repo, command)
            )
    if _is_ancestor(repo, head_commit, base_commit):
        return (
            f"Nothing to compare: {head} ({head_commit[:10]}) has no commit that {base} does not already have "
            f"({base} is ahead of it or equal).\n{_suggest(repo, command)}"
        )
    return None


def _commit(repo: Any, ref: str) -> str:
    out: str = repo.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return out.strip()


def _is_ancestor(repo: Any, older: str, newer: str) -> bool:
    """``older`` is reachable from ``newer``: comparing them finds no commit of ``older``'s own."""
    out: str = repo.run("merge-base", older, newer, check=False)
    return out.strip() == older


def _suggest(repo: Any, command: str) -> str:
    """The ``--base`` values that make sense in this repository, one runnable line each."""
    options: list[tuple[str, str]] = []
    if _commit(repo, "HEAD~1"):
        options.append(("--base HEAD~1", "the last commit alone"))
    remotes = repo.run("remote", check=False).split()
    remote = "origin" if "origin" in remotes else (remotes[0] if remotes else "")
    if remote:
        options.append((f"--base {remote}/main", f"what is deployed, on a branch (git fetch {remote} first)"))
    tag = repo.run("describe", "--tags", "--abbrev=0", check=False).strip()
    options.append((f"--base {tag}" if tag else "--base v1.2.0", "a tag or commit of the deployed version"))
    options.append(("--example", "the bundled example: a five-commit pull request"))
    width = max(len(option) for option, _ in options)
    lines = ["Give the version to compare with, for example:"]
    lines += [f"  critterops {command} {option:<{width}}  # {why}" for option, why in options]
    return "\n".join(lines)
