// Access to a room (rules: src/domain/access.ts): the host's and co-hosts' powers (join approvals,
// the members list, roles, hand-over, removal and bans), host recovery by the recovery key, and the
// invite of a private room. One seam of the node's operations (service.ts).

import { randomBytes } from 'node:crypto';
import { type CommandValue, type RoomView, chorusError } from '../domain/index.ts';
import { hasHostPowers, isMember, roleOf } from '../domain/access.ts';
import { newId } from './ids.ts';
import { hashKey, ServiceCore, type Caller } from './service-core.ts';

/** A member as the host's members list shows them. */
export interface MemberListing {
  readonly memberId: string;
  readonly name: string;
  readonly role: 'host' | 'cohost' | 'member';
  readonly joinedAt: number;
}

/** A banned member as the host's members list shows them. */
export interface BanListing {
  readonly memberId: string;
  readonly name: string;
  readonly at: number;
}

/** 128 bits (issue 20 asks for at least 96). */
export const INVITE_BYTES = 16;

/** 192 bits: a recovery key is for good, so it gets more than an invite. */
export const RECOVERY_KEY_BYTES = 24;

export class AccessService extends ServiceCore {
  /** Host: admit (or turn away) a join request waiting for approval. */
  async decideJoin(
    caller: Caller,
    memberId: string,
    approve: boolean,
    commandId?: string,
  ): Promise<RoomView> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'decideJoin', memberId, approve },
      commandId,
    );
    return this.view(state, caller.memberId);
  }

  /** The room's members with their roles, for its host and co-hosts. */
  async members(
    caller: Caller,
    minVersion?: number,
  ): Promise<{ members: MemberListing[]; banned: BanListing[]; version: number }> {
    const state = await this.read(caller.roomId, minVersion);
    const me = isMember(state, caller.memberId) ? state.members.get(caller.memberId)! : null;
    if (!me || !hasHostPowers(me)) throw chorusError('HOST_ONLY', { action: 'see the members' });
    const members = state.members
      .values()
      .map((m) => ({ memberId: m.memberId, name: m.name, role: roleOf(m), joinedAt: m.joinedAt }))
      .sort((a, b) => a.joinedAt - b.joinedAt || (a.memberId < b.memberId ? -1 : 1));
    const banned = (state.bans ?? []).map((b) => ({ memberId: b.memberId, name: b.name, at: b.at }));
    return { members, banned, version: state.version };
  }

  async setRole(
    caller: Caller,
    memberId: string,
    role: 'cohost' | 'member',
    commandId?: string,
  ): Promise<RoomView> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'setRole', memberId, role },
      commandId,
    );
    return this.view(state, caller.memberId);
  }

  /** The room's recovery key is retired with it: the new host makes their own (newRecoveryKey). */
  async handOver(caller: Caller, memberId: string, commandId?: string): Promise<RoomView> {
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'handOver', memberId, retireRecoveryKey: true },
      commandId,
    );
    return this.view(state, caller.memberId);
  }

  /** Host: a new recovery key, answered this once; the one before stops working. */
  async newRecoveryKey(
    caller: Caller,
    commandId?: string,
  ): Promise<{ recoveryKey: string; version: number }> {
    // A retry (same key) must answer the key the room keeps: derived from it, not drawn afresh.
    const recoveryKey =
      commandId === undefined
        ? randomBytes(RECOVERY_KEY_BYTES).toString('base64url')
        : this.tokens.derive(
            `new-recovery\0${caller.roomId}\0${caller.memberId}\0${commandId}`,
            RECOVERY_KEY_BYTES,
          );
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'newRecoveryKey', keyHash: hashKey(recoveryKey) },
      commandId,
    );
    return { recoveryKey, version: state.version };
  }

  async removeMember(
    caller: Caller,
    memberId: string,
    options: { ban: boolean; removeEntries: boolean },
    commandId?: string,
  ): Promise<{ memberId: string; banned: boolean; removedEntries: number; version: number }> {
    const { value, state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'removeMember', memberId, ban: options.ban, removeEntries: options.removeEntries },
      commandId,
    );
    const done = value as Extract<CommandValue, { type: 'removeMember' }>;
    return {
      memberId: done.memberId,
      banned: done.banned,
      removedEntries: done.removedEntries,
      version: state.version,
    };
  }

  /** Presents the recovery key: a new host identity (the old host's id leaves the room). */
  async recoverHost(
    roomId: string,
    recoveryKey: string,
    commandId?: string,
  ): Promise<{ room: RoomView; memberId: string; token: string }> {
    // Rate-limited like joins: a key is 192 random bits, but guessing should cost something too.
    this.joins?.take(`recover/${roomId}`);
    const { value, state } = await this.run(
      roomId,
      null,
      { type: 'recoverHost', memberId: newId('m'), keyHash: hashKey(recoveryKey) },
      commandId,
    );
    const memberId = (value as Extract<CommandValue, { type: 'recoverHost' }>).memberId;
    return { room: this.view(state, memberId), memberId, token: this.tokens.sign({ roomId, memberId }) };
  }

  /** A new invite secret for the room's link: links with the old one stop working. */
  async newInvite(caller: Caller, commandId?: string): Promise<{ invite: string; version: number }> {
    const invite = randomBytes(INVITE_BYTES).toString('base64url');
    const { state } = await this.run(
      caller.roomId,
      caller.memberId,
      { type: 'setInvite', invite },
      commandId,
    );
    return { invite: state.invite ?? invite, version: state.version };
  }
}
