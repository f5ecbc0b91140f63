"""The console's stylesheet, inline in every page and allowed by its hash in the CSP."""

from __future__ import annotations

from pathlib import Path

CSS = Path(__file__).with_name("console.css").read_text(encoding="utf-8").strip()
# Exactly as the pages carry it: webhooks.security hashes this block for the CSP.
STYLE_BLOCK = f"<style>{CSS}</style>"
