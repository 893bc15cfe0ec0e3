// The Raft core's messages on the wire (proto/chorus/raft/v1/raft.proto): entry data travels as
// bytes (UTF-8 of the JSON text the store proposes), and a message of an unknown type is refused.

import { chorusError } from '../../domain/index.ts';
import type * as pb from '../../api/grpc/generated/chorus/raft/v1/index.ts';
import { dataText } from './storage.ts';
import type { Entry, Message, MessageType } from './types.ts';
import { message } from './types.ts';

const MESSAGE_TYPES = new Set<string>([
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
]);

export function toWire(m: Message): pb.Message {
  return {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e) => ({
      term: e.term,
      index: e.index,
      type: e.type,
      data: Buffer.from(dataText(e.data), 'utf8'),
    })),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context,
  };
}

export function fromWire(w: pb.Message__Output): Message {
  if (!MESSAGE_TYPES.has(w.type)) throw chorusError('RAFT_MESSAGE_INVALID', { type: w.type });
  return message({
    type: w.type as MessageType,
    from: w.from,
    to: w.to,
    term: w.term,
    logTerm: w.logTerm,
    index: w.index,
    entries: w.entries.map((e): Entry => ({
      term: e.term,
      index: e.index,
      type: e.type === 'conf' ? 'conf' : 'normal',
      data: e.data.toString('utf8'),
    })),
    commit: w.commit,
    reject: w.reject,
    rejectHint: w.rejectHint,
    context: w.context,
  });
}
