// A fan-out load generator process (bench/fan-out.ts forks several): it holds many live subscribers
// of one room, half SSE (raw sockets, frames scanned for their `id:`, no JSON parsing) and half
// gRPC Watch (100 streams per HTTP/2 connection), and records when each change version reached
// each subscriber. It answers its parent over IPC:
//   { open: { sse, grpc } }  -> opens that many more; answers { opened } once each has its reset
//   { count: true }          -> answers { counted }: arrivals recorded in the current window
//   { report: true }         -> answers { arrivals, cpuPct, loopDelayP99Ms } for the window since
//                               the last report (arrivals: version -> arrival times, ms since epoch)
//   { exit: true }           -> closes everything and exits
// Its own CPU share and event-loop delay are reported, so the parent can tell whether the
// generators, rather than the node, limit what is measured.

import { connect as tcpConnect, type Socket } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { connect, type Stubs } from '../../src/api/grpc/client.ts';
import type { WatchResponse__Output } from '../../src/api/grpc/generated/chorus/v1/index.ts';

const [restUrl = '', grpcAddress = '', roomId = ''] = process.argv.slice(2);
const STREAMS_PER_CHANNEL = 100;

const now = (): number => performance.timeOrigin + performance.now();
let arrivals = new Map<number, number[]>();
function arrived(version: number): void {
  const at = now();
  let list = arrivals.get(version);
  if (!list) arrivals.set(version, (list = []));
  list.push(at);
}

const sockets: Socket[] = [];
const channels: Stubs[] = [];
let watchers = 0;
const closers: (() => void)[] = [];

/** One SSE subscriber on a raw socket; resolves once its first message (the reset) is in. */
function openSse(): Promise<void> {
  const { hostname, port } = new URL(restUrl);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    socket.setEncoding('latin1');
    let started = false;
    let tail = '';
    socket.on('connect', () =>
      socket.write(
        `GET /v1/rooms/${roomId}/events HTTP/1.1\r\nhost: bench\r\naccept: text/event-stream\r\n\r\n`,
      ),
    );
    socket.on('data', (chunk: string) => {
      const text = tail + chunk;
      if (!started && text.includes('event: reset')) {
        started = true;
        resolve();
      }
      // Every change message is "id: V\nevent: change\n…"; only the id is read.
      let at = 0;
      for (;;) {
        const found = text.indexOf('\nevent: change', at);
        if (found < 0) break;
        const idAt = text.lastIndexOf('id: ', found);
        if (idAt >= 0) arrived(Number(text.slice(idAt + 4, found)));
        at = found + 1;
      }
      // Keep enough of the end to find a frame cut between two reads.
      tail = text.slice(Math.max(at, text.length - 64));
    });
    socket.on('error', (err) => {
      if (!started) reject(err);
    });
    sockets.push(socket);
  });
}

/** One Watch subscriber; resolves once its first message (the reset) is in. */
function openWatch(): Promise<void> {
  if (watchers % STREAMS_PER_CHANNEL === 0) {
    channels.push(
      connect(grpcAddress, { 'grpc.primary_user_agent': `fan-out-${process.pid}-${channels.length}` }),
    );
  }
  watchers++;
  const stubs = channels[channels.length - 1]!;
  return new Promise((resolve, reject) => {
    let started = false;
    const call = stubs.rooms.Watch({ roomId });
    call.on('data', (message: WatchResponse__Output) => {
      if (!started) {
        started = true;
        resolve();
      }
      if (message.kind === 'change') arrived(message.version);
    });
    call.on('error', (err: Error) => {
      if (!started) reject(err);
    });
    closers.push(() => call.cancel());
  });
}

/** Opens `count` subscribers, at most 200 connecting at a time. */
async function openMany(count: number, open: () => Promise<void>): Promise<void> {
  for (let i = 0; i < count; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, count - i) }, open));
  }
}

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let cpuFrom = process.cpuUsage();
let wallFrom = now();

process.on('message', (raw: unknown) => {
  const message = raw as {
    open?: { sse: number; grpc: number };
    count?: true;
    report?: true;
    exit?: true;
  };
  if (message.open) {
    const { sse, grpc } = message.open;
    Promise.all([openMany(sse, openSse), openMany(grpc, openWatch)]).then(
      () => process.send!({ opened: sockets.length + watchers }),
      (err: unknown) => process.send!({ error: String(err) }),
    );
  } else if (message.count) {
    let counted = 0;
    for (const list of arrivals.values()) counted += list.length;
    process.send!({ counted });
  } else if (message.report) {
    const cpu = process.cpuUsage(cpuFrom);
    const wallMs = now() - wallFrom;
    process.send!({
      arrivals: [...arrivals],
      cpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
    });
    arrivals = new Map();
    cpuFrom = process.cpuUsage();
    wallFrom = now();
    delay.reset();
  } else if (message.exit) {
    for (const close of closers) close();
    for (const socket of sockets) socket.destroy();
    for (const stubs of channels) stubs.close();
    process.exit(0);
  }
});
process.send!({ ready: true });
