"""Readers of values in platform payloads: one module per concern, one function per meaning.

- :mod:`connectors.readers.ids`: platform ids as exact strings or numbers (a GraphQL id's
  number included);
- :mod:`connectors.readers.times`: platform times as aware UTC datetimes;
- :mod:`connectors.readers.money`: amounts as exact Decimals.

Each strict reader raises ``MappingError`` (``Permanent``) naming the field; the lenient
ones (catalog values a merchant may leave blank) say ``None`` or raise ``ValueError``.
"""
