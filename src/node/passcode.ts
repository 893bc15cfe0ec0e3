// Room passcodes: the node hashes what a host sets and what a joiner gives, and only hashes enter
// commands and the room state (src/domain/joining.ts compares them). scrypt, salted by the room id,
// so the same passcode in two rooms hashes differently; every node computes the same hash, since a
// join may be proposed on any node.

import { scrypt } from 'node:crypto';
import { chorusError } from '../domain/index.ts';
import { PASSCODE_LENGTH } from '../domain/joining.ts';

/** The hash of `passcode` for `roomId`, or PASSCODE_INVALID when its length is out of bounds. */
export function hashPasscode(roomId: string, passcode: string): Promise<string> {
  if (passcode.length < PASSCODE_LENGTH.min || passcode.length > PASSCODE_LENGTH.max) {
    return Promise.reject(chorusError('PASSCODE_INVALID', PASSCODE_LENGTH));
  }
  return new Promise((resolve, reject) => {
    scrypt(passcode.normalize('NFC'), `chorus-passcode/${roomId}`, 24, (err, key) =>
      err ? reject(err) : resolve(key.toString('base64url')),
    );
  });
}
