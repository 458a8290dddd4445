// node-pg through pgperf in transaction mode: named queries ({name: ...})
// are prepared once per connection under the client's name; several
// connections use one name for different SQL.  PgBouncer 1.18 returns
// another client's rows here.
const { Client } = require('pg');

async function main() {
  const n = 6;
  const conns = [];
  for (let i = 0; i < n; i++) {
    const c = new Client({ connectionString: process.env.PGPERF_DSN });
    await c.connect();
    conns.push(c);
  }
  // server connections the six used one after another, per round: with
  // transaction pooling each commit frees the connection for the next
  let most = 0;
  for (let rnd = 0; rnd < 10; rnd++) {
    const pids = new Set();
    // all six at once: pipelined on a few shared server connections
    const res = await Promise.all(conns.map((c, i) => c.query({
      name: 'q', text: `select $1::int + ${i * 1000} as v`, values: [rnd],
    })));
    res.forEach((r, i) => {
      if (Number(r.rows[0].v) !== i * 1000 + rnd)
        throw new Error(`conn ${i} round ${rnd}: got ${r.rows[0].v}`);
    });
    for (const c of conns) {
      await c.query('begin');
      const r = await c.query({ name: 'pid', text: 'select pg_backend_pid() as p' });
      pids.add(r.rows[0].p);
      await c.query('commit');
    }
    most = Math.max(most, pids.size);
  }
  for (const c of conns) await c.end();
  if (most >= n) throw new Error('connections did not share servers');
  console.log(`node-pg: ok (at most ${most} server connections for ${n} clients in a round)`);
}

main().catch((e) => { console.error(e); process.exit(1); });
