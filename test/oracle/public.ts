// The state/wire split (issues 20 and 21): events and answers carry entries in their public form
// (counts and score, no voter map) and `voteChanged` names no voter. The oracle (the old code, kept
// unchanged) still emits whole entries; this maps any output, the oracle's or today's, as JSON to
// that public form, so the two compare on everything else exactly. Answers remembered in a state's
// recent window are mapped too, as a retry answers them (wireValue): a snapshot written before the
// split keeps its old answers byte for byte, and answers with their public form.

import {
  wireEntry,
  wireNowPlaying,
  wireValue,
  type CommandValue,
  type NowPlaying,
  type QueueEntry,
} from '../../src/domain/index.ts';

type Json = Record<string, unknown>;

/** One event (as JSON) in its public form. */
export function publicEvent(event: Json): Json {
  switch (event['type']) {
    case 'entryAdded':
      return { ...event, entry: wireEntry(event['entry'] as QueueEntry) };
    case 'voteChanged': {
      const { voter: _voter, value: _value, ...rest } = event;
      return rest;
    }
    case 'trackStarted':
    case 'playbackPaused':
    case 'playbackResumed':
      return { ...event, nowPlaying: wireNowPlaying(event['nowPlaying'] as NowPlaying) };
    default:
      return event;
  }
}

/** An apply output as JSON (errors by code), its events, answer and remembered answers public. */
export function publicOutput(out: {
  readonly state: unknown;
  readonly events: readonly unknown[];
  readonly result:
    | { readonly ok: true; readonly value: unknown }
    | { readonly ok: false; readonly error: { readonly code: string } };
}): unknown {
  const json = JSON.parse(
    JSON.stringify({
      state: out.state,
      events: out.events,
      result: out.result.ok ? out.result : { ok: false, code: out.result.error.code },
    }),
  ) as { state: Json | null; events: Json[]; result: Json };
  const value = (v: unknown): Json => JSON.parse(JSON.stringify(wireValue(v as CommandValue))) as Json;
  const recent = json.state?.['recent'] as { commandId: string; result: unknown }[] | undefined;
  return {
    state: json.state && {
      ...json.state,
      recent: recent?.map((r) => ({ ...r, result: value(r.result) })),
    },
    events: json.events.map((e) => JSON.parse(JSON.stringify(publicEvent(e))) as Json),
    result: json.result['ok'] === true ? { ...json.result, value: value(json.result['value']) } : json.result,
  };
}
