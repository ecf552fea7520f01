#!/usr/bin/env node
// A Socket.IO v4 chat server (the real `socket.io` package, default namespace) for the
// socketio-chat flow's tests and benchmarks.
//
//   node socketio-chat.js [--port N] [--delay MS] [--ping-interval MS] [--ping-timeout MS]
//                         [--tls CERT KEY] [--compress] [--ignore-stdin] [--workers N]
//
// --workers N (N > 1) runs N server processes on the one port (Node's cluster module, the
// websocket transport only, so no sticky sessions are needed) joined by
// @socket.io/cluster-adapter, so a room's broadcast reaches its members on every worker: a
// benchmark's server that keeps up with more connections than one process can. /stats then sums
// the workers' counts (asked of each when requested); join's "members" counts the worker's own.
//
// Events a client may emit:
//   join(room[, ack])            joins room; the ack gets {room, members}
//   say({room, ...}[, ack])      after --delay ms: the ack gets {ok: true, ts: <server ms>}, and the
//                                whole room, sender included, gets said({...the message, from: <sid>})
//                                — the message's own fields (a client's send stamp "ts") unchanged
// GET /stats answers with the server's counts (connections, joins, says, deliveries, pongs, …).
// --delay holds both the ack and the broadcast back, so a client must see at least that much
// request→ack and fan-out latency. --compress offers permessage-deflate (every message compressed).
'use strict';

const cluster = require('cluster');
const { Server } = require('socket.io');
const { Adapter } = require('socket.io-adapter');
const { createAdapter, setupPrimary } = require('@socket.io/cluster-adapter');
const { parseArgs, httpServer, listen, deflate, later } = require('./common');

const PROG = 'socketio-chat';
const opts = parseArgs(
  PROG,
  process.argv.slice(2),
  { port: 'int', delay: 'int', pingInterval: 'int', pingTimeout: 'int', tls: 'pair', compress: 'bool', ignoreStdin: 'bool', workers: 'int' },
  { port: 0, delay: 0, pingInterval: 25000, pingTimeout: 20000, tls: null, compress: false, ignoreStdin: false, workers: 1 }
);
const clustered = opts.workers > 1;
if (clustered && cluster.isPrimary) {
  primary();
  return;
}

const stats = {
  connections: 0,
  open: 0,
  joins: 0,
  says: 0,
  acks: 0,
  deliveries: 0,
  pings: 0,
  pongs: 0,
  badEvents: 0,
  disconnects: {},
};

// Deliveries are counted where they happen: every broadcast of "said" reaches the room's
// members on this process (the cluster adapter hands other workers' broadcasts to the same
// in-memory Adapter.broadcast).
const localBroadcast = Adapter.prototype.broadcast;
Adapter.prototype.broadcast = function (packet, bopts) {
  if (packet && Array.isArray(packet.data) && packet.data[0] === 'said') {
    for (const r of bopts.rooms) {
      const members = this.rooms.get(r);
      stats.deliveries += members ? members.size : 0;
    }
  }
  return localBroadcast.call(this, packet, bopts);
};

const server = httpServer(opts.tls, clustered ? clusterStats : () => stats);
const io = new Server(server, {
  serveClient: false,
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  perMessageDeflate: deflate(opts.compress),
  transports: clustered ? ['websocket'] : ['polling', 'websocket'],
});
if (clustered) io.adapter(createAdapter());

