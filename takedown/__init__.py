"""Takedown: get phishing and malware sites taken down, end to end."""

__version__ = "0.1.0"
