"""Omega."""
