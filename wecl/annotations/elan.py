"""ELAN tab-delimited text (export only): one row `tier<TAB>begin<TAB>end<TAB>annotation` per
segment; the tier is the video id, begin and end are seconds with three decimals.

Import in ELAN with File > Import > CSV / Tab-delimited Text File, delimiter Tab, first row of
data 1, and column types 1 = Tier, 2 = Begin Time, 3 = End Time, 4 = Annotation.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wecl.annotations.model import PathLike, VideoAnnotation, safe_cell, segment_label
from wecl.atomic import atomic_write_text


def _clean(s: str) -> str:
    """One cell: no tab or line break, and nothing a spreadsheet would run as a formula."""
    return safe_cell(re.sub(r"[\t\r\n]+", " ", s))


def elan_text(annotations: Mapping[str, VideoAnnotation]) -> str:
    rows = []
    for vid, ann in annotations.items():
        for seg in sorted(ann.segments, key=lambda s: (s.start, s.end)):
            rows.append(f"{_clean(vid)}\t{seg.start:.3f}\t{seg.end:.3f}\t{_clean(segment_label(seg, ann))}\n")
    return "".join(rows)


def write(annotations: Mapping[str, VideoAnnotation], path: PathLike, **_options: Any) -> None:
    atomic_write_text(path, elan_text(annotations))
