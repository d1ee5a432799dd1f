"""`python -m wecl COMMAND ...`: each command lives in the module that does its work.

A command module has `register(subparsers)`, which adds its parser and sets `run(args) -> int`.
Problems a user can cause arrive as WECLError and leave as one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from wecl.errors import WECLError

COMMAND_MODULES = [
    "wecl.commands.predict",
    "wecl.commands.info",
    "wecl.commands.convert",
    "wecl.commands.calibrate",
    "wecl.commands.synth",
    "wecl.commands.splits",
    "wecl.commands.extract",
    "wecl.commands.train",
    "wecl.commands.evaluate",
    "wecl.commands.batch",
    "wecl.commands.push",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wecl", description="WECL video emotion network and tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except WECLError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
