"""WECL: cross-modal temporal erasing network for video emotion (CVPR 2023), and its tools.

The package never imports gradio; `app.py` is the only UI module.
"""
from wecl.errors import WECLError

__all__ = ["WECLError"]
