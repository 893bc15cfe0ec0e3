// The ceiling: a bare node:http JSON echo and a bare grpc-js unary echo, run behind the same nginx
// as Chorus so that every Chorus figure can be quoted as a ratio to it, measured in the same run.
// Usage: echo-server.ts HTTP_PORT GRPC_PORT [DURABLE_DIR]  (prints "ready" once both listen)
//
// With DURABLE_DIR the HTTP echo answers a POST only once its body is appended to a file there and
// fsynced, a group commit like the embedded store's: a second ceiling, for a server that must
// persist before it answers, so the embedded node's ratio can be read against both.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { open } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [httpPort = '0', grpcPort = '0', durableDir] = process.argv.slice(2);
const log = durableDir === undefined ? null : await open(join(durableDir, 'echo.log'), 'a');

/** Bodies waiting for the next write + fsync, and the answers waiting for it. */
let bodies: Buffer[] = [];
let answers: Array<() => void> = [];
let flushing = false;

function durably(body: Buffer, answer: () => void): void {
  bodies.push(body);
  answers.push(answer);
  if (!flushing) {
    flushing = true;
    setImmediate(() => void flush());
  }
}

async function flush(): Promise<void> {
  while (answers.length > 0) {
    const batch = answers;
    const data = Buffer.concat(bodies);
    answers = [];
    bodies = [];
    await log!.write(data);
    await log!.datasync();
    for (const answer of batch) answer();
  }
  flushing = false;
}

const http = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const body = raw.toString('utf8') || '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = null;
    }
    const out = JSON.stringify({ echo: parsed, at: Date.now() });
    const answer = (): void => {
      res.writeHead(req.method === 'POST' ? 201 : 200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(out),
      });
      res.end(out);
    };
    if (log !== null && req.method === 'POST') durably(raw, answer);
    else answer();
  });
});
http.keepAliveTimeout = 75_000;

const definition = protoLoader.loadSync(fileURLToPath(new URL('./echo.proto', import.meta.url)));
const proto = grpc.loadPackageDefinition(definition) as unknown as {
  bench: { Echo: grpc.ServiceClientConstructor };
};
const server = new grpc.Server();
server.addService(proto.bench.Echo.service, {
  Echo: (
    call: grpc.ServerUnaryCall<{ body: string }, { body: string }>,
    done: grpc.sendUnaryData<{ body: string }>,
  ) => done(null, { body: call.request.body }),
});

http.listen(Number(httpPort), '127.0.0.1', () => {
  server.bindAsync(`127.0.0.1:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) throw err;
    process.stdout.write('ready\n');
  });
});
process.on('SIGTERM', () => {
  http.close();
  server.forceShutdown();
  process.exit(0);
});
