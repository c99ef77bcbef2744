"""Lens catalogs (WA custom-lens JSON format) and per-best-practice guidance notes."""
