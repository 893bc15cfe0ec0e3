// The secrets of a local cluster: the token secret every node signs with and the password of the
// Redis it starts. Generated once into the cluster's folder (readable by its owner only) and reused,
// so a restarted cluster accepts the tokens it issued before and finds its Redis data. They reach
// the processes through the environment or a config file, never a command line (which every local
// user can read in /proc).

import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { privateDir } from '../store/disk/private.ts';

export interface ClusterSecrets {
  readonly tokenSecret: string;
  readonly redisPassword: string;
}

const FILE = 'secrets.json';

function fresh(): ClusterSecrets {
  return {
    tokenSecret: randomBytes(32).toString('base64url'),
    redisPassword: randomBytes(24).toString('base64url'),
  };
}

function parse(text: string, file: string): ClusterSecrets {
  const value: unknown = JSON.parse(text);
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)['tokenSecret'] === 'string' &&
    typeof (value as Record<string, unknown>)['redisPassword'] === 'string'
  )
    return value as ClusterSecrets;
  throw new Error(`${file} is not a chorus cluster secrets file; move it away to generate new secrets`);
}

/** The cluster's secrets from `dir`, generated (and kept) the first time. */
export async function clusterSecrets(dir: string): Promise<ClusterSecrets> {
  await privateDir(dir);
  const file = join(dir, FILE);
  try {
    return parse(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secrets = fresh();
  try {
    // 'wx': two clusters started at once on one folder must not each write their own.
    await writeFile(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    return secrets;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return parse(await readFile(file, 'utf8'), file);
  }
}
