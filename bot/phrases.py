"""Renamed bot/city_synonyms.py; this name stays only until bot/jobs/turns.py imports that."""

from bot.city_synonyms import load_synonyms

__all__ = ["load_synonyms"]
