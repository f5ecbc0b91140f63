"""The city's own address data as a geocoder: address points, street centrelines and named
places read from CSV or GeoJSON (`read`), built into one SQLite index (`build`), searched by
`Gazetteer`, a geopy geocoder (`geocoder`). Street names are spelled as in `names`.

Nothing is imported here, so `bot.geocoding` can read `names` without loading the rest.
"""
