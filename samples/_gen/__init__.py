"""Builders of the sample exports, one module per source system (see ../generate.py)."""
