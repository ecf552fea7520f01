#!/usr/bin/env node
// A GraphQL over WebSocket server (the real `graphql-ws` on `ws`, protocol graphql-transport-ws)
// for the graphql-subscribe and graphql-query flows' tests.
//
//   node graphql-server.js [--port N] [--delay MS] [--tls CERT KEY] [--compress] [--ignore-stdin]
//
// Listens at path /graphql. Schema:
//   query        now: Stamp                         answered after --delay ms; ts = server ms
//   mutation     post(channel, text, ts): Post     after --delay ms; also pushed to posts(channel)
//   subscription ticks(everyMs, count): Tick       seq 1, 2, … every everyMs ms; ts = server ms at emission
//   subscription posts(channel): Post              each post to channel; serverTs = server ms
// Timestamps are Float (milliseconds since the epoch do not fit GraphQL's 32-bit Int).
// GET /stats answers with the server's counts (connections, subscribes, completes, nexts, pings, …).
'use strict';

const { WebSocketServer } = require('ws');
const { buildSchema } = require('graphql');
const { useServer } = require('graphql-ws/use/ws');
const { parseArgs, httpServer, listen, deflate } = require('./common');

const PROG = 'graphql-server';
const opts = parseArgs(
  PROG,
  process.argv.slice(2),
  { port: 'int', delay: 'int', tls: 'pair', compress: 'bool', ignoreStdin: 'bool' },
  { port: 0, delay: 0, tls: null, compress: false, ignoreStdin: false }
);

const schema = buildSchema(`
  type Stamp { ts: Float! }
  type Tick { seq: Int!, ts: Float! }
  type Post { channel: String!, text: String!, ts: Float, serverTs: Float! }
  type Query { now: Stamp! }
  type Mutation { post(channel: String!, text: String!, ts: Float): Post! }
  type Subscription {
    ticks(everyMs: Int!, count: Int): Tick!
    posts(channel: String!): Post!
  }
`);

const stats = { connections: 0, open: 0, subscribes: 0, completes: 0, nexts: 0, errors: 0, pings: 0, queries: 0, mutations: 0 };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Subscribers of posts(channel): each is a function that hands one post to its iterator.
const channels = new Map();

// postsOf is an async iterator of the posts to channel, from subscription until return().
function postsOf(channel) {
  const queue = [];
  let wake = null;
  const push = (post) => {
    queue.push(post);
    if (wake) wake();
  };
  if (!channels.has(channel)) channels.set(channel, new Set());
  channels.get(channel).add(push);
  let done = false;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      while (!done && queue.length === 0) await new Promise((resolve) => (wake = resolve));
      wake = null;
      if (done) return { done: true, value: undefined };
      return { done: false, value: { posts: queue.shift() } };
    },
    async return() {
      done = true;
      channels.get(channel).delete(push);
      if (wake) wake();
      return { done: true, value: undefined };
    },
  };
}

const roots = {
  query: {
    now: async () => {
      stats.queries++;
      await sleep(opts.delay);
      return { ts: Date.now() };
    },
  },
  mutation: {
    post: async ({ channel, text, ts }) => {
      stats.mutations++;
      await sleep(opts.delay);
      const post = { channel, text, ts, serverTs: Date.now() };
      for (const push of channels.get(channel) || []) push(post);
      return post;
    },
  },
  subscription: {
    ticks: async function* ({ everyMs, count }) {
      for (let seq = 1; count == null || seq <= count; seq++) {
        await sleep(everyMs);
        yield { ticks: { seq, ts: Date.now() } };
      }
    },
    posts: ({ channel }) => postsOf(channel),
  },
};

const server = httpServer(opts.tls, () => stats);
const wss = new WebSocketServer({ server, path: '/graphql', perMessageDeflate: deflate(opts.compress) });
wss.on('connection', (ws) => {
  stats.connections++;
  stats.open++;
  ws.on('message', (data, isBinary) => {
    if (!isBinary && data.length < 64 && /"type"\s*:\s*"ping"/.test(data.toString())) stats.pings++;
  });
  ws.on('close', () => stats.open--);
});

useServer(
  {
    schema,
    roots,
    onSubscribe: () => {
      stats.subscribes++;
    },
    onNext: () => {
      stats.nexts++;
    },
    onError: () => {
      stats.errors++;
    },
    onComplete: () => {
      stats.completes++;
    },
  },
  wss
);

listen(PROG, server, opts.port, opts.ignoreStdin);
