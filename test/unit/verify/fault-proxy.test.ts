// The fault harness's TCP proxy (bench/lib/fault-proxy.ts) on loopback, against an echo server:
// pass forwards both ways; cut resets connections and refuses new ones until restore; blackhole
// keeps connections open and forwards nothing until restore, then delivers in order; delay forwards
// everything, in order.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startFaultProxy } from '../../../bench/lib/fault-proxy.ts';
import { until } from '../../helpers/until.ts';

let echo: net.Server;
let echoPort = 0;
/** Bytes the echo server has received, all connections together. */
let received = 0;

before(async () => {
  echo = net.createServer((s) => {
    s.on('data', (chunk: Buffer) => {
      received += chunk.length;
      s.write(chunk);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((resolve) => echo.close(() => resolve())));

interface Conn {
  readonly socket: net.Socket;
  text(): string;
  readonly closed: () => boolean;
}

async function connect(port: number): Promise<Conn> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  let data = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (data += c.toString()));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, text: () => data, closed: () => closed };
}

void describe('fault proxy', () => {
  void test('pass: bytes go through both ways', async () => {
    const proxy = await startFaultProxy(echoPort);
    try {
      const c = await connect(proxy.port);
      c.socket.write('hello');
      await until('the echo', () => c.text() === 'hello', { timeoutMs: 5_000 });
      assert.equal(proxy.connections, 1);
      c.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  void test('cut: open connections are closed, new ones too, until restore', async () => {
    const proxy = await startFaultProxy(echoPort);
    try {
      const c = await connect(proxy.port);
      proxy.cut();
      await until('the open connection to close', c.closed, { timeoutMs: 5_000 });
      const d = await connect(proxy.port);
      await until('a new connection to be closed at once', d.closed, { timeoutMs: 5_000 });
      proxy.restore();
      const e = await connect(proxy.port);
      e.socket.write('again');
      await until('the echo after restore', () => e.text() === 'again', { timeoutMs: 5_000 });
      e.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  void test('blackhole: nothing is forwarded and nothing closed; after restore it all arrives in order', async () => {
    const proxy = await startFaultProxy(echoPort);
    try {
      const c = await connect(proxy.port);
      c.socket.write('a');
      await until('the first echo', () => c.text() === 'a', { timeoutMs: 5_000 });
      const before = received;
      proxy.blackhole();
      const late = await connect(proxy.port); // accepted while black-holed
      c.socket.write('b');
      c.socket.write('c');
      late.socket.write('x');
      // Both sockets have handed their bytes to the kernel; give the proxy every chance to misbehave.
      await until('the writes to leave the clients', () => c.socket.writableLength === 0, {
        timeoutMs: 5_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(received, before, 'nothing reached the server while black-holed');
      assert.equal(c.text(), 'a');
      assert.equal(c.closed() || late.closed(), false, 'no connection was closed');
      proxy.restore();
      await until('the held bytes to arrive, in order', () => c.text() === 'abc' && late.text() === 'x', {
        timeoutMs: 5_000,
      });
      c.socket.destroy();
      late.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  void test('delay: every chunk arrives, in order', async () => {
    const proxy = await startFaultProxy(echoPort);
    try {
      proxy.delay(30);
      const c = await connect(proxy.port);
      const sent = Array.from({ length: 20 }, (_, i) => `${i},`).join('');
      for (const part of sent.split(',')) if (part) c.socket.write(`${part},`);
      await until('every chunk', () => c.text() === sent, { timeoutMs: 5_000 });
      assert.equal(proxy.mode, 'delay');
      c.socket.destroy();
    } finally {
      await proxy.close();
    }
  });
});
