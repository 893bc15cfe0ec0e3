// REST: the catalog. Search, a track's metadata, its embedded artwork and (audio.ts) its audio.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Artwork } from '../../catalog/catalog.ts';
import type { RoomService } from '../../node/service.ts';
import { registerAudioRoute, type AudioSource } from './audio.ts';
import { notFoundHandler } from './errors.ts';
import { PAGE_LIMITS } from '../page-limits.ts';
import { Errors } from './request.ts';
import { List, SearchQuery, TrackParams, TrackSchema } from './schemas.ts';

export interface CatalogRoutesOptions {
  readonly service: RoomService;
  readonly artwork: (trackId: string) => Artwork | undefined;
  /** The music folder's files, for the audio route. */
  readonly audio: AudioSource;
}

/** Artwork types served; anything else a file embeds is not. */
const RASTER_IMAGES = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
]);

export const catalogRoutes: FastifyPluginAsyncTypebox<CatalogRoutesOptions> = async (app, options) => {
  const { service } = options;

  app.get(
    '/v1/catalog/search',
    {
      schema: {
        summary: 'Search tracks by words in title, artist, album, genre',
        tags: ['catalog'],
        querystring: SearchQuery,
        response: { 200: Type.Object({ tracks: List(TrackSchema) }) },
      },
    },
    async (request) => ({
      tracks: service.searchCatalog(
        request.query.q ?? '',
        request.query.limit ?? PAGE_LIMITS.search.fallback,
      ),
    }),
  );

  app.get(
    '/v1/catalog/tracks/:trackId',
    {
      schema: {
        summary: 'Track metadata',
        tags: ['catalog'],
        params: TrackParams,
        response: { 200: TrackSchema, ...Errors },
      },
    },
    async (request) => service.getTrack(request.params.trackId),
  );

  app.get(
    '/v1/catalog/tracks/:trackId/artwork',
    {
      schema: {
        summary: 'Embedded artwork of a track from the music folder',
        tags: ['catalog'],
        params: TrackParams,
      },
    },
    async (request, reply) => {
      const art = options.artwork(request.params.trackId);
      if (!art) return notFoundHandler(request, reply);
      // Only raster images, never sniffed, never scripted: an embedded "cover" can be any bytes
      // (an SVG with a script would run on this origin, whose storage holds room tokens).
      if (!RASTER_IMAGES.has(art.mime)) return notFoundHandler(request, reply);
      return reply
        .type(art.mime)
        .header('cache-control', 'public, max-age=86400')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(Buffer.from(art.data));
    },
  );

  registerAudioRoute(app, options.audio);
};
