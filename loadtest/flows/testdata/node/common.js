// What the protocol fixture servers share: argument parsing, an HTTP or HTTPS server on
// 127.0.0.1, a GET /stats endpoint with the server's own counts (the tests compare them with
// what wsbench reports), the "LISTENING <port>" line, and exit when stdin reaches EOF, so no
// server outlives the test that started it.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');

// parseArgs reads --name value pairs (and bare --flags) into an object, checked against spec:
// { name: 'int' | 'string' | 'bool' | 'pair' } with defaults in defaults. Unknown or malformed
// arguments end the process with status 2 and a message naming the argument.
function parseArgs(prog, argv, spec, defaults) {
  const opts = Object.assign({}, defaults);
  const fail = (msg) => {
    process.stderr.write(`${prog}: ${msg}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) fail(`unexpected argument ${a}`);
    const name = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const kind = spec[name];
    if (!kind) fail(`unknown argument ${a}`);
    if (kind === 'bool') {
      opts[name] = true;
      continue;
    }
    const n = kind === 'pair' ? 2 : 1;
    if (i + n >= argv.length) fail(`${a} needs ${n} value(s)`);
    const vals = argv.slice(i + 1, i + 1 + n);
    i += n;
    if (kind === 'int') {
      if (!/^\d+$/.test(vals[0])) fail(`${a}: not a non-negative integer: ${vals[0]}`);
      opts[name] = Number(vals[0]);
    } else if (kind === 'pair') {
      opts[name] = vals;
    } else {
      opts[name] = vals[0];
    }
  }
  return opts;
}

// httpServer returns an HTTPS server when tls is [certFile, keyFile], else a plain one. Its
// request handler answers GET /stats with stats() (an object, or a promise of one) as JSON and
// 404 for anything else that no WebSocket library claimed.
function httpServer(tls, stats) {
  const handler = (req, res) => {
    if (req.method === 'GET' && req.url === '/stats') {
      Promise.resolve(stats()).then(
        (s) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(s));
        },
        (err) => {
          res.writeHead(500);
          res.end(String(err));
        }
      );
      return;
    }
    if (res.headersSent || res.writableEnded) return;
    res.writeHead(404);
    res.end();
  };
  if (tls) {
    return https.createServer({ cert: fs.readFileSync(tls[0]), key: fs.readFileSync(tls[1]) }, handler);
  }
  return http.createServer(handler);
}

// listen starts server on 127.0.0.1:port (0: any free port), prints "LISTENING <port>" and
// arranges for the process to exit when stdin closes (unless ignoreStdin) or on SIGTERM/SIGINT.
function listen(prog, server, port, ignoreStdin) {
  server.on('error', (err) => {
    process.stderr.write(`${prog}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`LISTENING ${server.address().port}\n`);
  });
  const quit = () => process.exit(0);
  if (!ignoreStdin) {
    process.stdin.on('end', quit);
    process.stdin.on('error', quit);
    process.stdin.resume();
  }
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
}

// deflate maps --compress to the ws library's perMessageDeflate option: false, or the
// library's defaults with every message compressed (threshold 0) so tests see it used.
function deflate(on) {
  return on ? { threshold: 0 } : false;
}

// later runs fn after ms milliseconds, or at once (same tick) when ms is 0.
function later(ms, fn) {
  if (ms > 0) setTimeout(fn, ms);
  else fn();
}

module.exports = { parseArgs, httpServer, listen, deflate, later };
