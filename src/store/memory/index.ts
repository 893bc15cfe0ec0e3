// The embedded store (DESIGN.md section 1): one process, an append-only log and snapshots in a data dir.
export {
  DEFAULT_READ_TIMEOUT_MS,
  DEFAULT_SNAPSHOT_EVERY,
  MemoryStore,
  openMemoryStore,
  type MemoryStoreOptions,
  type MemoryStoreStats,
} from './store.ts';
