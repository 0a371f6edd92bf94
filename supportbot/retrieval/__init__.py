"""Retrieval: which FAQ snippets go into the prompt, and how well they match.

    base.py           the Retriever interface and the Candidate it returns
    build.py          retriever_for(bot): the one place a bot's retriever is built
    lexical.py        BM25 and word matching (core install)
    semantic.py       sentence vectors plus n-grams (the default engine)
    encoder.py        the sentence encoder, a BERT forward pass in NumPy
    token_vectors.py  a fast stand-in for the encoder on clear messages
    vector_cache.py   probe vectors kept on disk between runs

Nothing here imports the engine, providers, server or store.
"""

from .base import Candidate, Retriever
from .build import retriever_for

__all__ = ["Candidate", "Retriever", "retriever_for"]
