// Small tools for the gRPC tests: promisified calls, status assertions that read the Chorus error
// trailers, a Watch collector, raw calls with arbitrary bytes, and polling with a deadline.

import { Client, credentials, Metadata, status, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { callMetadata, unaryCall, type Stubs } from '../../src/api/grpc/client.ts';
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from '../../src/api/grpc/errors.ts';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import { until } from './until.ts';

export { callMetadata as md, unaryCall as call };

/** A deadline a few seconds out: every test call has one, so a hung server fails the test, not CI. */
export function soon(ms = 10_000): CallOptions {
  return { deadline: Date.now() + ms };
}

export interface ErrorTrailer {
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

/** Asserts the call fails with `code` (and, for Chorus errors, the trailers); returns the trailer. */
export async function rejectsWith(promise: Promise<unknown>, code: status): Promise<ErrorTrailer | null> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    assert.equal(e.code, code, `expected status ${status[code]}, got ${status[e.code]}: ${e.details}`);
    const raw = e.metadata?.get(ERROR_DETAILS_KEY)[0];
    if (!(raw instanceof Buffer)) return null;
    const trailer = JSON.parse(raw.toString('utf8')) as ErrorTrailer;
    assert.equal(e.metadata.get(ERROR_CODE_KEY)[0], trailer.code);
    assert.equal(trailer.message, e.details);
    return trailer;
  }
  assert.fail(`expected status ${status[code]}, but the call succeeded`);
}

/** A Watch call whose messages are kept, for tests to wait on. */
export interface Watcher {
  readonly messages: pb.WatchResponse__Output[];
  /** The versions of the change messages received so far, in order. */
  changeVersions(): number[];
  /** Waits until a change for `version` (or later) has arrived. */
  reach(version: number): Promise<void>;
  /** The error the stream ended with, once it has. */
  readonly ended: Promise<ServiceError | null>;
  cancel(): void;
}

export function watch(
  stubs: Stubs,
  request: pb.WatchRequest,
  metadata = new Metadata(),
  options: CallOptions = {},
): Watcher {
  const messages: pb.WatchResponse__Output[] = [];
  const stream = stubs.rooms.Watch(request, metadata, options);
  stream.on('data', (message: pb.WatchResponse__Output) => messages.push(message));
  const ended = new Promise<ServiceError | null>((resolve) => {
    stream.on('error', (err: ServiceError) => resolve(err));
    stream.on('end', () => resolve(null));
  });
  return {
    messages,
    changeVersions: () => messages.filter((m) => m.kind === 'change').map((m) => m.version),
    reach: (version) =>
      until(`watch messages up to version ${version}`, () =>
        messages.some((m) => m.kind !== 'heartbeat' && m.version >= version) ? true : undefined,
      ).then(() => undefined),
    ended,
    cancel: () => stream.cancel(),
  };
}

export interface RawClient {
  /** A unary call with bytes as they are: no serialisation on either side. */
  call(path: string, body: Buffer, metadata?: Metadata): Promise<Buffer>;
  close(): void;
}

export function rawClient(address: string): RawClient {
  const client = new Client(address, credentials.createInsecure());
  const identity = (bytes: Buffer): Buffer => bytes;
  return {
    call: (path, body, metadata = new Metadata()) =>
      new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(path, identity, identity, body, metadata, soon(), (err, value) => {
          if (err) reject(err);
          else resolve(value ?? Buffer.alloc(0));
        });
      }),
    close: () => client.close(),
  };
}

/** One raw call on a client of its own. */
export async function rawCall(
  address: string,
  path: string,
  body: Buffer,
  metadata?: Metadata,
): Promise<Buffer> {
  const client = rawClient(address);
  try {
    return await client.call(path, body, metadata);
  } finally {
    client.close();
  }
}
