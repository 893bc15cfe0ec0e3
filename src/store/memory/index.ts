// The embedded store (docs/architecture.md section 1): one process, an append-only log and snapshots in a data dir.
export { MemoryStore, openMemoryStore } from './store.ts';
export {
  DEFAULT_READ_TIMEOUT_MS,
  DEFAULT_SNAPSHOT_EVERY,
  type MemoryStoreOptions,
  type MemoryStoreStats,
} from './options.ts';
