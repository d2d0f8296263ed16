"""Offline HTML rendering and the TinyStories figure reproductions (``ssi reproduce``)."""
