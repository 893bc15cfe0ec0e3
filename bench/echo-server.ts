// The ceiling: a bare node:http JSON echo and a bare grpc-js unary echo, run behind the same nginx
// as Chorus so that every Chorus figure can be quoted as a ratio to it, measured in the same run.
// Usage: echo-server.ts HTTP_PORT GRPC_PORT  (prints "ready" once both listen)

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const [httpPort = '0', grpcPort = '0'] = process.argv.slice(2);

const http = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8') || '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = null;
    }
    const out = JSON.stringify({ echo: parsed, at: Date.now() });
    res.writeHead(req.method === 'POST' ? 201 : 200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(out),
    });
    res.end(out);
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
