// echo.js — the k6 side of docs/benchmarks.md, "wsbench vs k6 and a gorilla loop".
//
// VUS virtual users each open one WebSocket connection to URL and echo a SIZE-byte text
// message in a closed loop (send, wait for the echo, send again) for DURATION seconds, then
// close. It is the same scenario as
//   wsbench run -c VUS -d DURATIONs -size SIZE URL          (closed model, one message in flight)
//   gorillaecho -c VUS -d DURATIONs -size SIZE URL          (bench/cmd/gorillaecho)
// k6 counts every message in its ws_msgs_received / ws_msgs_sent metrics; `echoes` counts the
// replies this script received (the same number, less any control frames).
//
//   k6 run -q -e URL=ws://127.0.0.1:18400/echo -e VUS=200 -e DURATION=20 -e SIZE=128 bench/k6/echo.js
//
// Uses k6/websockets (the event-loop API; k6 ≥ 1.0 — for older k6 import
// k6/experimental/websockets instead).
import { WebSocket } from 'k6/websockets';
import { Counter } from 'k6/metrics';

const URL = __ENV.URL || 'ws://127.0.0.1:18400/echo';
const VUS = parseInt(__ENV.VUS || '200', 10);
const DURATION = parseFloat(__ENV.DURATION || '20');
const SIZE = parseInt(__ENV.SIZE || '128', 10);

const echoes = new Counter('echoes');

export const options = {
  scenarios: {
    echo: {
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: 1, // one connection per VU, held for DURATION
      maxDuration: `${Math.ceil(DURATION) + 60}s`,
      gracefulStop: '10s',
    },
  },
  // keep k6's own bookkeeping to what the comparison needs
  summaryTrendStats: ['avg', 'p(50)', 'p(99)', 'max'],
};

let payload = '';
for (let i = 0; i < SIZE; i++) payload += String.fromCharCode(97 + (i % 26));

export default function () {
  const ws = new WebSocket(URL);
  let n = 0;
  let done = false;
  ws.onopen = () => {
    ws.send(payload);
    setTimeout(() => {
      done = true;
      ws.close();
    }, DURATION * 1000);
  };
  ws.onmessage = () => {
    n++;
    if (!done) ws.send(payload);
  };
  ws.onclose = () => {
    echoes.add(n);
  };
  ws.onerror = (e) => {
    console.error(`ws error: ${e.error}`);
  };
}
