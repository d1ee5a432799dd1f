"""WECL: cross-modal temporal erasing network for video emotion (CVPR 2023), and its tools.

The package never imports gradio; the UI is `app.py` and `ui/` beside it (see the README's Architecture).
"""
from wecl.config import WECLConfig
from wecl.errors import WECLError
from wecl.inference import Explanation, predict
from wecl.model import WECL

__all__ = ["WECL", "WECLConfig", "WECLError", "Explanation", "predict"]
