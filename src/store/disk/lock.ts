// One process per data dir. Two writers appending to the same log would interleave records and
// destroy the one order everything depends on, so a second opener is refused.
//
// The lock is a file, `LOCK`, holding the owner's pid, host and a random token. It is created
// complete and atomically (written to a temp file, then hard-linked into place, which fails if a
// lock exists), so nobody ever sees a half-written lock. A lock whose pid is dead on this host is
// stale (the owner crashed) and is taken over. Node has no portable flock(), hence the pid check.

import { randomUUID } from 'node:crypto';
import { link, readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { ChorusError } from '../../domain/index.ts';
import { chorusError } from '../../domain/index.ts';
import { FILE_MODE } from './private.ts';

export const LOCK_FILE = 'LOCK';

interface LockContent {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
  readonly since: string;
}

export interface DirLock {
  readonly file: string;
  /**
   * Set when the lock could not be written because the disk is full or read-only (and only if the
   * opener allowed it): no live process holds the dir, but nothing was written, so the opener must
   * not write either. It may serve what the dir holds, read-only.
   */
  readonly readOnly?: Error;
  release(): Promise<void>;
}

/** Errors that mean "this disk takes no more writes now", not "this dir is broken". */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS';
}

/** Data dirs locked by this process: the pid check cannot tell this process's own locks apart. */
const heldHere = new Set<string>();

export async function acquireDirLock(
  dir: string,
  options: { readonly allowReadOnly?: boolean } = {},
): Promise<DirLock> {
  const real = await realpath(dir);
  const file = path.join(real, LOCK_FILE);
  if (heldHere.has(real))
    throw inUse(real, file, { pid: process.pid, host: hostname() }, ' (already open in this process)');

  const mine: LockContent = {
    pid: process.pid,
    host: hostname(),
    token: randomUUID(),
    since: new Date().toISOString(),
  };
  const text = `${JSON.stringify(mine)}\n`;
  for (let attempt = 0; attempt < 10; attempt++) {
    const temp = path.join(real, `${LOCK_FILE}.${mine.token}.tmp`);
    try {
      await writeFile(temp, text, { flush: true, mode: FILE_MODE });
    } catch (err) {
      if (!options.allowReadOnly || !isDiskFull(err)) throw err;
      await unlink(temp).catch(() => undefined);
      const holder = await readLock(file);
      if (typeof holder === 'object' && holderAlive(holder)) throw inUse(real, file, holder, '');
      heldHere.add(real);
      return {
        file,
        readOnly: err as Error,
        release: () => {
          heldHere.delete(real);
          return Promise.resolve();
        },
      };
    }
    try {
      await link(temp, file);
      heldHere.add(real);
      return { file, release: () => release(real, file, mine.token) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(temp).catch(() => undefined);
    }

    const holder = await readLock(file);
    if (holder === 'missing') continue; // released meanwhile: try again
    if (holder !== 'garbage' && holderAlive(holder)) throw inUse(real, file, holder, '');
    await removeStale(real, file, holder);
  }
  throw chorusError('DATA_DIR_LOCK_CONTENDED', { file, dataDir: real });
}

async function release(dir: string, file: string, token: string): Promise<void> {
  heldHere.delete(dir);
  const holder = await readLock(file);
  // Only remove our own lock: if someone judged ours stale and took over, theirs stays.
  if (typeof holder === 'object' && holder.token === token) await unlink(file).catch(() => undefined);
}

async function readLock(file: string): Promise<LockContent | 'missing' | 'garbage'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const value = JSON.parse(text) as Partial<LockContent>;
    if (
      Number.isSafeInteger(value.pid) &&
      typeof value.host === 'string' &&
      typeof value.token === 'string'
    ) {
      return value as LockContent;
    }
  } catch {
    // fall through: a lock we cannot read protects nothing (locks are written whole, see above)
  }
  return 'garbage';
}

function holderAlive(holder: LockContent): boolean {
  // A pid on another host (a shared volume) cannot be checked from here: assume it is alive.
  if (holder.host !== hostname()) return true;
  // Our own pid but not locked by this process: a previous incarnation (a container restarted with
  // the same pid), so stale.
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, just not ours to signal
  }
}

/**
 * Moves a stale lock out of the way. It is renamed first and checked after: if another opener
 * replaced the stale lock in between, what we moved is theirs, and it is linked back (link fails
 * rather than overwrite, so a third lock is never clobbered).
 */
async function removeStale(dir: string, file: string, stale: LockContent | 'garbage'): Promise<void> {
  const aside = path.join(dir, `${LOCK_FILE}.stale.${randomUUID()}`);
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readLock(aside);
  const same =
    stale === 'garbage' ? moved === 'garbage' : typeof moved === 'object' && moved.token === stale.token;
  if (!same) await link(aside, file).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

function inUse(dir: string, file: string, holder: { pid: number; host: string }, extra: string): ChorusError {
  const where =
    holder.host === hostname() ? `process ${holder.pid}` : `process ${holder.pid} on host ${holder.host}`;
  return chorusError('DATA_DIR_IN_USE', {
    dataDir: dir,
    file,
    where,
    extra,
    pid: holder.pid,
    host: holder.host,
  });
}
