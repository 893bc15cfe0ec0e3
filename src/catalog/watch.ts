// The music folder, kept current: files added, changed or removed appear in the catalog without a
// restart. The folder is watched (fs.watch, recursive); a burst of changes (an album copied in) is
// gathered for a moment, then the folder is scanned again, reading only the files whose size or
// modification time changed, and the catalog is swapped whole. Readers never see half a scan: the
// catalog they call is a stable object that delegates to the newest complete one.
//
// The first scan runs in the background too (`start()`, which the node calls once it listens): a
// big or hostile folder never delays serving. Until it ends the catalog holds the demo tracks (if
// any); the folder itself is checked before, so a missing folder still stops the start at once.

import { watch, type FSWatcher } from 'node:fs';
import { createCatalog, loadDemoTracks, type Catalog } from './catalog.ts';
import { checkMusicDir, scanMusicDir, type CachedParse } from './scan.ts';

export interface WatchedCatalogOptions {
  readonly musicDir: string;
  readonly demo: boolean;
  /** How long changes are gathered before a rescan. */
  readonly settleMs?: number;
  readonly onWarning?: ((file: string, message: string) => void) | undefined;
  readonly onProgress?: ((scanned: number, total: number) => void) | undefined;
  /** A rescan finished: the catalog now holds `size` tracks. */
  readonly onRescan?: ((size: number) => void) | undefined;
  readonly onError?: ((err: unknown) => void) | undefined;
}

export interface WatchedCatalog {
  readonly catalog: Catalog;
  /**
   * Starts the first scan and the watching (once; later calls return the same promise), resolved
   * with the catalog's size when the first scan has ended. A scan never rejects: a folder gone
   * meanwhile is reported through onError and the catalog stays as it was.
   */
  start(): Promise<number>;
  /** Stops watching (and any rescan to come). */
  close(): void;
}

export async function watchCatalog(options: WatchedCatalogOptions): Promise<WatchedCatalog> {
  await checkMusicDir(options.musicDir);
  const demo = options.demo ? await loadDemoTracks() : [];
  const cache = new Map<string, CachedParse>();
  const scan = async (progress: boolean): Promise<Catalog> => {
    const scanned = await scanMusicDir(options.musicDir, {
      cache,
      onWarning: options.onWarning,
      ...(progress ? { onProgress: options.onProgress } : {}),
    });
    return createCatalog([...scanned.tracks, ...demo], scanned.artwork, scanned.files, scanned.root);
  };
  let current = createCatalog(demo);

  let timer: NodeJS.Timeout | null = null;
  let scanning = false;
  let again = false;
  let closed = false;
  const rescan = async (first: boolean): Promise<void> => {
    if (scanning) {
      again = true;
      return;
    }
    scanning = true;
    try {
      const next = await scan(first);
      if (closed) return;
      current = next;
      if (!first) options.onRescan?.(current.size);
    } catch (err) {
      // The folder itself went away or became unreadable: keep serving the last catalog.
      options.onError?.(err);
    } finally {
      scanning = false;
    }
    if (again && !closed) {
      again = false;
      void rescan(false);
    }
  };
  const changed = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void rescan(false), options.settleMs ?? 500);
    timer.unref();
  };
  let watcher: FSWatcher | null = null;
  let started: Promise<number> | null = null;
  const start = (): Promise<number> => {
    started ??= (async () => {
      try {
        watcher = watch(options.musicDir, { recursive: true, persistent: false }, changed);
        watcher.on('error', (err) => options.onError?.(err));
      } catch (err) {
        // A platform without recursive watching: the catalog stays as scanned at start.
        options.onError?.(err);
      }
      await rescan(true);
      return current.size;
    })();
    return started;
  };

  const catalog: Catalog = {
    get size() {
      return current.size;
    },
    get musicRoot() {
      return current.musicRoot;
    },
    search: (query, limit) => current.search(query, limit),
    get: (trackId) => current.get(trackId),
    artwork: (trackId) => current.artwork(trackId),
    audioFile: (trackId) => current.audioFile(trackId),
  };
  return {
    catalog,
    start,
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
