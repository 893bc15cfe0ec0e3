// Everything a store writes is its owner's alone: the log holds every command (names, private
// rooms, tracks), so the data folder is 0700 and every file in it 0600, whatever the umask.

import { chmod, mkdir } from 'node:fs/promises';

/** Mode of every file a store creates. */
export const FILE_MODE = 0o600;

/** Creates the folder (and its parents) if missing, and makes it its owner's only. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}
