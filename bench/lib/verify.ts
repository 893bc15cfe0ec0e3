// The end of every run: each node, asked directly, must hold the identical room at the same
// version, and every acknowledged add must be there (unless its removal was acknowledged too).

import type { RoomView } from '../../src/domain/index.ts';
import type { Workload } from './workload.ts';

export interface VerifyReport {
  readonly rooms: number;
  readonly nodes: number;
  readonly acknowledgedAdds: number;
  readonly missing: readonly string[];
  readonly disagreements: readonly string[];
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Every entry id of a room a node holds: queue, now playing, all history. */
async function entriesOn(
  node: string,
  roomId: string,
  minVersion: number,
): Promise<{ view: RoomView; ids: Set<string> }> {
  const view = await getJson<RoomView>(`${node}/v1/rooms/${roomId}?minVersion=${minVersion}&limit=1000`);
  const ids = new Set<string>();
  for (let offset = 0; offset < view.queueLength; offset += 1000) {
    const page =
      offset === 0
        ? view
        : await getJson<RoomView>(
            `${node}/v1/rooms/${roomId}?minVersion=${minVersion}&offset=${offset}&limit=1000`,
          );
    for (const q of page.queue) ids.add(q.entryId);
  }
  if (view.nowPlaying) ids.add(view.nowPlaying.entryId);
  let before: number | null = null;
  do {
    const page: { records: { entryId: string }[]; nextBefore: number | null } = await getJson(
      `${node}/v1/rooms/${roomId}/history?limit=200${before === null ? '' : `&before=${before}`}`,
    );
    for (const r of page.records) ids.add(r.entryId);
    before = page.nextBefore;
  } while (before !== null);
  return { view, ids };
}

export async function verifyRun(
  nodes: readonly string[],
  roomIds: readonly string[],
  workload: Workload,
): Promise<VerifyReport> {
  const missing: string[] = [];
  const disagreements: string[] = [];
  for (const roomId of roomIds) {
    // The newest version any node has seen; every node must reach it.
    const versions = await Promise.all(
      nodes.map((n) => getJson<RoomView>(`${n}/v1/rooms/${roomId}?limit=0`).then((v) => v.version)),
    );
    let target = Math.max(...versions);
    let held = await Promise.all(nodes.map((n) => entriesOn(n, roomId, target)));
    // A request the load generator cut off at the end of the run may still be applied meanwhile,
    // so nodes can be read at different versions: read all again at the newest (a few times), and
    // compare rooms only at one version.
    for (let again = 0; again < 5 && new Set(held.map((h) => h.view.version)).size > 1; again++) {
      target = Math.max(...held.map((h) => h.view.version));
      held = await Promise.all(nodes.map((n) => entriesOn(n, roomId, target)));
    }
    const first = held[0]!;
    const fingerprint = (v: RoomView): string =>
      JSON.stringify([
        v.version,
        v.queueLength,
        v.nowPlaying?.entryId ?? null,
        v.queue.map((q) => [q.entryId, q.ups, q.downs]),
      ]);
    for (let i = 1; i < held.length; i++) {
      if (fingerprint(held[i]!.view) !== fingerprint(first.view)) {
        disagreements.push(
          `room ${roomId}: node ${nodes[i]!} at version ${held[i]!.view.version} differs from ${nodes[0]!} at version ${first.view.version}`,
        );
      }
    }
    const removed = workload.removed.get(roomId) ?? new Set<string>();
    const attempted = workload.attempted.get(roomId) ?? new Set<string>();
    for (const [entryId, trackId] of workload.added.get(roomId) ?? []) {
      for (let i = 0; i < held.length; i++) {
        const present = held[i]!.ids.has(entryId);
        if (!present && !attempted.has(entryId))
          missing.push(`room ${roomId}: acknowledged add ${trackId} (${entryId}) missing on ${nodes[i]!}`);
        if (present && removed.has(entryId) && held[i]!.view.queue.some((q) => q.entryId === entryId)) {
          missing.push(`room ${roomId}: acknowledged removal of ${entryId} not applied on ${nodes[i]!}`);
        }
      }
    }
  }
  return {
    rooms: roomIds.length,
    nodes: nodes.length,
    acknowledgedAdds: workload.acknowledgedAdds,
    missing,
    disagreements,
  };
}
