// Child process for the 2PC log's crash test: opens the log in argv[2], appends the PREPARED
// record given as JSON in argv[3] (command as base64 in argv[4]), fsyncs, says "durable" on stdout,
// then keeps running until it is killed (SIGKILL: no close, no flush beyond the fsync).

import { SILENT_LOGGER } from '../../src/store/logger.ts';
import { TwoPcWal } from '../../src/store/twopc/wal.ts';
import type { LogRecord } from '../../src/store/twopc/types.ts';

const [dir, json, command] = process.argv.slice(2);
const { wal } = await TwoPcWal.open(dir!, SILENT_LOGGER);
const record = { ...(JSON.parse(json!) as object), command: new Uint8Array(Buffer.from(command!, 'base64')) };
wal.append(wal.lastLsn + 1, record as LogRecord);
await wal.sync();
process.stdout.write('durable\n');
setInterval(() => undefined, 60_000);
