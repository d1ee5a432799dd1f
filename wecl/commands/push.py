"""`python -m wecl push CHECKPOINT owner/name`: publish a checkpoint folder on the Hub."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("push", help="upload a checkpoint folder to a Hub model repo (card, config, weights)")
    p.add_argument("checkpoint", help="the checkpoint folder (converted, trained or calibrated)")
    p.add_argument("repo_id", help="the Hub model repo, owner/name (created if missing)")
    p.add_argument("--revision", default=None, help="branch to commit to (created from main if missing); default main")
    p.add_argument("--tag", default=None, help="tag the new commit, e.g. v1")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--message", default=None, help="commit message")
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl.hub import push_checkpoint

    done = push_checkpoint(args.checkpoint, args.repo_id, revision=args.revision, tag=args.tag,
                           private=args.private, message=args.message)
    print(f"pushed {args.checkpoint} to {done.repo_id} ({done.revision}{', tag ' + done.tag if done.tag else ''})")
    print(f"commit: {done.commit_url}")
    print(f"load it with: python -m wecl predict VIDEO --checkpoint {done.repo_id}@{done.tag or done.commit}")
    return 0
