// GET /v1/tracks/:trackId/audio: a music-folder track's file, served by the node that has it, with
// range requests (seeking), ETag/Last-Modified revalidation and the container's content type.
//
// Invariants: a file is found by track id in the catalog, never by a path taken from the request,
// so no URL can name a file (no traversal by construction); and the file's real path is checked
// again at every request to lie inside the music folder's real path, so a file swapped for a link
// out of the folder after the scan is refused. No server path appears in any answer.

import send from '@fastify/send';
import type { FastifyReply } from 'fastify';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { ChorusError } from '../../domain/index.ts';
import { type ErrorCode, chorusError } from '../../domain/index.ts';
import { isInside } from '../../catalog/catalog.ts';
import type { RestApp } from './server.ts';
import { TrackParams } from './schemas.ts';

export interface AudioSource {
  /** The real path of the track's file; undefined when this node has none for it. */
  audioFile(trackId: string): string | undefined;
  /** The music folder's real path; null when the node has none. */
  readonly musicRoot: string | null;
}

/** Content types by extension: what browsers expect for the containers the scanner reads. */
const AUDIO_TYPES: Readonly<Record<string, string>> = {
  '.aac': 'audio/aac',
  '.aif': 'audio/aiff',
  '.aifc': 'audio/aiff',
  '.aiff': 'audio/aiff',
  '.flac': 'audio/flac',
  '.m4a': 'audio/mp4',
  '.m4b': 'audio/mp4',
  '.mka': 'audio/x-matroska',
  '.mp2': 'audio/mpeg',
  '.mp3': 'audio/mpeg',
  '.mp4': 'audio/mp4',
  '.oga': 'audio/ogg',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.spx': 'audio/ogg',
  '.wav': 'audio/wav',
  '.weba': 'audio/webm',
  '.webm': 'audio/webm',
};

export function audioContentType(file: string): string {
  return AUDIO_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export function registerAudioRoute(app: RestApp, source: AudioSource): void {
  app.get(
    '/v1/tracks/:trackId/audio',
    {
      schema: {
        summary: "A music-folder track's audio (range requests, ETag/Last-Modified)",
        description:
          'Each node serves the files of its own --music-dir; a node without the file answers 404. ' +
          'An unsatisfiable Range answers 416 with Content-Range: bytes */SIZE.',
        tags: ['catalog'],
        params: TrackParams,
      },
    },
    async (request, reply) => {
      const { trackId } = request.params;
      const file = await servableFile(source, trackId);
      const sent = await send(request.raw, file, {
        acceptRanges: true,
        etag: true,
        lastModified: true,
        // Revalidate on every load: a watched folder may change a file under the same id.
        cacheControl: false,
        contentType: false,
        dotfiles: 'allow',
        index: false,
      });
      if (sent.type === 'error') {
        const status = sent.statusCode;
        if (status === 404) throw lacking(trackId, 'its file is gone from the music folder');
        if (status === 412 || status === 416) {
          // HTTP's own answers to conditional and range requests; the headers are what clients read.
          sent.stream.destroy();
          return status === 416
            ? errorReply(reply, 416, sent.headers, 'INVALID_ARGUMENT', 'the range is outside the file')
            : errorReply(reply, 412, sent.headers, 'FAILED_PRECONDITION', 'the file has changed');
        }
        sent.stream.destroy();
        throw sent.metadata.error;
      }
      void reply.code(sent.statusCode).headers(sent.headers).header('cache-control', 'no-cache');
      if (sent.statusCode !== 304) void reply.type(audioContentType(file));
      return reply.send(sent.stream);
    },
  );
}

/** The track's file, if this node has it and its real path is still inside the music folder. */
async function servableFile(source: AudioSource, trackId: string): Promise<string> {
  const file = source.audioFile(trackId);
  if (file === undefined || source.musicRoot === null) {
    throw lacking(
      trackId,
      source.musicRoot === null ? 'this node has no music folder' : 'its music folder does not hold it',
    );
  }
  let real: string;
  try {
    real = await realpath(file);
  } catch {
    throw lacking(trackId, 'its file is gone from the music folder');
  }
  if (!isInside(source.musicRoot, real)) throw lacking(trackId, 'its file now leads out of the music folder');
  return real;
}

function lacking(trackId: string, why: string): ChorusError {
  return chorusError('AUDIO_NOT_HERE', { trackId, why });
}

function errorReply(
  reply: FastifyReply,
  status: number,
  headers: Readonly<Record<string, string>>,
  code: ErrorCode,
  message: string,
): FastifyReply {
  // HTTP's own statuses for ranges and preconditions (media clients read them and Content-Range);
  // the body keeps the one error shape, with a code from the registry.
  const range = headers['Content-Range'];
  if (range !== undefined) void reply.header('content-range', range);
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message } });
}
