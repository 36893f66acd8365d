"""Spark jobs over the lake: features and labels, distributed training, parameter sweeps."""
