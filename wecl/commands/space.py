"""`python -m wecl space owner/name`: create or update a Gradio Space running the explorer."""
from __future__ import annotations


def register(sub) -> None:
    from wecl.hub import HARDWARE

    p = sub.add_parser("space", help="deploy the explorer as a Hugging Face Space")
    p.add_argument("space_id", help="the Space, owner/name (created if missing)")
    p.add_argument("--checkpoint", action="append", default=None, metavar="OWNER/NAME[@REV]",
                   help="a Hub checkpoint the Space offers (repeatable; the first is the default; each is "
                        "pinned to its current commit and preloaded at build time). Default: the bundled ones")
    p.add_argument("--hardware", default="cpu-basic", choices=HARDWARE, help="Space hardware (default cpu-basic)")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.add_argument("--title", default="WECL Explorer")
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl.hub import deploy_space

    done = deploy_space(args.space_id, args.checkpoint, hardware=args.hardware, private=args.private, title=args.title)
    print(f"deployed the explorer to the Space {done.repo_id} ({args.hardware})")
    print(f"commit: {done.commit_url}")
    return 0
