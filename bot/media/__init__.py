"""Residents' photos: fetched by the worker from the channel that received them (with that
channel's credentials, sent only to its own hosts), checked to be images, GPS read then every
piece of metadata stripped, kept in the media store and served to the city at an unguessable
address that becomes the report's `media_url`."""
