// Events as JSON, made once. Every subscriber of a room receives the same event objects from the
// store, so caching by identity serialises each event once per node, not once per subscriber: the
// cost of a change no longer grows with the number of people watching.

import type { RoomEvent } from '../domain/index.ts';

const cache = new WeakMap<RoomEvent, string>();

export function eventJson(event: RoomEvent): string {
  let json = cache.get(event);
  if (json === undefined) {
    json = JSON.stringify(event);
    cache.set(event, json);
  }
  return json;
}

/** `{"version":V,"events":[…]}`, exactly as JSON.stringify would write it, from cached events. */
export function changeJson(version: number, events: readonly RoomEvent[]): string {
  return `{"version":${version},"events":[${events.map(eventJson).join(',')}]}`;
}
