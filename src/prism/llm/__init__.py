"""Model providers, remote embedders, the router and `ask`: PRISM's calls out to language models.

providers/   one client per wire format (Ollama, Anthropic, OpenAI-compatible, Workers AI)
transport    timeouts, retries with backoff and Retry-After, SSE and NDJSON framing
embedders    the index's Embedder Protocol over a provider (EMBEDDING_MODEL=provider:model)
prices       the price table;  ledger: daily usage per provider;  router: DEFAULT_MODEL=auto
ask          a question → the packed context → a streamed, cited, costed answer
"""
