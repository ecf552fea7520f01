#!/usr/bin/env node
// A Socket.IO v4 chat server (the real `socket.io` package, default namespace) for the
// socketio-chat flow's tests and benchmarks.
//
//   node socketio-chat.js [--port N] [--delay MS] [--ping-interval MS] [--ping-timeout MS]
//                         [--tls CERT KEY] [--compress] [--ignore-stdin]
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

const { Server } = require('socket.io');
const { parseArgs, httpServer, listen, deflate, later } = require('./common');

const PROG = 'socketio-chat';
const opts = parseArgs(
  PROG,
  process.argv.slice(2),
  { port: 'int', delay: 'int', pingInterval: 'int', pingTimeout: 'int', tls: 'pair', compress: 'bool', ignoreStdin: 'bool' },
  { port: 0, delay: 0, pingInterval: 25000, pingTimeout: 20000, tls: null, compress: false, ignoreStdin: false }
);

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

const server = httpServer(opts.tls, () => stats);
const io = new Server(server, {
  serveClient: false,
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  perMessageDeflate: deflate(opts.compress),
});

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
      const members = io.sockets.adapter.rooms.get(msg.room);
      stats.deliveries += members ? members.size : 0;
      io.to(msg.room).emit('said', Object.assign({}, msg, { from: socket.id }));
    });
  });

  socket.on('disconnect', (reason) => {
    stats.open--;
    stats.disconnects[reason] = (stats.disconnects[reason] || 0) + 1;
  });
});

listen(PROG, server, opts.port, opts.ignoreStdin);
