"""Glue shared by the entry points (train.py, evaluate.py, sample.py): resolvers, instantiation."""
