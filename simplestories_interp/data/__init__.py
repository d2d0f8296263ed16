"""The data side of the pipeline: story sources, the synthetic corpus, the tokenizer recipe,
stories -> rows of tokens (in memory, streamed, or packed on disk)."""
