"""`python -m wecl evaluate`: a checkpoint on an annotated dataset, or prediction files against ground truth."""
from __future__ import annotations

import json

from wecl.commands.options import add_device, add_keyframes


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy and mAP@tIoU of a checkpoint on a dataset, or of a predictions file")
    p.add_argument("--checkpoint", default=None, help="Hub repo id or folder (default: the project's default checkpoint)")
    p.add_argument("--revision", default=None)
    p.add_argument("--dataset", default=None, help="folder of videos + annotations.json (ActivityNet), or any dataset layout")
    p.add_argument("--layout", default=None, choices=["activitynet", "split", "caer", "csv"])
    p.add_argument("--root", default=None, help="video root of a split file")
    p.add_argument("--subset", default=None, help="only this subset (default: every video of the dataset)")
    p.add_argument("--theta", type=float, default=None, help="detection threshold (default: the checkpoint's)")
    p.add_argument("--rounds", type=int, default=1, help="erasing rounds (change detections only with --keyframes fused)")
    add_keyframes(p)
    p.add_argument("--ground-truth", default=None, metavar="GT",
                   help="ground-truth annotation file (any readable format): scored against --predictions, or, with "
                        "--dataset, the temporal ground truth of the dataset's videos (e.g. Ekman-6's position.txt)")
    p.add_argument("--predictions", default=None, metavar="PRED",
                   help="another model's scores to score against GT: ActivityNet results JSON or a CSV "
                        "video,start,end,score[,label][,model] (docs/formats.md#other-models-scores)")
    p.add_argument("--model", default=None, help="the model to score, in a --predictions file that holds several")
    p.add_argument("--score-rule", default="as-is", metavar="RULE",
                   help="how --predictions intervals become detections: as-is (they are detections), threshold:S "
                        "(runs of intervals scoring >= S) or top-k:K (each video's K best intervals)")
    p.add_argument("--format", default=None, choices=["activitynet", "ekman-position", "csv", "split"], help="GT format")
    p.add_argument("--video-list", default=None, help="video list of an ekman-position GT file")
    p.add_argument("--strict-detection", action="store_true",
                   help="score detections on every video, so those in videos without ground-truth segments are false "
                        "positives (default: only the videos with segments count when some have none)")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the figures as JSON")
    p.add_argument("--predictions-out", default=None, metavar="PRED", help="write the predictions (ActivityNet results JSON)")
    p.add_argument("--theta-sweep", action="store_true", help="accuracy and mAP against theta on the cached features")
    p.add_argument("--faithfulness", nargs="?", const="remove", default=None, choices=["remove", "mean", "zeros"],
                   help="deletion/insertion curves, leave-one-out and Kendall's tau of the attention on the cached "
                        "features (docs/faithfulness.md), under this perturbation (default remove)")
    add_device(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from wecl import evaluation
    from wecl.atomic import atomic_write_text
    from wecl.training import evaluate as ev

    if args.predictions or (args.ground_truth and not args.dataset):
        result = _score_files(args)
    else:
        result = _run_checkpoint(args)
    print(evaluation.format_report(result))
    if result.get("faithfulness"):
        print(ev.format_faithfulness(result["faithfulness"]))
    if result.get("theta_sweep"):
        print("theta sweep (inference: accuracy comes from x_o, so only detections move with theta):")
        print(evaluation.format_sweep(result["theta_sweep"]))
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json_out}")
    return 0


def _score_files(args) -> dict:
    """--ground-truth GT against --predictions PRED."""
    from wecl.errors import WECLError
    from wecl.evaluation import score_files

    if not (args.predictions and args.ground_truth):
        raise WECLError("scoring files needs both --ground-truth GT and --predictions PRED")
    if args.dataset or args.theta_sweep:
        raise WECLError("--ground-truth/--predictions score files; --dataset/--theta-sweep run a checkpoint: choose one")
    return score_files(args.ground_truth, args.predictions, args.format, args.video_list, strict=args.strict_detection,
                       model=args.model, rule=args.score_rule)


def _run_checkpoint(args) -> dict:
    """A checkpoint on --dataset: its figures, and its predictions written if asked."""
    import sys
    from pathlib import Path

    from wecl import checkpoints, evaluation
    from wecl.annotations import write_prediction_file
    from wecl.errors import WECLError
    from wecl.inference import load_model
    from wecl.progress import bar
    from wecl.training import evaluate as ev
    from wecl.training.datasets import ground_truth, normalise_subset, open_dataset

    if not args.dataset:
        raise WECLError("give --dataset DIR (with --checkpoint, default the project's) or --ground-truth and --predictions")
    dataset = open_dataset(args.dataset, args.layout, args.root)
    items = dataset.subset(normalise_subset(args.subset, "--subset")) if args.subset else dataset.items
    if not items:
        raise WECLError(f"{args.dataset}: no videos to evaluate")
    model = load_model(args.checkpoint, args.revision, args.device, precision=args.precision)
    unknown = sorted({i.label for i in items if i.label is not None} - set(model.config.classes))
    if unknown:
        raise WECLError(f"{args.dataset}: labels {unknown} are not classes of the checkpoint {model.config.classes}")
    with bar(len(items), "features") as tick:
        got = ev.dataset_features(model, dataset, items, tick)
    for vid, message in got["errors"].items():
        print(f"skipped {vid}: {message}", file=sys.stderr)
    gt = ground_truth(dataset, [i for i in items if i.video_id in got["features"]])
    if args.ground_truth:
        gt = _with_segments_of(args, gt)
    predictions = evaluation.predict_features(model, got["features"], args.theta, args.rounds, args.keyframes)
    result = evaluation.score(predictions, gt, model.config.classes, args.strict_detection)
    result["checkpoint"] = model.checkpoint.to_json() if model.checkpoint else None
    if result["checkpoint"] and Path(result["checkpoint"]["id"]).is_absolute():  # no machine path in a published file
        result["checkpoint"]["id"] = checkpoints.project_relative(result["checkpoint"]["id"])
    result["theta"] = model.config.theta if args.theta is None else args.theta
    result["rounds"] = args.rounds
    result["keyframe_rule"] = args.keyframes or model.config.keyframe_rule
    result["convergence"] = model.config.extra.get("convergence")  # written by `train`; None for older checkpoints
    if args.predictions_out:
        write_prediction_file(predictions, args.predictions_out)
        print(f"wrote predictions to {args.predictions_out}")
    if args.theta_sweep:
        result["theta_sweep"] = evaluation.theta_sweep(model, got["features"], gt, rounds=args.rounds,
                                                       keyframe_rule=args.keyframes)
    if args.faithfulness:
        with bar(len(got["features"]), "faithfulness") as tick:
            result["faithfulness"] = ev.faithfulness(model, got["features"], gt, args.faithfulness, args.theta,
                                                     args.rounds, args.keyframes, tick)
    return result


def _with_segments_of(args, gt: dict) -> dict:
    """Temporal ground truth from its own file (--ground-truth), for the dataset's videos only."""
    import sys
    from dataclasses import replace

    from wecl.annotations import read_annotations

    segments = read_annotations(args.ground_truth, args.format, video_list=args.video_list)
    gt = {vid: replace(ann, segments=list(segments[vid].segments)) if vid in segments else ann
          for vid, ann in gt.items()}
    print(f"ground-truth segments of {sum(1 for vid in gt if vid in segments)} of {len(gt)} videos "
          f"from {args.ground_truth}", file=sys.stderr)
    return gt
