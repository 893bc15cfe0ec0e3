// A Chorus node in the test's own process, as fastify tests its apps: the node is wired exactly as
// `chorus serve` wires it (startNode, a memory store in a temp dir, the demo catalog, the legacy
// room), and requests go through `app.inject` without a socket. For REST routes, schemas, errors
// and the legacy API; what needs a process of its own (signals, durability, the CLI, clusters)
// keeps startChorus (chorus-process.ts).
//
// The node listens on a loopback port too (startNode always does): a client that needs a real
// connection (an SSE stream, the legacy contract's fetch) uses `restUrl`.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseNodeConfig, type RawConfig } from '../../src/node/config.ts';
import { startNode, type RunningNode } from '../../src/node/node.ts';
import { Http, type HttpResponse, type Json, type RequestOptions } from './http.ts';

export interface InProcessNode {
  readonly node: RunningNode;
  /** Requests through app.inject, answered as Http answers them. */
  readonly api: Http;
  readonly restUrl: string;
  /** Closes the node and removes its data dir. */
  close(): Promise<void>;
}

/** Starts a node in this process; `options` are `chorus serve` options by their config names. */
export async function startInProcess(options: RawConfig = {}): Promise<InProcessNode> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'chorus-inproc-'));
  const config = parseNodeConfig({ port: '0', grpcPort: '0', dataDir, logLevel: 'silent', ...options });
  const node = await startNode(config, pino({ level: 'silent' }));
  // As `chorus serve` says `music N tracks`: a music folder's tracks are there once the scan ends.
  await node.musicScanned;
  return {
    node,
    api: new InjectHttp(node),
    restUrl: node.restUrl,
    close: async () => {
      try {
        await node.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** The Http client of the integration tests, over app.inject instead of fetch. */
export class InjectHttp extends Http {
  private readonly node: RunningNode;

  constructor(node: RunningNode) {
    super(node.restUrl);
    this.node = node;
  }

  override async request(
    method: string,
    urlPath: string,
    options: RequestOptions = {},
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    let payload: string | Buffer | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(options.json);
    } else if (options.raw !== undefined) {
      payload = typeof options.raw === 'string' ? options.raw : Buffer.from(options.raw);
    }
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    Object.assign(headers, options.headers ?? {});
    const res = await this.node.app.inject({
      method: method as 'GET',
      url: urlPath,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    const answerHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) answerHeaders.append(name, String(v));
    }
    let body: Json;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: answerHeaders, text: res.body, body, method, path: urlPath };
  }
}
