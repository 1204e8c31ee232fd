"""The Prism facade: one object per project that indexes, searches and packs; adapters call only this."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prism.cache import INDEX_ID_META, Cache, MemoryCache, request_key, result_namespace
from prism.errors import InputError, ModelError, ProjectError
from prism.ops.index_events import index_finished
from prism.ops.meter import count
from prism.private_files import private_dir
from prism.settings_view import SettingsView, index_dir_for

if TYPE_CHECKING:  # the indexer, model and store load on first use: `prism --help` and MCP start stay fast
    from collections.abc import Sequence

    from prism.index.embed import Embedder
    from prism.index.embed_cache import ChunkVectorCache
    from prism.index.indexer import Indexer, IndexReport, ProgressFn
    from prism.index.lookup import FileRanking
    from prism.index.store import Store
    from prism.index.symbols import SymbolRefs
    from prism.models import SearchFilters, SourceFile
    from prism.pack.records import Pack, PackedChunk, Savings
    from prism.pack.repomap import RepoMap
    from prism.pack.show import ShownCode
    from prism.pack.tokens import Tokenizer
    from prism.retrieve.search import SearchConfig, SearchOutcome, SearchResponse

PROJECT_FILE = "project.json"
INDEX_FILE = "index.db"
MODEL_WAIT_S = 0.3  # a search waits this long for a model loading in the background


@dataclass(frozen=True)
class ProjectInfo:
    root: str
    index_dir: str
    created_at: float


@dataclass(frozen=True)
class ProjectOptions:
    """What `prism index` remembers for a project: its globs and whether it computes vectors."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    embed: bool | None = None  # None: the PRISM_EMBED setting

    def to_dict(self) -> dict[str, object]:
        return {"include": list(self.include), "exclude": list(self.exclude), "embed": self.embed}

    @classmethod
    def from_json(cls, text: str | None) -> ProjectOptions:
        try:
            data = json.loads(text or "{}")
            embed = data.get("embed")
            return cls(tuple(map(str, data.get("include") or ())), tuple(map(str, data.get("exclude") or ())),
                       embed if isinstance(embed, bool) else None)
        except (ValueError, TypeError, AttributeError):
            return cls()  # unreadable options: index as if none were stored


def find_project_root(start: Path, settings: SettingsView) -> Path:
    """The project containing `start`: an already indexed ancestor, else the git root, else start."""
    start = start.resolve()
    candidates = [start, *start.parents]
    for candidate in candidates:
        if (index_dir_for(candidate, settings) / PROJECT_FILE).exists():
            return candidate
    for candidate in candidates:
        if (candidate / ".git").exists():
            return candidate
    return start


def list_projects(settings: SettingsView) -> list[ProjectInfo]:
    """Every project with an index under the PRISM home."""
    folder = settings.home / "projects"
    found: list[ProjectInfo] = []
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        meta = entry / PROJECT_FILE
        if not meta.is_file():
            continue
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            found.append(ProjectInfo(str(data["root"]), str(entry), float(data.get("created_at", 0))))
        except (ValueError, KeyError, OSError):
            continue
    return found


