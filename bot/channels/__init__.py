"""Messaging channels: one module per provider, owning its wire format both ways."""
