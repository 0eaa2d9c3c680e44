"""Algoritmekader knowledge graph: load the Markdown content, build RDF, validate, publish."""

__version__ = "0.1.0"
