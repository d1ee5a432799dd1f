"""What the explorer app shows, without gradio: plots, the rendered video, ground truth, dataset
runs and their tables, and what a hosted app may load and serve (`policy`)."""
