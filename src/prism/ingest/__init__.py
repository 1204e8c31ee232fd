"""Ingest: walk a repository, detect languages, parse files into chunks."""
