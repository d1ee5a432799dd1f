"""The explorer's Gradio tabs: `video_tab`, `dataset_tab`, and what both use in `common`."""
