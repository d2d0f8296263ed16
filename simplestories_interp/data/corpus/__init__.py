"""The built-in story generator: annotated synthetic stories (``synthetic``), long multi-chapter stories
with planted references (``synthetic-long``), and measurements of the corpus.

Public interface: :func:`generate_stories`, :func:`generate_story`, :func:`generate_long_stories`,
:func:`generate_mixed_stories`, :func:`write_shards`. Inside: ``arcs`` (story arcs and phrase templates),
``lexicon`` (word lists), ``writer`` (the template renderer that records annotations), ``synthetic``,
``long_stories``; ``diversity`` measures the corpus (imported on its own: it reads stories through the
pipeline, :mod:`simplestories_interp.data.sources`, which itself reads this generator).
"""

from simplestories_interp.data.corpus.long_stories import generate_long_stories, generate_mixed_stories
from simplestories_interp.data.corpus.synthetic import generate_stories, generate_story, write_shards

__all__ = ["generate_long_stories", "generate_mixed_stories", "generate_stories", "generate_story", "write_shards"]
