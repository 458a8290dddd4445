"""asyncpg through pgperf in transaction mode: asyncpg prepares every
statement under names of its own (__asyncpg_stmt_N__), counted per
connection, so concurrent connections reuse names for different SQL."""
import asyncio
import os

import asyncpg

N = 6


async def worker(i, rounds):
    c = await asyncpg.connect(os.environ["PGPERF_DSN"])
    pids = set()
    for rnd in range(rounds):
        v = await c.fetchval(f"select $1::int + {i * 1000}", rnd)
        assert v == i * 1000 + rnd, (i, rnd, v)
        async with c.transaction():
            v = await c.fetchval(f"select $1::text || '-{i}'", str(rnd))
            assert v == f"{rnd}-{i}", v
        # an explicitly prepared statement, used again and again
        st = await c.prepare(f"select {i} * $1::int")
        assert await st.fetchval(rnd) == i * rnd
        pids.add(await c.fetchval("select pg_backend_pid()"))
    await c.execute(f"set timezone = 'UTC+{i}'")
    await asyncio.sleep(0.01)
    assert await c.fetchval("show timezone") == f"UTC+{i}"
    await c.close()
    return pids


async def main():
    res = await asyncio.gather(*(worker(i, 20) for i in range(N)))
    pids = set().union(*res)
    print(f"asyncpg {asyncpg.__version__}: ok ({len(pids)} server connections for {N} clients)")


asyncio.run(main())
