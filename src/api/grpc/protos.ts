// Where the proto files are and how they are loaded. The loader options and the code generator's
// flags must agree (the generated types describe what the loader produces), so both live here.

import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/** The repository's proto/ folder: the include root, so imports read "chorus/v1/types.proto". */
export const PROTO_ROOT = fileURLToPath(new URL('../../../proto/', import.meta.url));

/** Every file the server serves (and reflection describes). */
export const PROTO_FILES = [
  'chorus/v1/types.proto',
  'chorus/v1/events.proto',
  'chorus/v1/rooms.proto',
  'chorus/v1/sessions.proto',
  'chorus/v1/queue.proto',
  'chorus/v1/catalog.proto',
  'chorus/v1/cluster.proto',
  'queue/legacy_queue.proto',
  'grpc/health/v1/health.proto',
  'chorus/twopc/v1/twopc.proto',
  'chorus/raft/v1/raft.proto',
] as const;

/**
 * camelCase fields, int64 as JS numbers (times and versions stay far below 2^53), enums as their
 * names, every field present on decode (messages unset are null), oneofs named by a virtual field.
 */
export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

/** The same choices as proto-loader-gen-types flags. */
export const GENERATOR_FLAGS = [
  '--longs=Number',
  '--enums=String',
  '--defaults',
  '--oneofs',
  '--includeComments',
  '--grpcLib=@grpc/grpc-js',
  '--importFileExtension=.ts',
] as const;

let cached: PackageDefinition | null = null;

/** All the services and messages, parsed once per process. */
export function loadProtos(): PackageDefinition {
  cached ??= loadSync([...PROTO_FILES], LOADER_OPTIONS);
  return cached;
}
