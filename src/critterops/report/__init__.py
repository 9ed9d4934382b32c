"""Render data for people and machines: JSON documents, Markdown, Mermaid, terminal tables.

Pure functions from model objects to strings or plain dicts; the command layer prints them.
"""
