// The write APIs the deploy tests drive through nginx from the host: REST (fetch) and gRPC (the
// project's own client stubs). Both create a room with limits lifted and add tracks of the caller's
// own with an idempotency key, and resolve only on an acknowledged write. Rooms use the cluster tests'
// OPEN_SETTINGS: every added track stays queued (no autoplay) and no limit stops a test's adds.

import { randomUUID } from 'node:crypto';
import { connect, callMetadata, unaryCall } from '../../src/api/grpc/client.ts';
import type * as pb from '../../src/api/grpc/generated/chorus/v1/index.ts';
import { OPEN_SETTINGS } from '../helpers/cluster.ts';
import { Http } from '../helpers/http.ts';
import type { WriteApi } from './harness.ts';

const track = (trackId: string) => ({
  trackId,
  title: `Song ${trackId}`,
  artist: 'Deploy test',
  album: '',
  durationMs: 180_000,
});

export function restApi(base: string): WriteApi {
  const http = new Http(base);
  return {
    async createRoom(roomId) {
      const res = await http.post(
        '/v1/rooms',
        { roomId, name: `Room ${roomId}`, hostName: 'Host', settings: OPEN_SETTINGS },
        { headers: { 'idempotency-key': randomUUID() } },
      );
      if (res.status !== 201) throw new Error(`create room: ${res.status} ${res.text}`);
      return (res.body as { token: string }).token;
    },
    async addTrack(roomId, token, trackId, idempotencyKey) {
      const res = await http.post(
        `/v1/rooms/${roomId}/queue`,
        { track: track(trackId) },
        { token, headers: { 'idempotency-key': idempotencyKey }, timeoutMs: 10_000 },
      );
      if (res.status !== 201) throw new Error(`add ${trackId}: ${res.status} ${res.text}`);
      return (res.body as { version: number }).version;
    },
    close() {},
  };
}

export function grpcApi(address: string): WriteApi {
  const stubs = connect(address);
  const deadline = () => ({ deadline: Date.now() + 10_000 });
  return {
    async createRoom(roomId) {
      const created = await unaryCall<pb.JoinResponse__Output>((done) =>
        stubs.rooms.CreateRoom(
          { roomId, name: `Room ${roomId}`, hostName: 'Host', settings: OPEN_SETTINGS },
          callMetadata(undefined, randomUUID()),
          deadline(),
          done,
        ),
      );
      return created.token;
    },
    async addTrack(roomId, token, trackId, idempotencyKey) {
      const added = await unaryCall<pb.AddTrackResponse__Output>((done) =>
        stubs.queue.AddTrack(
          { roomId, track: track(trackId) },
          callMetadata(token, idempotencyKey),
          deadline(),
          done,
        ),
      );
      return Number(added.version);
    },
    close() {
      stubs.close();
    },
  };
}
