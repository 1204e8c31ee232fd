"""The session's real servers do what the scale-out backends need: pgvector HNSW on PostgreSQL, Streams on Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest


def test_postgres_has_pgvector_and_an_hnsw_index_answers_like_exact_search(postgres_url: str) -> None:
    import psycopg
    from pgvector.psycopg import register_vector

    schema = f"t_{uuid.uuid4().hex[:12]}"
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(300, 8)).astype(np.float32)
    query = vectors[17] + np.float32(0.01)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        assert version is not None and tuple(int(p) for p in version[0].split(".")[:2]) >= (0, 6)
        conn.execute(f"CREATE SCHEMA {schema}")
        try:
            conn.execute(f"CREATE TABLE {schema}.items (id int PRIMARY KEY, embedding vector(8))")
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {schema}.items VALUES (%s, %s)", list(enumerate(vectors)))
            exact = [row[0] for row in conn.execute(
                f"SELECT id FROM {schema}.items ORDER BY embedding <-> %s LIMIT 5", (query,))]
            conn.execute(f"CREATE INDEX ON {schema}.items USING hnsw (embedding vector_l2_ops)")
            with conn.transaction():
                conn.execute("SET LOCAL enable_seqscan = off")  # make the planner take the index
                plan = "\n".join(row[0] for row in conn.execute(
                    f"EXPLAIN SELECT id FROM {schema}.items ORDER BY embedding <-> %s LIMIT 5", (query,)))
                approximate = [row[0] for row in conn.execute(
                    f"SELECT id FROM {schema}.items ORDER BY embedding <-> %s LIMIT 5", (query,))]
            assert "hnsw" in plan.lower() or "items_embedding_idx" in plan
            assert approximate[0] == exact[0] == 17
            assert len(set(approximate) & set(exact)) >= 4  # HNSW is approximate; on 300 rows it is near exact
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_redis_answers_and_has_consumer_groups_with_autoclaim(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.ping() is True
    version = tuple(int(p) for p in str(client.info("server")["redis_version"]).split(".")[:2])
    assert version >= (6, 2), "XAUTOCLAIM needs Redis 6.2"
    stream = f"test:{uuid.uuid4().hex}"
    try:
        client.xgroup_create(stream, "g", id="0", mkstream=True)
        message_id = client.xadd(stream, {"n": "1"})
        delivered = client.xreadgroup("g", "alice", {stream: ">"}, count=1)
        assert delivered[0][1] == [(message_id, {"n": "1"})]
        # alice never acknowledges: bob takes the message over once it has been idle long enough
        _, claimed, *_ = client.xautoclaim(stream, "g", "bob", min_idle_time=0, start_id="0-0")
        assert claimed == [(message_id, {"n": "1"})]
        assert client.xack(stream, "g", message_id) == 1
        assert client.xpending(stream, "g")["pending"] == 0
    finally:
        client.delete(stream)
        client.close()


def test_a_missing_service_skips_outside_ci_and_fails_in_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from services import unavailable

    monkeypatch.setenv("CI", "")
    monkeypatch.setenv("PRISM_REQUIRE_SERVICES", "")
    with pytest.raises(pytest.skip.Exception, match="Redis not available: gone"):
        unavailable("Redis", "gone")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Redis is required in CI but gone"):
        unavailable("Redis", "gone")


def test_without_a_redis_server_binary_the_tests_skip_with_one_line(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import services

    monkeypatch.setenv("CI", "")
    monkeypatch.setenv("PRISM_REQUIRE_SERVICES", "")
    monkeypatch.setattr(services, "redis_binary", lambda: None)
    with pytest.raises(pytest.skip.Exception) as info, services.redis_server(tmp_path):
        pass
    assert "\n" not in str(info.value) and "no redis-server binary" in str(info.value)
