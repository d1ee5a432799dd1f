"""Temporal-annotation files: the one package that reads and writes them (docs/formats.md#annotation-formats).

`model` holds the data (an annotation set is `dict[str, VideoAnnotation]`, keyed by video id);
one module per format (`activitynet`, `split`, `positions`, `csv_format`, `elan`, `label_studio`),
each a reader and/or a writer; `formats` names them ({format: (reader, writer)}) and picks one;
`edit` saves edited annotations under a lock with backups. The public API is re-exported here.
"""
from wecl.annotations.activitynet import read_prediction_file, write_prediction_file
from wecl.annotations.csv_format import CSV_HEADER
from wecl.annotations.edit import (
    BACKUPS,
    backup_path,
    save_annotations,
    save_video_segments,
)
from wecl.annotations.formats import (
    FORMATS,
    READABLE_FORMATS,
    detect_format,
    read_annotations,
    read_class_names,
    write_annotations,
)
from wecl.annotations.model import (
    COMMON_VIDEO_EXTENSIONS,
    FALLBACK_LABEL,
    VIDEO_EXTENSIONS,
    AnnotationSet,
    PathLike,
    Segment,
    VideoAnnotation,
    class_names,
    majority_label,
    video_id,
)
from wecl.annotations.positions import is_positions_file
from wecl.annotations.split import is_split_file

__all__ = [
    "BACKUPS",
    "COMMON_VIDEO_EXTENSIONS",
    "CSV_HEADER",
    "FALLBACK_LABEL",
    "FORMATS",
    "READABLE_FORMATS",
    "VIDEO_EXTENSIONS",
    "AnnotationSet",
    "PathLike",
    "Segment",
    "VideoAnnotation",
    "backup_path",
    "class_names",
    "detect_format",
    "is_positions_file",
    "is_split_file",
    "majority_label",
    "read_annotations",
    "read_class_names",
    "read_prediction_file",
    "save_annotations",
    "save_video_segments",
    "video_id",
    "write_annotations",
    "write_prediction_file",
]
