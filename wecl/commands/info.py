"""`python -m wecl info CHECKPOINT`: its config and model card."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("info", help="print a checkpoint's config and model card")
    p.add_argument("checkpoint", nargs="?", default=None, help="Hub repo id or folder; default: the project's")
    p.add_argument("--revision", default=None)
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl import checkpoints
    from wecl.config import WECLConfig
    from wecl.errors import WECLError

    folder, ident, revision = checkpoints.resolve(args.checkpoint, args.revision)
    if not (folder / "config.json").is_file():
        raise WECLError(f"checkpoint {ident}: config.json is missing")
    config = WECLConfig.load(folder / "config.json")
    print(f"checkpoint: {ident}" + (f" @ {revision}" if revision else ""))
    print(f"folder: {folder}")
    print(json.dumps(config.to_dict(), indent=2))
    card = folder / "README.md"
    print()
    print(card.read_text() if card.is_file() else "(no model card)")
    return 0
