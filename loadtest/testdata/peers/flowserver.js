// A chat and request/reply server for wsbench's flow tests, on Node's ws: the same contract
// as flowserver.py (read it there). Runs with NODE_PATH pointing at a node_modules that holds
// ws (engine/testdata/peers/node, installed by .ci/install-peers).
//
//   node flowserver.js [--delay-ms N] [--ping-ms N]
'use strict';
const { WebSocketServer } = require('ws');
const crypto = require('crypto');

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const delay = arg('--delay-ms', 0);
const pingMs = arg('--ping-ms', 200);
const stats = { requests: 0, joins_ok: 0, joins_bad: 0, says: 0, said: 0, pings: 0, pongs: 0, other: 0 };
const rooms = new Map();

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1 << 20 });

function rr(ws) {
  ws.on('message', (data) => {
    stats.requests++;
    const n = JSON.parse(data.toString()).id;
    setTimeout(() => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id: n, ok: true, ts: Date.now() }));
    }, delay + (n % 3) * 10);
  });
}

function chat(ws) {
  const sid = crypto.randomBytes(6).toString('hex');
  ws.send(JSON.stringify({ type: 'welcome', sid }));
  let room = null;
  const timer = setInterval(() => {
    stats.pings++;
    ws.send('ping');
  }, pingMs);
  ws.on('close', () => {
    clearInterval(timer);
    if (room) rooms.get(room).delete(ws);
  });
  ws.on('message', (data) => {
    const s = data.toString();
    if (s === 'pong') {
      stats.pongs++;
      return;
    }
    const m = JSON.parse(s);
    if (m.type === 'join') {
      if (m.sid !== sid) {
        stats.joins_bad++;
        ws.send(JSON.stringify({ type: 'error', why: 'bad sid' }));
        return;
      }
      stats.joins_ok++;
      room = m.room;
      if (!rooms.has(room)) rooms.set(room, new Set());
      rooms.get(room).add(ws);
      ws.send(JSON.stringify({ type: 'joined', room }));
    } else if (m.type === 'say') {
      stats.says++;
      ws.send(JSON.stringify({ type: 'ack', id: m.id }));
      const out = JSON.stringify({ type: 'said', room: m.room, ts: m.ts });
      for (const other of rooms.get(m.room) || []) {
        if (other !== ws && other.readyState === other.OPEN) {
          stats.said++;
          other.send(out);
        }
      }
    } else {
      stats.other++;
    }
  });
}

function foreign(ws) {
  const bin = Buffer.alloc(32, 7);
  const timer = setInterval(() => {
    ws.send('0{"sid":"x"}');
    ws.send(bin);
  }, 20);
  ws.on('close', () => clearInterval(timer));
}

wss.on('connection', (ws, req) => {
  ws.on('error', () => {});
  if (req.url.startsWith('/rr')) rr(ws);
  else if (req.url.startsWith('/chat')) chat(ws);
  else if (req.url.startsWith('/foreign')) foreign(ws);
  else ws.close(4404, 'no such route');
});
wss.on('listening', () => {
  process.stdout.write(`LISTENING ${wss.address().port}\n`);
});
process.stdin.on('data', () => {});
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(stats) + '\n', () => process.exit(0));
});
