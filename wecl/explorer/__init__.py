"""What the explorer app may load, open and serve, decided without any UI code."""
