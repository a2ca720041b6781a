"""Callback configuration: which project events go to which channels, secrets encrypted."""
