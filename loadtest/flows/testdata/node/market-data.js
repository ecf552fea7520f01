#!/usr/bin/env node
// A plain JSON market-data feed on Node's `ws`, the shape most exchange and pricing feeds share,
// for the market-data flow's tests.
//
//   node market-data.js [--port N] [--interval MS] [--tls CERT KEY] [--compress] [--ignore-stdin]
//
// At path /feed a client sends
//   {"op":"subscribe","id":<any>,"channels":["BTC-USD", ...]}
// and gets {"type":"subscribed","id":<same>,"channels":[...]} back, then, every --interval ms
// (default 100) for each channel it subscribed to,
//   {"type":"tick","channel":"BTC-USD","seq":<n>,"ts":<server ms>,"price":<number>}
// where seq counts up by one per channel (one clock per channel, shared by its subscribers).
// {"op":"unsubscribe","id":..,"channels":[...]} stops them ({"type":"unsubscribed",...}).
// Anything else gets {"type":"error","message":...} and no disconnect.
// GET /stats answers with the server's counts.
'use strict';

const { WebSocketServer } = require('ws');
const { parseArgs, httpServer, listen, deflate } = require('./common');

const PROG = 'market-data';
const opts = parseArgs(
  PROG,
  process.argv.slice(2),
  { port: 'int', interval: 'int', tls: 'pair', compress: 'bool', ignoreStdin: 'bool' },
  { port: 0, interval: 100, tls: null, compress: false, ignoreStdin: false }
);
if (opts.interval < 1) {
  process.stderr.write(`${PROG}: --interval must be at least 1 ms\n`);
  process.exit(2);
}

const stats = { connections: 0, open: 0, subscribes: 0, unsubscribes: 0, pushes: 0, errors: 0 };

// channel name -> { subscribers: Set<WebSocket>, seq, price, timer }
const channels = new Map();

function tick(name, ch) {
  ch.seq++;
  ch.price = Math.round((ch.price + (Math.random() - 0.5)) * 100) / 100;
  const msg = JSON.stringify({ type: 'tick', channel: name, seq: ch.seq, ts: Date.now(), price: ch.price });
  for (const ws of ch.subscribers) {
    ws.send(msg);
    stats.pushes++;
  }
}

function subscribe(ws, name) {
  let ch = channels.get(name);
  if (!ch) {
    ch = { subscribers: new Set(), seq: 0, price: 100, timer: null };
    ch.timer = setInterval(() => tick(name, ch), opts.interval);
    channels.set(name, ch);
  }
  ch.subscribers.add(ws);
}

function unsubscribe(ws, name) {
  const ch = channels.get(name);
  if (!ch) return;
  ch.subscribers.delete(ws);
  if (ch.subscribers.size === 0) {
    clearInterval(ch.timer);
    channels.delete(name);
  }
}

function fail(ws, message) {
  stats.errors++;
  ws.send(JSON.stringify({ type: 'error', message }));
}

const server = httpServer(opts.tls, () => stats);
const wss = new WebSocketServer({ server, path: '/feed', perMessageDeflate: deflate(opts.compress) });
wss.on('connection', (ws) => {
  stats.connections++;
  stats.open++;
  const mine = new Set();
  ws.on('message', (data, isBinary) => {
    let req;
    try {
      req = isBinary ? null : JSON.parse(data.toString());
    } catch (err) {
      return fail(ws, `not JSON: ${err.message}`);
    }
    if (req === null || typeof req !== 'object') return fail(ws, 'expected a JSON object');
    const names = req.channels;
    if (!Array.isArray(names) || !names.every((c) => typeof c === 'string' && c !== '')) {
      return fail(ws, 'channels must be a list of names');
    }
    if (req.op === 'subscribe') {
      stats.subscribes++;
      for (const c of names) {
        if (mine.has(c)) continue;
        mine.add(c);
        subscribe(ws, c);
      }
      ws.send(JSON.stringify({ type: 'subscribed', id: req.id, channels: names }));
    } else if (req.op === 'unsubscribe') {
      stats.unsubscribes++;
      for (const c of names) {
        mine.delete(c);
        unsubscribe(ws, c);
      }
      ws.send(JSON.stringify({ type: 'unsubscribed', id: req.id, channels: names }));
    } else {
      fail(ws, `unknown op ${JSON.stringify(req.op)}`);
    }
  });
  ws.on('close', () => {
    stats.open--;
    for (const c of mine) unsubscribe(ws, c);
  });
});

listen(PROG, server, opts.port, opts.ignoreStdin);