class Prism:
    """A project's index and everything that reads it.

    >>> prism = Prism("path/to/repo")
    >>> prism.index()
    >>> prism.search("where are tokens refreshed?")

    Built from parts: by default an embedded SQLite store under the index folder (or, with
    PRISM_DATABASE_URL set, the project's rows in that PostgreSQL database, keyed by
    `project_id`), the configured embedder (loaded on first use), a fresh in-process cache
    (finished results and query vectors) and the embedding cache of chunk vectors (the machine's,
    or with PostgreSQL the database's, which every host shares: `open_embedding_cache`).
    Pass `store`, `embedder`, `cache` or `embedding_cache` to use others (a server passes one
    cache to all its projects' engines: a Redis one is shared by its replicas); an injected
    store stays open until its owner closes it.

    Results are cached under the project and its index's identity (`result_namespace`), keyed
    by the index generation and the request: every index write bumps the generation, and a
    rebuilt index has a new identity, so a re-index never serves an old result; the TTL
    (`cache_ttl_s`) bounds what neither can see (edits on disk not yet indexed). Results are
    frozen records, safe to hand out more than once.
    """

    def __init__(self, root: str | Path = ".", *, settings: SettingsView | None = None,
                 index_dir: Path | None = None, embedder: Embedder | None = None,
                 load_model_in_background: bool = False, store: Store | None = None,
                 cache: Cache | None = None,
                 embedding_cache: ChunkVectorCache | None = None) -> None:
        if settings is None:
            from prism.config import Settings  # pydantic: a CLI search passes LightSettings instead

            settings = Settings()
        self.settings: SettingsView = settings
        self.root = Path(root).resolve()
        if self.root.is_file():
            raise ProjectError(f"{self.root} is a file; PRISM indexes a project folder.",
                               hint=f"Pass its folder ({self.root.parent}); to index only some files, "
                                    f"add --include '{self.root.name}'.", value=self.root)
        if not self.root.is_dir():
            raise ProjectError(f"Project folder {self.root} does not exist.",
                               hint="Pass an existing folder with --project.", value=self.root)
        self.index_dir = (index_dir or index_dir_for(self.root, self.settings)).resolve()
        self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self._searcher_lock = threading.Lock()
        # Servers: the first search must not wait seconds for the model; it runs lexically
        # (with a warning) while the model loads on a thread, and later searches use it.
        self._model_in_background = load_model_in_background
        self._model_loader: threading.Thread | None = None
        self.cache: Cache = cache if cache is not None else MemoryCache()
        self._local_index_id = uuid.uuid4().hex  # stands for the identity of a store that has none
        self._injected_store = store
        self._store: Store | None = store
        self._embedding_cache = embedding_cache

    # -- plumbing --------------------------------------------------------------------------

    @property
    def project_id(self) -> str:
        """The project's stable name in a shared database: its index folder's name (`project_slug`)."""
        return self.index_dir.name

    @property
    def is_indexed(self) -> bool:
        if self._injected_store is not None or self.settings.database_url is not None:
            # the first sync records its chunker first of all
            return self.store.get_meta("chunker_version") is not None
        return (self.index_dir / INDEX_FILE).exists()

    @property
    def store(self) -> Store:
        if self._store is None:
            url = self.settings.database_url
            if url is not None:
                from prism.index.pg_hnsw import HnswConfig
                from prism.index.postgres import PostgresStore

                self._store = PostgresStore.connect(url.get_secret_value(), self.project_id,
                                                    hnsw=HnswConfig.from_settings(self.settings))
            else:
                from prism.index.ann import AnnConfig
                from prism.index.sqlite import SqliteStore

                self._store = SqliteStore(self.index_dir / INDEX_FILE, AnnConfig(
                    threshold=self.settings.ann_threshold, dtype=self.settings.ann_dtype))
        return self._store

    def _results_key(self, store: Store, kind: str, *request: object) -> tuple[str, str]:
        """(namespace, key) of a result: the project and its index's identity; the generation and request.

        The identity is read on every call: another replica may have rebuilt the index meanwhile.
        """
        index_id = store.get_meta(INDEX_ID_META) or self._local_index_id
        return result_namespace(self.project_id, index_id), request_key(kind, store.generation(), *request)

    def require_index(self) -> Store:
        if not self.is_indexed:
            raise ProjectError(f"No index for {self.root}.",
                               hint=f"Run `prism index {self.root}` first.", value=self.root)
        return self.store

    @property
    def tokenizer(self) -> Tokenizer:
        from prism.pack.tokens import get_tokenizer  # a search counts no tokens

        return get_tokenizer(self.settings.tokenizer)

    @property
    def embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                from prism.index.embed import load_embedder

                self._embedder = load_embedder(self.settings.embedder, threads=self.settings.threads)
            return self._embedder

    def _query_embedder(self) -> Embedder:
        """The embedder for a search; with load_model_in_background, raises until it has loaded
        (a model that loads within MODEL_WAIT_S, like the hashing one, is used at once)."""
        if self._embedder is not None or not self._model_in_background:
            return self.embedder
        with self._embedder_lock:
            if self._model_loader is None:
                self._model_loader = threading.Thread(target=self._load_model, name="prism-model",
                                                      daemon=True)
                self._model_loader.start()
            loader = self._model_loader
        loader.join(MODEL_WAIT_S)
        if self._embedder is not None or not self._model_in_background:
            return self.embedder
        raise ModelError("it is still loading in the background", value=self.settings.embedder)

    def _load_model(self) -> None:
        try:
            _ = self.embedder
        except Exception:  # searches report the failure themselves when they try to load it
            with self._embedder_lock:
                self._model_in_background = False

    def close(self) -> None:
        """Close the store this engine opened (an injected one is its owner's to close)."""
        if self._store is not None and self._injected_store is None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Prism:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write_project_file(self) -> None:
        meta = self.index_dir / PROJECT_FILE
        if not meta.exists():
            private_dir(self.index_dir)
            meta.write_text(json.dumps({"root": str(self.root), "created_at": time.time()}),
                            encoding="utf-8")

    # -- index -----------------------------------------------------------------------------

    def index(self, *, force: bool = False, embed: bool | None = None,
              include: tuple[str, ...] | None = None, exclude: tuple[str, ...] | None = None,
              progress: ProgressFn | None = None,
              order: Callable[[SourceFile], object] | None = None,
              remember: bool = False) -> IndexReport:
        """Create or update the index; with embed also fill vectors.

        include/exclude/embed left as None take the project's stored options (`options()`),
        else the settings; with `remember`, the values given become the stored options.
        `order` sorts the files before they are written (those first become searchable first).
        """
        from prism.index.indexer import Indexer, index_lock

        with index_lock(self.index_dir):
            store = self.store  # opened first: an unreachable database leaves no project behind
            self._write_project_file()
            if store.get_meta(INDEX_ID_META) is None:  # replicas sharing this store share its cached results
                store.set_meta({INDEX_ID_META: uuid.uuid4().hex})
            stored = self.options()
            if remember:
                stored = ProjectOptions(stored.include if include is None else include,
                                        stored.exclude if exclude is None else exclude,
                                        stored.embed if embed is None else embed)
                store.set_meta({"options": json.dumps(stored.to_dict())})
            include = stored.include if include is None else include
            exclude = stored.exclude if exclude is None else exclude
            if embed is None:
                embed = self.settings.embed if stored.embed is None else stored.embed
            indexer = Indexer(self.root, store, self.settings)
            report = indexer.sync(force=force, include=include, exclude=exclude, progress=progress,
                                  order=order)
            if embed:
                started = time.perf_counter()
                report.embedded = self._embed(indexer, progress, None)
                report.seconds += time.perf_counter() - started  # the summary states the whole run
                # embed_pending ran to completion, so nothing is left to count
            else:
                model = self.store.get_meta("embed_model") or self.embedder_id()
                report.pending_embeddings = self.store.count_pending_embeddings(model)
            index_finished(report.files_indexed, report.chunks_written, report.tokens_written, report.seconds)
            return report

    def embed(self, *, progress: ProgressFn | None = None,
              should_stop: Callable[[], bool] | None = None) -> int:
        """Fill in missing vectors (the second phase of index); returns how many were added."""
        from prism.index.indexer import Indexer, index_lock

        with index_lock(self.index_dir):
            indexer = Indexer(self.root, self.require_index(), self.settings)
            return self._embed(indexer, progress, should_stop)

    def _embed(self, indexer: Indexer, progress: ProgressFn | None,
               should_stop: Callable[[], bool] | None) -> int:
        from prism.index.embed import lazy_embedder
        from prism.index.embed_cache import open_embedding_cache

        # Loaded only when some chunk needs a new vector (a re-index usually needs none).
        embedder = self._embedder or lazy_embedder(self.settings.embedder, lambda: self.embedder)
        shared = self._embedding_cache
        opened = shared is None
        if opened:  # the home's SQLite file, or with PostgreSQL the database's table (connected on first use)
            shared = open_embedding_cache(self.settings)
        try:
            added = indexer.embed_pending(embedder, batch_size=self.settings.embed_batch,
                                          progress=progress, should_stop=should_stop, shared=shared)
            model = indexer.store.get_meta("embed_model")
            if model is not None:  # a large store refreshes its approximate index, in the background
                indexer.store.maintain_vectors(model)
            return added
        finally:
            if opened and shared is not None:
                shared.close()

    def options(self) -> ProjectOptions:
        """The include/exclude globs and vector choice stored by `prism index` (defaults if none)."""
        if not self.is_indexed:
            return ProjectOptions()
        return ProjectOptions.from_json(self.store.get_meta("options"))

    def embedder_id(self) -> str:
        return self._embedder.model_id if self._embedder is not None else self.settings.embedder

    def forget(self) -> bool:
        """Delete this project's index; returns False when there was none."""
        injected = self._injected_store
        if injected is None and not self.index_dir.exists():
            return False
        from prism.index.indexer import index_lock

        with index_lock(self.index_dir):
            if injected is not None:
                injected.forget()
            elif self.settings.database_url is not None:  # the rows live in the database
                self.store.forget()
                self._store = None
            elif self._store is not None:  # an unopened index is deleted unread: it may be corrupt
                self._store.forget()
                self._store = None
            self._local_index_id = uuid.uuid4().hex
            for name in os.listdir(self.index_dir):
                if name == "index.lock":
                    continue
                path = self.index_dir / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        shutil.rmtree(self.index_dir, ignore_errors=True)
        return True

    # -- freshness -------------------------------------------------------------------------

    def is_stale(self, path: str) -> bool:
        """True when the file changed on disk (or vanished) since it was indexed."""
        state = self.store.file_state(path)
        if state is None:
            return True
        full = self.root / path
        try:
            st = full.stat()
        except OSError:
            return True
        if st.st_size != state.size:
            return True
        if st.st_mtime == state.mtime:
            return False
        from prism.index.indexer import sha256_hex

        try:  # mtime moved (e.g. git checkout): only a content change counts
            return sha256_hex(full.read_bytes()) != state.sha256
        except OSError:
            return True

    def changes_on_disk(self) -> dict[str, list[str]]:
        """Files added, modified and deleted on disk since the last index (by size and mtime)."""
        from prism.ingest.walk import WalkOptions, walk

        store = self.require_index()
        states = store.file_states()
        stored = self.options()
        options = WalkOptions(max_file_bytes=self.settings.max_file_bytes, include=stored.include,
                              exclude=stored.exclude)
        added: list[str] = []
        modified: list[str] = []
        seen: set[str] = set()
        for source in walk(self.root, options):
            seen.add(source.path)
            state = states.get(source.path)
            if state is None:
                added.append(source.path)
            elif state.size != source.size or state.mtime != source.mtime:
                modified.append(source.path)
        deleted = sorted(set(states) - seen)
        return {"added": added, "modified": modified, "deleted": deleted}

    def status(self) -> dict[str, object]:
        """Counts, languages, model, last indexed time and staleness, as one JSON-ready dict."""
        from prism.ingest.languages import detect_language

        store = self.require_index()
        stats = store.stats()
        model = store.get_meta("embed_model")
        changes = self.changes_on_disk()
        # Languages by path, so that they add up to the file count: files without a language
        # count as "other", broken down by extension in other_extensions.
        languages: dict[str, int] = {}
        others: dict[str, int] = {}
        for path in store.file_states():
            language = detect_language(path)
            if language is None:
                extension = os.path.splitext(path.rsplit("/", 1)[-1])[1].lower() or "(none)"
                others[extension] = others.get(extension, 0) + 1
            languages[language or "other"] = languages.get(language or "other", 0) + 1
        last_sync = store.get_meta("last_sync")
        last = max(float(stats["last_indexed"] or 0.0), float(last_sync or 0.0)) or None  # type: ignore[arg-type]
        skipped = json.loads(store.get_meta("skipped") or "[]")
        options = self.options()
        return {
            "project": str(self.root),
            "index_dir": str(self.index_dir),
            **stats,
            "languages": dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
            "other_extensions": dict(sorted(others.items(), key=lambda kv: (-kv[1], kv[0]))),
            "last_indexed": last,
            "embedding_model": model,
            "embedding_dim": int(store.get_meta("embed_dim") or 0) or None,
            "pending_embeddings": store.count_pending_embeddings(model) if model else stats["chunks"],
            "vectors": "off" if options.embed is False else ("on" if model else "not computed"),
            "options": options.to_dict(),
            "skipped": dict(Counter(r for _, r, _ in skipped)),
            "skipped_files": [{"path": p, "reason": r, "detail": d} for p, r, d in skipped],
            "changed_on_disk": {k: len(v) for k, v in changes.items()},
            "stale_files": sum(len(v) for v in changes.values()),
        }

    # -- search ----------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 10, files: bool = False,
               filters: SearchFilters | None = None,
               config: SearchConfig | None = None) -> SearchResponse:
        """Rank the project's chunks (or, with files=True, its files) for a question or issue text.

        Dense retrieval joins in when the index has vectors and the model loads; otherwise
        search runs lexically and says so in `warnings`.
        """
        from prism.models import Hit
        from prism.retrieve.search import SearchResponse

        query, outcome = self._ranked(query, limit=limit, files=files, filters=filters, config=config)
        stale: dict[str, bool] = {}  # staleness is read fresh on every call, cached or not
        hits = []
        for result in outcome.results:
            path = result.chunk.chunk.path
            if path not in stale:
                stale[path] = self.is_stale(path)
            hits.append(Hit(result.chunk, result.score, stale[path], result.explain))
        return SearchResponse(query, tuple(hits), files, outcome.warnings, outcome.timings_ms)

    def _ranked(self, query: str, *, limit: int, files: bool = False, filters: SearchFilters | None = None,
                config: SearchConfig | None = None) -> tuple[str, SearchOutcome]:
        """(the cleaned query, its ranked chunks): `search` without reading each hit's file state."""
        from prism.ingest.paths import check_scope
        from prism.retrieve.query import clean_query
        from prism.retrieve.search import SearchConfig, Searcher, SearchOutcome, validate_limit

        validate_limit(limit)
        if filters is not None:
            check_scope(filters.scope)
        query = clean_query(query)
        if not query.strip():
            raise InputError("The search query is empty.",
                             hint="Pass a question, identifier or issue text (or - to read stdin).")
        store = self.require_index()
        # A project indexed with --no-embed searches lexically, without warning about the
        # vectors its user chose not to compute.
        loader = None if self.options().embed is False else self._query_embedder
        with self._searcher_lock:  # concurrent first requests build one searcher, not several
            searcher = getattr(self, "_searcher", None)
            if (searcher is None or searcher.store is not store
                    or getattr(self, "_searcher_lexical", False) != (loader is None)):
                searcher = Searcher(store, loader, SearchConfig(fusion=self.settings.fusion), cache=self.cache)
                self._searcher = searcher
                self._searcher_lexical = loader is None
        namespace, key = self._results_key(store, "search", query, limit, files, filters, config)
        outcome = self.cache.get(namespace, key)
        count("cache_hits" if isinstance(outcome, SearchOutcome) else "cache_misses")
        if not isinstance(outcome, SearchOutcome):
            outcome = searcher.search(query, limit=limit, files=files, filters=filters, config=config)
            if not outcome.warnings:  # a degraded (e.g. lexical-only) answer is not worth keeping
                self.cache.set(namespace, key, outcome, self.settings.cache_ttl_s)
        return query, outcome

    def mark_helpful(self, path: str, symbol: str = "", *, helpful: bool = True,
                     query: str = "") -> None:
        """Record usage feedback: results marked helpful rank higher in later searches."""
        store = self.require_index()
        store.record_feedback(path, symbol, helpful, query)
        # feedback changes rankings the index generation cannot see
        self.cache.invalidate(self._results_key(store, "feedback")[0])

    # -- context ---------------------------------------------------------------------------

    def context(self, query: str, *, budget_tokens: int = 8000, fmt: str = "markdown",
                expand: bool = False, intent: str | None = None, tokenizer: str | None = None,
                line_numbers: bool = False, filters: SearchFilters | None = None,
                record_usage: bool = True) -> Pack:
        """Pack the code a task needs into at most budget_tokens tokens of rendered output.

        fmt is markdown, xml or json; intent is detected from the query unless given;
        expand pulls in what the chosen code calls and imports, and who calls it.
        """
        from prism.index.lookup import FileRanking
        from prism.models import Hit
        from prism.pack.intent import profile_for
        from prism.pack.packer import build_pack, check_request, resolve_intent
        from prism.pack.records import Pack
        from prism.pack.tokens import get_tokenizer
        from prism.retrieve.query import clean_query

        check_request(budget_tokens, fmt)
        query = clean_query(query)
        if not query.strip():
            raise InputError("The context query is empty.",
                             hint="Pass a task, question or issue text (or - to read stdin).")
        store = self.require_index()
        chosen = resolve_intent(query, intent)
        counter = get_tokenizer(tokenizer) if tokenizer else self.tokenizer
        namespace, key = self._results_key(store, "context", query, budget_tokens, fmt, expand, chosen,
                                           counter.name, line_numbers, filters)
        cached = self.cache.get(namespace, key)
        count("cache_hits" if isinstance(cached, Pack) else "cache_misses")
        if isinstance(cached, Pack):
            pack = cached
            if record_usage:
                self._record_context(pack, budget_tokens)
            return pack
        limit = min(profile_for(chosen).candidates, 100)  # search's own ceiling
        # Only JSON states the whole-file BM25 baseline (a second full-text query): it runs
        # beside search and packing, and not at all for the other formats.
        ranking = FileRanking(store, query) if fmt == "json" else None
        # The pack shows no staleness: the hits' file states are not read (one query and stat a path).
        _, outcome = self._ranked(query, limit=limit, filters=filters)
        hits = [Hit(r.chunk, r.score, False, r.explain) for r in outcome.results]
        pack = build_pack(
            query, hits, budget_tokens=budget_tokens, tokenizer=counter, fmt=fmt, intent=chosen,
            with_closure=expand, graph=store, line_numbers=line_numbers,
            scope=filters.scope if filters is not None else "all",
            savings_for=lambda chunks: self._savings(chunks, budget_tokens, ranking))
        self.cache.set(namespace, key, pack, self.settings.cache_ttl_s)
        if record_usage:
            self._record_context(pack, budget_tokens)
        return pack

    def _record_context(self, pack: Pack, budget_tokens: int) -> None:
        from prism.index.usage import UsageEvent

        store = self.require_index()
        if pack.savings is not None:
            whole_files = pack.savings.whole_files_tokens
        else:
            whole_files = sum(store.file_tokens(list(dict.fromkeys(c.path for c in pack.chunks))).values())
        saved = whole_files - pack.tokens
        # One computation, two records: the project's usage log (`prism stats`) and the meter
        # (per key and day, when this runs inside a server request).
        count("tokens_served", pack.tokens)
        count("tokens_saved", max(saved, 0))
        store.record_usage(UsageEvent(
            "context", pack.intent, budget_tokens, pack.tokens, max(saved, 0),
            len(pack.chunks), pack.seconds))

    def _savings(self, chunks: Sequence[PackedChunk], budget_tokens: int,
                 ranking: FileRanking | None) -> Savings:
        """Whole files of the chosen chunks and, given a ranking, what a whole-file lexical packer sends."""
        from prism.pack.records import Savings

        store = self.require_index()
        paths = list(dict.fromkeys(c.path for c in chunks))
        sizes = store.file_tokens(paths)
        full = [c for c in chunks if c.level in ("full", "light")]
        if ranking is None:
            return Savings(whole_files_tokens=sum(sizes.values()), whole_files_count=len(sizes),
                           chunks_full=len(full))
        ranked, ranked_sizes = ranking.result()
        used, sent = 0, []
        for path in ranked:
            size = ranked_sizes.get(path, 0)
            if used + size <= budget_tokens:
                used += size
                sent.append(path)
        return Savings(
            whole_files_tokens=sum(sizes.values()), whole_files_count=len(sizes),
            bm25_tokens=used, bm25_files=len(sent),
            bm25_chunks_covered=sum(1 for c in full if c.path in set(sent)), chunks_full=len(full))

    def map(self, *, budget_tokens: int = 2000, query: str | None = None, paths: Sequence[str] = (),
            tokenizer: str | None = None) -> RepoMap:
        """The file tree with each file's top symbols (PageRank over the code graph), in at most
        budget_tokens tokens; a query's hits and the given paths (prefixes) rank higher."""
        from prism.pack.packer import check_request
        from prism.pack.repomap import RepoMap, build_map
        from prism.pack.tokens import get_tokenizer

        check_request(budget_tokens, "markdown")
        store = self.require_index()
        counter = get_tokenizer(tokenizer) if tokenizer else self.tokenizer
        prefixes = tuple(p.strip("/") for p in paths if p.strip("/"))
        namespace, key = self._results_key(store, "map", budget_tokens, query, prefixes, counter.name)
        cached = self.cache.get(namespace, key)
        if isinstance(cached, RepoMap):
            return cached
        focus = {h.chunk.id for h in self.search(query, limit=20).hits} if query and query.strip() else set()
        chunks = list(store.iter_chunks())
        focus |= {sc.id for sc in chunks
                  if any(sc.chunk.path == p or sc.chunk.path.startswith(p + "/") for p in prefixes)}
        result = build_map(chunks, counter, budget_tokens, focus)
        self.cache.set(namespace, key, result, self.settings.cache_ttl_s)
        return result

    def find_symbol(self, name: str, *, limit: int = 50, references: bool = True) -> SymbolRefs:
        """Where `name` (a plain or qualified name) is defined and, from the refs graph,
        which chunks call or import it; each list holds at most `limit` chunks."""
        from prism.index.symbols import find_symbol

        if not name.strip():
            raise InputError("The symbol name is empty.", hint="Pass a function, class or method name.")
        if limit < 1:
            raise InputError(f"limit must be at least 1, not {limit}.", hint="Pass --limit 1 or more.",
                             value=limit)
        return find_symbol(self.require_index(), name, limit=limit, references=references)

    def show(self, target: str) -> list[ShownCode]:
        """The original code behind a handle, a `path:start-end` range, or a symbol name."""
        from prism.ingest.walk import WalkOptions
        from prism.pack.show import find_chunks

        store = self.require_index()
        return find_chunks(target, store, store.chunk_ids_by_hash_prefix,
                           self.root, WalkOptions(max_file_bytes=self.settings.max_file_bytes))
