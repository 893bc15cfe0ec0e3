// Error reasons, area: requests as the APIs receive them (shapes, fields, bodies, the legacy API's
// two), and the catalog, audio and routing refusals of the REST and gRPC front. Part of the one
// registry (../reasons.ts builds it); add a reason of this area here, and to the README's table.

import { field, reason } from './spec.ts';

// In a pure call (see spec.ts): a bundle that gives no refusals (the web page) drops the table.
export const REQUEST_REASONS = /* @__PURE__ */ (() =>
  ({
    // ---- Requests: shapes and fields ------------------------------------------------------------
    REQUEST_INVALID: reason('INVALID_ARGUMENT', () => 'invalid request'),
    VALIDATION_FAILED: reason(
      'INVALID_ARGUMENT',
      (a: { path: string; problem: string; validation: unknown }) => `${a.path} ${a.problem}`,
      (a) => ({ validation: a.validation }),
    ),
    FIELD_INVALID: reason(
      'INVALID_ARGUMENT',
      (a: { field: string; problem: string }) => `${a.field} ${a.problem}`,
      field,
    ),
    BODY_TOO_LARGE: reason('INVALID_ARGUMENT', () => 'the request body is too large'),
    BODY_NOT_JSON_TYPE: reason(
      'INVALID_ARGUMENT',
      () => 'send the body as JSON, with Content-Type: application/json',
    ),
    BODY_EMPTY: reason('INVALID_ARGUMENT', () => 'the JSON body is empty'),
    BODY_INVALID: reason(
      'INVALID_ARGUMENT',
      (a: { problem: string }) => `the body is not valid: ${a.problem}`,
    ),
    BODY_NOT_JSON: reason(
      'INVALID_ARGUMENT',
      (a: { problem: string }) => `the body is not valid JSON: ${a.problem}`,
    ),
    REQUEST_REFUSED: reason('INVALID_ARGUMENT', (a: { problem: string }) => a.problem),
    REQUEST_NOT_FOUND: reason('NOT_FOUND', (a: { problem: string }) => a.problem),
    REQUEST_TOO_MANY: reason('RESOURCE_EXHAUSTED', (a: { problem: string }) => a.problem),
    TEXT_LONE_SURROGATE: reason(
      'INVALID_ARGUMENT',
      (a: { field: string }) => `${a.field} is not valid Unicode text (it holds a lone surrogate)`,
      field,
    ),
    MESSAGE_MALFORMED: reason(
      'INVALID_ARGUMENT',
      (a: { method: string; problem: string }) =>
        `the request is not a valid ${a.method} message: ${a.problem}`,
    ),
    ROOM_ID_INVALID: reason(
      'INVALID_ARGUMENT',
      () => 'room id must be 1-64 lower-case letters, digits or dashes, not starting or ending with a dash',
      () => ({ field: 'roomId' }),
    ),
    ID_INVALID: reason(
      'INVALID_ARGUMENT',
      (a: { field: string }) => `${a.field} must be 1-128 characters of letters, digits and _.:~-`,
      field,
    ),
    TEXT_NOT_STRING: reason(
      'INVALID_ARGUMENT',
      (a: { field: string }) => `${a.field} must be a string`,
      field,
    ),
    TEXT_EMPTY: reason('INVALID_ARGUMENT', (a: { field: string }) => `${a.field} must not be empty`, field),
    TEXT_TOO_LONG: reason(
      'INVALID_ARGUMENT',
      (a: { field: string; max: number }) => `${a.field} must be at most ${a.max} characters`,
      field,
    ),
    TEXT_CONTROL_CHARACTERS: reason(
      'INVALID_ARGUMENT',
      (a: { field: string }) => `${a.field} must not contain control characters`,
      field,
    ),
    NUMBER_OUT_OF_RANGE: reason(
      'INVALID_ARGUMENT',
      (a: { field: string; min: number; max: number }) =>
        `${a.field} must be a whole number from ${a.min} to ${a.max}`,
      field,
    ),
    TRACK_NOT_OBJECT: reason(
      'INVALID_ARGUMENT',
      () => 'track must be an object',
      () => ({ field: 'track' }),
    ),
    TRACK_AUDIO_URL_INVALID: reason(
      'INVALID_ARGUMENT',
      () => 'track.audioUrl must be /v1/tracks/{trackId}/audio of the track',
      () => ({ field: 'track.audioUrl' }),
    ),
    TRACK_UNSPECIFIED: reason(
      'INVALID_ARGUMENT',
      () => 'say which track: set track_id (catalog) or track (your own)',
      () => ({ field: 'source' }),
    ),
    VOTE_DIRECTION_INVALID: reason(
      'INVALID_ARGUMENT',
      () => 'direction must be VOTE_DIRECTION_UP, _DOWN or _WITHDRAW',
      () => ({ field: 'direction' }),
    ),
    CONSISTENCY_INVALID: reason(
      'INVALID_ARGUMENT',
      () => 'consistency must be "local" or "linearizable"',
      () => ({ field: 'consistency' }),
    ),
    LEGACY_DURATION_INVALID: reason(
      'INVALID_ARGUMENT',
      (a: { max: number }) => `duration must be 0 (unknown) to ${a.max} seconds`,
      () => ({ field: 'duration' }),
    ),
    LEGACY_QUEUE_EMPTY: reason('INVALID_ARGUMENT', () => 'Queue empty'),

    // ---- Catalog, audio and routes -----------------------------------------------------------------
    CATALOG_TRACK_NOT_FOUND: reason(
      'NOT_FOUND',
      (a: { trackId: string }) => `no track ${a.trackId} in the catalog`,
      ({ trackId }) => ({ trackId }),
    ),
    AUDIO_NOT_HERE: reason(
      'NOT_FOUND',
      (a: { trackId: string; why: string }) => `this node has no audio for track ${a.trackId}: ${a.why}`,
      ({ trackId }) => ({ trackId }),
    ),
    ROUTE_NOT_FOUND: reason(
      'NOT_FOUND',
      (a: { method: string; path: string }) => `no route ${a.method} ${a.path}`,
    ),
    GRPC_SERVICE_UNKNOWN: reason('NOT_FOUND', (a: { service: string }) => `unknown service "${a.service}"`),
  }) as const)();
