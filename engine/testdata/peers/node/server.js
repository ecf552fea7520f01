#!/usr/bin/env node
// Interop peer for wsfleet's engine tests: a WebSocket server built on Node's `ws`.
// It behaves exactly like ../python/server.py; the contract lives in engine/peers_test.go.
//
//   node server.js [--port N] [--tls CERT KEY] [--compress off|on|no-context] [--ignore-stdin]
//
// Listens on 127.0.0.1, prints "LISTENING <port>" on stdout once ready, logs only to stderr,
// and exits when its stdin reaches EOF (unless --ignore-stdin), so no server outlives its test.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const SUBPROTOCOLS = ['chat.v2', 'chat.v1'];
const MAX_PAYLOAD = 64 * 1024 * 1024;
const PUSH_HIGH_WATER = 1024 * 1024;

function log(...args) {
  process.stderr.write(`node-peer: ${args.join(' ')}\n`);
}

function usage(msg) {
  process.stderr.write(
    `node-peer: ${msg}\nusage: node server.js [--port N] [--tls CERT KEY] ` +
      '[--compress off|on|no-context] [--ignore-stdin]\n'
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: 0, tls: null, compress: 'off', ignoreStdin: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const need = (n) => {
      if (i + n >= argv.length) usage(`${a} needs ${n} argument(s)`);
      const vals = argv.slice(i + 1, i + 1 + n);
      i += n;
      return vals;
    };
    if (a === '--port') {
      const [p] = need(1);
      if (!/^\d+$/.test(p) || +p > 65535) usage(`bad port ${p}`);
      opts.port = +p;
    } else if (a === '--tls') {
      const [cert, key] = need(2);
      opts.tls = { cert, key };
    } else if (a === '--compress') {
      const [m] = need(1);
      if (!['off', 'on', 'no-context'].includes(m)) usage(`bad --compress mode ${m}`);
      opts.compress = m;
    } else if (a === '--ignore-stdin') {
      opts.ignoreStdin = true;
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  return opts;
}

function deflateOptions(mode) {
  switch (mode) {
    case 'on':
      // Library defaults (context takeover on both sides), but compress every message.
      return { threshold: 0 };
    case 'no-context':
      return { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 };
    default:
      return false;
  }
}

// Header names lower-cased; repeated headers joined with ", " in arrival order.
function headerObject(rawHeaders) {
  const out = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    out[name] = name in out ? `${out[name]}, ${rawHeaders[i + 1]}` : rawHeaders[i + 1];
  }
  const sorted = {};
  for (const k of Object.keys(out).sort()) sorted[k] = out[k];
  return sorted;
}

// The request target's path, as sent (not percent-decoded), without the query.
function routePath(target) {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

function queryParams(target) {
  const q = target.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
}

function intParam(params, name, def) {
  const v = params.get(name);
  if (v === null || v === '') return def;
  if (!/^-?\d+$/.test(v)) throw new Error(`bad ${name}=${v}`);
  return parseInt(v, 10);
}

// Byte j of pushed message i is (i + j) mod 256. Messages are views into one shared pattern.
function pushPattern(size) {
  const b = Buffer.allocUnsafe(size + 256);
  for (let j = 0; j < b.length; j++) b[j] = j & 0xff;
  return b;
}

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

function failConn(ws, err) {
  log('connection error:', err && err.stack ? err.stack : err);
  try {
    ws.close(1011, 'server error');
  } catch (e) {
    ws.terminate();
  }
}

const ROUTES = {
  '/echo': (ws) => echo(ws),

  '/headers': (ws, req) => {
    ws.send(JSON.stringify(headerObject(req.rawHeaders)));
    echo(ws);
  },

  '/close': (ws, req, params) => {
    ws.close(intParam(params, 'code', 1000), params.get('reason') || '');
  },

  '/ping': (ws, req, params) => {
    // Messages that arrive before the pong are held back and echoed after "pong:<payload>".
    const held = [];
    const hold = (data, isBinary) => held.push([data, isBinary]);
    ws.on('message', hold);
    ws.once('pong', (payload) => {
      ws.send(`pong:${payload.toString('utf8')}`);
      ws.off('message', hold);
      for (const [data, isBinary] of held) ws.send(data, { binary: isBinary });
      echo(ws);
    });
    ws.ping(Buffer.from(params.get('data') || '', 'utf8'));
  },

  '/push': (ws, req, params) => {
    const count = intParam(params, 'count', 1);
    const size = intParam(params, 'size', 0);
    if (count < 0 || size < 0 || size > MAX_PAYLOAD) throw new Error('bad count/size');
    const pattern = pushPattern(size);
    let i = 0;
    // Like the Python peer, respect backpressure: past 1 MiB unsent, wait for a write to finish.
    const pump = (err) => {
      if (err) return; // the connection is gone; its 'error'/'close' handling has it
      while (i < count) {
        const msg = pattern.subarray(i & 0xff, (i & 0xff) + size);
        i++;
        if (ws.bufferedAmount > PUSH_HIGH_WATER) {
          ws.send(msg, { binary: true }, pump);
          return;
        }
        ws.send(msg, { binary: true });
      }
      ws.close(1000, 'done');
    };
    pump();
  },
};

function main() {
  const opts = parseArgs(process.argv.slice(2));

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_PAYLOAD,
    perMessageDeflate: deflateOptions(opts.compress),
    // First client-offered subprotocol that we support (a Set keeps the client's order).
    handleProtocols: (offered) => {
      for (const p of offered) if (SUBPROTOCOLS.includes(p)) return p;
      return false;
    },
  });
  wss.on('error', (err) => log('server error:', err));
  wss.on('wsClientError', (err, socket) => {
    log('handshake error:', err.message);
    socket.destroy();
  });

  const server = opts.tls
    ? https.createServer({
        cert: fs.readFileSync(opts.tls.cert),
        key: fs.readFileSync(opts.tls.key),
      })
    : http.createServer();

  // Plain HTTP requests are not served.
  server.on('request', (req, res) => {
    if (!Object.prototype.hasOwnProperty.call(ROUTES, routePath(req.url))) {
      res.writeHead(404, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end('not found\n');
      return;
    }
    res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' });
    res.end('WebSocket upgrade required\n');
  });
  server.on('clientError', (err, socket) => {
    log('client error:', err.message);
    socket.destroy();
  });
  server.on('tlsClientError', (err) => log('tls client error:', err.message));
  server.on('error', (err) => {
    log('listen error:', err.message);
    process.exit(1);
  });

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', (err) => log('socket error:', err.message));
    const path = routePath(req.url);
    if (!Object.prototype.hasOwnProperty.call(ROUTES, path)) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (err) => log('connection error:', err.message));
      try {
        ROUTES[path](ws, req, queryParams(req.url));
      } catch (err) {
        failConn(ws, err);
      }
    });
  });

  server.listen(opts.port, '127.0.0.1', () => {
    // From here on, one connection's bug must not take the whole server down.
    process.on('uncaughtException', (err) => log('uncaught exception:', err && err.stack ? err.stack : err));
    process.stdout.write(`LISTENING ${server.address().port}\n`);
  });

  if (!opts.ignoreStdin) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
  }
}

main();
