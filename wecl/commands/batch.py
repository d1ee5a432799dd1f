"""`python -m wecl batch DIR --checkpoint X --out results.jsonl [--activitynet OUT.json]`."""
from __future__ import annotations

import sys

from wecl.commands.options import add_device, add_keyframes, add_ray


def register(sub) -> None:
    p = sub.add_parser("batch", help="predict every video of a folder (resumable)")
    p.add_argument("folder")
    p.add_argument("--checkpoint", default=None, help="Hub repo id or folder; default: the project's")
    p.add_argument("--revision", default=None)
    p.add_argument("--out", default=None, help="results as JSON lines")
    p.add_argument("--activitynet", default=None, help="detections as ActivityNet results JSON")
    p.add_argument("--db", default=None, help="results database (default: FOLDER/.wecl/results.sqlite)")
    p.add_argument("--theta", type=float, default=None)
    p.add_argument("--rounds", type=int, default=1)
    add_keyframes(p)
    p.add_argument("--workers", type=int, default=2, help="decode workers")
    add_device(p)
    add_ray(p, "decoding as CPU tasks, backbones and heads in actors (one per GPU)")
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl.batch import list_videos, run_batch, write_outputs
    from wecl.inference import load_model, source_of
    from wecl.progress import bar
    from wecl.results_db import ResultsDB, default_db

    videos = list_videos(args.folder)
    model = load_model(args.checkpoint, args.revision, args.device, precision=args.precision)
    theta = model.config.theta if args.theta is None else args.theta
    rule = args.keyframes or model.config.keyframe_rule
    db = ResultsDB(args.db or default_db(args.folder))
    try:
        with bar(len(videos), "batch") as tick:
            if args.ray is not None:
                from wecl.distributed import run_batch_ray

                stats = run_batch_ray(videos, model, db, theta, args.rounds, rule, args.ray or None, tick)
            else:
                stats = run_batch(videos, model, db, theta, args.rounds, args.workers, tick,
                                  keyframe_rule=rule)
        wanted = {str(v) for v in videos}
        results = {vid: r for vid, r in db.results(source_of(model), theta, args.rounds, rule).items()
                   if r["video"]["path"] in wanted}
        write_outputs(results, args.out, args.activitynet)
    finally:
        db.close()
    print(f"{stats.total} videos: {stats.computed} computed, {stats.reused} reused from {db.path}, "
          f"{stats.failed} failed; {stats.seconds:.1f} s ({stats.videos_per_second:.2f} videos/s computed)")
    for message in stats.failures.values():
        print(f"skipped: {message}", file=sys.stderr)
    for name in (args.out, args.activitynet):
        if name:
            print(f"wrote {name}")
    return 0 if stats.computed + stats.reused > 0 or stats.total == 0 else 1
