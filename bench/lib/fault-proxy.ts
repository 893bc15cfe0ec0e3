// A loopback TCP fault proxy for the fault harness: one per directed link (node i → node j's gRPC
// port, node → Redis), so a nemesis can break chosen links both ways. Modes:
//
// - pass: bytes flow both ways as they come;
// - cut: every connection is destroyed and new ones are closed at once (the peer vanishes, a reset);
// - blackhole: connections are accepted and kept, nothing is forwarded either way and nothing is
//   closed (a silent network: callers learn only from their own deadlines). Each side's socket is
//   paused, so what was sent waits in the kernel's buffers, as unacknowledged TCP segments wait for
//   retransmission; after restore it flows on in order, like a healed network;
// - delay: every chunk is held `ms` before it is forwarded, in order (a slow link).
//
// Only loopback: it listens on 127.0.0.1 and connects only to 127.0.0.1:targetPort.

import net from 'node:net';

export type ProxyMode = 'pass' | 'cut' | 'blackhole' | 'delay';

export interface FaultProxy {
  readonly port: number;
  readonly targetPort: number;
  readonly mode: ProxyMode;
  /** Connections open through the proxy now. */
  readonly connections: number;
  /** Bytes forwarded so far, both ways. */
  readonly forwarded: number;
  cut(): void;
  blackhole(): void;
  delay(ms: number): void;
  /** Back to pass: held data flows on, new connections are forwarded. */
  restore(): void;
  close(): Promise<void>;
}

/** One direction of one connection: chunks from `from` to `to`, through the proxy's mode. */
class Pipe {
  private readonly queue: { chunk: Buffer; at: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly from: net.Socket;
  private readonly to: net.Socket;
  private readonly proxy: ProxyState;

  constructor(from: net.Socket, to: net.Socket, proxy: ProxyState) {
    this.from = from;
    this.to = to;
    this.proxy = proxy;
    from.on('data', (chunk: Buffer) => {
      this.queue.push({ chunk, at: Date.now() + (proxy.mode === 'delay' ? proxy.delayMs : 0) });
      this.pump();
    });
    to.on('drain', () => this.pump());
  }

  /** Forwards what is due, unless black-holed or the far side pushes back. */
  pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.to.destroyed || this.from.destroyed) return;
    if (this.proxy.mode === 'blackhole') {
      this.from.pause();
      return;
    }
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      const wait = next.at - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        break;
      }
      this.queue.shift();
      this.proxy.forwarded += next.chunk.length;
      if (!this.to.write(next.chunk)) {
        this.from.pause();
        return;
      }
    }
    // Back-pressure: while delayed chunks wait, read no more than a few of them ahead.
    if (this.queue.length > 64) this.from.pause();
    else this.from.resume();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}

interface ProxyState {
  mode: ProxyMode;
  delayMs: number;
  forwarded: number;
}

/** Starts a proxy on a free loopback port, forwarding to 127.0.0.1:targetPort, in pass mode. */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const state: ProxyState = { mode: 'pass', delayMs: 0, forwarded: 0 };
  const links = new Set<{ client: net.Socket; upstream: net.Socket; pipes: Pipe[] }>();

  const server = net.createServer((client) => {
    if (state.mode === 'cut') {
      client.destroy();
      return;
    }
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' });
    const link = { client, upstream, pipes: [] as Pipe[] };
    link.pipes.push(new Pipe(client, upstream, state), new Pipe(upstream, client, state));
    links.add(link);
    const drop = (): void => {
      if (!links.delete(link)) return;
      for (const p of link.pipes) p.stop();
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
      s.setNoDelay(true);
    }
    if (state.mode === 'blackhole') {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('fault proxy has no port');

  const pumpAll = (): void => {
    for (const link of links) for (const p of link.pipes) p.pump();
  };
  const cut = (): void => {
    state.mode = 'cut';
    for (const link of [...links]) {
      link.client.destroy();
      link.upstream.destroy();
    }
  };

  return {
    port: address.port,
    targetPort,
    get mode() {
      return state.mode;
    },
    get connections() {
      return links.size;
    },
    get forwarded() {
      return state.forwarded;
    },
    cut,
    blackhole() {
      state.mode = 'blackhole';
      pumpAll();
    },
    delay(ms: number) {
      state.mode = 'delay';
      state.delayMs = ms;
    },
    restore() {
      state.mode = 'pass';
      state.delayMs = 0;
      pumpAll();
    },
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
