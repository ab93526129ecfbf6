"""Thin class-based views, one module per concern."""