io.on('connection', (socket) => {
  stats.connections++;
  stats.open++;
  // Engine.IO's own packets: "ping" is the server's heartbeat going out, "pong" the client's answer.
  socket.conn.on('packet', (p) => {
    if (p.type === 'pong') stats.pongs++;
  });
  socket.conn.on('packetCreate', (p) => {
    if (p.type === 'ping') stats.pings++;
  });

  socket.on('join', (room, ack) => {
    if (typeof room !== 'string' || room === '') {
      stats.badEvents++;
      if (typeof ack === 'function') ack({ error: 'join needs a room name' });
      return;
    }
    socket.join(room);
    stats.joins++;
    if (typeof ack === 'function') ack({ room, members: io.sockets.adapter.rooms.get(room).size });
  });

  socket.on('say', (msg, ack) => {
    if (msg === null || typeof msg !== 'object' || typeof msg.room !== 'string') {
      stats.badEvents++;
      if (typeof ack === 'function') ack({ error: 'say needs {room, ...}' });
      return;
    }
    stats.says++;
    later(opts.delay, () => {
      if (typeof ack === 'function') {
        stats.acks++;
        ack({ ok: true, ts: Date.now() });
      }
      io.to(msg.room).emit('said', Object.assign({}, msg, { from: socket.id }));
    });
  });

  socket.on('disconnect', (reason) => {
    stats.open--;
    stats.disconnects[reason] = (stats.disconnects[reason] || 0) + 1;
  });
});

if (clustered) {
  // a worker: the primary owns the port's announcement, stdin and the signals
  server.listen(opts.port, '127.0.0.1', () => process.send({ chat: 'listening', port: server.address().port }));
  process.on('message', (m) => {
    if (m && m.chat === 'collect') process.send({ chat: 'counts', id: m.id, stats });
    if (m && m.chat === 'summed' && pendingStats.has(m.id)) {
      pendingStats.get(m.id)(m.stats);
      pendingStats.delete(m.id);
    }
  });
  process.on('disconnect', () => process.exit(0));
} else {
  listen(PROG, server, opts.port, opts.ignoreStdin);
}

// clusterStats asks the primary for every worker's counts, summed.
const pendingStats = new Map();
let statsSeq = 0;
function clusterStats() {
  const id = `${process.pid}-${++statsSeq}`;
  return new Promise((resolve) => {
    pendingStats.set(id, resolve);
    process.send({ chat: 'stats', id });
  });
}

// primary forks the workers, relays the cluster adapter's messages (setupPrimary), prints
// "LISTENING <port>" once every worker listens, and answers a worker's stats request with the
// sum of every worker's counts.
function primary() {
  setupPrimary();
  const workers = [];
  let listening = 0;
  const asks = new Map(); // id → { from, left, sum }
  const add = (sum, s) => {
    for (const [k, v] of Object.entries(s)) {
      if (typeof v === 'number') sum[k] = (sum[k] || 0) + v;
      else if (v && typeof v === 'object') sum[k] = add(sum[k] || {}, v);
    }
    return sum;
  };
  for (let i = 0; i < opts.workers; i++) {
    const w = cluster.fork();
    workers.push(w);
    w.on('message', (m) => {
      if (!m || !m.chat) return;
      if (m.chat === 'listening' && ++listening === opts.workers) process.stdout.write(`LISTENING ${m.port}\n`);
      if (m.chat === 'stats') {
        asks.set(m.id, { from: w, left: workers.length, sum: {} });
        for (const o of workers) o.send({ chat: 'collect', id: m.id });
      }
      if (m.chat === 'counts' && asks.has(m.id)) {
        const a = asks.get(m.id);
        add(a.sum, m.stats);
        if (--a.left === 0) {
          asks.delete(m.id);
          a.from.send({ chat: 'summed', id: m.id, stats: a.sum });
        }
      }
    });
  }
  cluster.on('exit', (w, code, signal) => {
    if (!quitting) {
      process.stderr.write(`${PROG}: worker ${w.process.pid} ended (${signal || code})\n`);
      quit(1);
    }
  });
  let quitting = false;
  const quit = (code) => {
    quitting = true;
    for (const w of workers) w.kill();
    process.exit(code);
  };
  if (!opts.ignoreStdin) {
    process.stdin.on('end', () => quit(0));
    process.stdin.on('error', () => quit(0));
    process.stdin.resume();
  }
  process.on('SIGTERM', () => quit(0));
  process.on('SIGINT', () => quit(0));
}
