// socketio-chat.js — the k6 side of the Socket.IO chat comparison (bench/socketio/compare.sh,
// docs/benchmarks.md "Socket.IO chat: wsbench, k6 and Artillery").
//
// k6 has no Socket.IO client (grafana/k6#1306 was closed with "write an extension"), so this
// speaks Engine.IO v4 / Socket.IO v4 frames itself over k6/websockets, exactly as the
// socketio-chat flow does (loadtest/flows/socketio-chat.yaml):
//   "0{...}" open → "40" (namespace connect) → "40{sid}" → 42<id>["join",ROOM] → its ack 43<id>
//   then every EVERY ms: 42<id>["say",{"room":ROOM,"text":…,"ts":<ms>}], its ack 43<id>[…] timed
//   by id (say_ack); each 42["said",{…,"ts":…}] broadcast counted, its latency from the
//   sender's stamp (fanout); every ping "2" answered with "3".
// Each connection joins one of ROOMS rooms (room-1 … room-ROOMS) at random, as the flow does.
//
//   k6 run -q -e URL='ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket' \
//     -e VUS=100 -e DURATION=20 -e EVERY=1000 -e ROOMS=10 -e SIZE=64 bench/k6/socketio-chat.js
import { WebSocket } from 'k6/websockets';
import { setInterval, clearInterval, setTimeout } from 'k6/timers';
import { Counter, Trend } from 'k6/metrics';
import exec from 'k6/execution';

const URL = __ENV.URL || 'ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket';
const VUS = parseInt(__ENV.VUS || '100', 10);
const DURATION = parseFloat(__ENV.DURATION || '20');
const EVERY = parseInt(__ENV.EVERY || '1000', 10);
const ROOMS = parseInt(__ENV.ROOMS || '10', 10);
const SIZE = parseInt(__ENV.SIZE || '64', 10);
// RAMP: connections opened per second (0: all at once).
const RAMP = parseFloat(__ENV.RAMP || '0');

const sayAck = new Trend('say_ack', true);
const fanout = new Trend('fanout', true);
const says = new Counter('says');
const acks = new Counter('acks');
const said = new Counter('said');
const pongs = new Counter('pongs');
const protoErrors = new Counter('proto_errors');

export const options = {
  scenarios: {
    chat: {
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: 1, // one connection per VU, held for DURATION
      maxDuration: `${Math.ceil(DURATION + (RAMP > 0 ? VUS / RAMP : 0)) + 60}s`,
      gracefulStop: '10s',
    },
  },
  summaryTrendStats: ['avg', 'p(50)', 'p(99)', 'max'],
};

let text = '';
for (let i = 0; i < SIZE; i++) text += String.fromCharCode(97 + (i % 26));

export default function () {
  const id = exec.vu.idInTest - 1;
  const room = `room-${1 + Math.floor(Math.random() * ROOMS)}`;
  const start = () => {
    const ws = new WebSocket(URL);
    const pending = new Map(); // ack id -> send time (ms)
    let nextAck = 0;
    let ticker = null;
    let done = false;

    const emit = (event, data) => {
      const ackId = nextAck++;
      pending.set(ackId, Date.now());
      ws.send(`42${ackId}${JSON.stringify([event, data])}`);
      return ackId;
    };

    ws.onmessage = (e) => {
      const m = e.data;
      switch (m[0]) {
        case '0': // Engine.IO open
          ws.send('40');
          return;
        case '2': // ping
          ws.send('3');
          pongs.add(1);
          return;
        case '4':
          break;
        default:
          return;
      }
      if (m[1] === '0') {
        // namespace connected: join the room (ack id 0), then say something every EVERY ms
        emit('join', room);
        return;
      }
      if (m[1] === '3') {
        // ack: 43<id>[...]
        const j = m.indexOf('[');
        const ackId = parseInt(m.slice(2, j), 10);
        const t0 = pending.get(ackId);
        if (t0 === undefined) {
          protoErrors.add(1);
          return;
        }
        pending.delete(ackId);
        if (ackId === 0) {
          ticker = setInterval(() => {
            if (done) return;
            emit('say', { room, text, ts: Date.now() });
            says.add(1);
          }, EVERY);
          setTimeout(() => {
            done = true;
            clearInterval(ticker);
            ws.close();
          }, DURATION * 1000);
          return;
        }
        sayAck.add(Date.now() - t0);
        acks.add(1);
        return;
      }
      if (m[1] === '2') {
        // event: 42["said",{...,"ts":...}]
        const ev = JSON.parse(m.slice(2));
        if (ev[0] === 'said') {
          said.add(1);
          fanout.add(Date.now() - ev[1].ts);
        }
        return;
      }
      if (m[1] === '4') protoErrors.add(1); // connect_error
    };
    ws.onerror = (e) => {
      protoErrors.add(1);
      console.error(`ws error: ${e.error}`);
    };
  };
  if (RAMP > 0) setTimeout(start, (id / RAMP) * 1000);
  else start();
}
