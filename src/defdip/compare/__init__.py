"""Runs side by side: gathering, comparability checks, metrics tables."""
