// The room model (docs/architecture.md section 2) as plain, JSON-serialisable data. State is immutable: `apply`
// returns new objects and never changes the ones it was given, so a state can be shared freely
// between the store, the read model and snapshots.

import type { ErrorInfo } from './errors.ts';
import type { Queue } from './queue.ts';
import type { Presence } from './presence.ts';
import type { RecentWindow } from './recent.ts';
import type { Votes } from './votes.ts';
import type { Members } from './members.ts';

/** Track metadata, copied into queue entries and history records when a track is added. */
export interface Track {
  readonly trackId: string;
  readonly title: string;
  readonly artist: string;
  readonly album: string;
  /** The length in ms; 0 means unknown (a stream, a file without a duration tag). */
  readonly durationMs: number;
  readonly artworkUrl?: string;
  readonly year?: number;
  readonly genre?: string;
  /**
   * A link of the client's own (tracks added with supplied metadata). Never a server file path: the
   * music folder's tracks carry `audioUrl` instead, and `file:` URIs are dropped on the way in.
   */
  readonly sourceUri?: string;
  /** Where any node serves the audio, `trackAudioUrl(trackId)`; absent for tracks without audio. */
  readonly audioUrl?: string;
}

export interface RoomSettings {
  /** Public rooms are listed by `GET /v1/rooms`; private ones are reachable by id only. */
  readonly public: boolean;
  /** Entries waiting in the queue (the playing track does not count). */
  readonly maxQueueLength: number;
  /** Entries one member may have waiting at once; 0 means no limit. The host is exempt. */
  readonly maxEntriesPerMember: number;
  /** Longest track that may be added, in ms. */
  readonly maxTrackDurationMs: number;
  /** A queued entry whose score falls to -voteOffThreshold leaves the queue; 0 disables. */
  readonly voteOffThreshold: number;
  /** The playing track is skipped when its downvotes reach skipVotes; 0 disables. */
  readonly skipVotes: number;
  /** Refuse a track that finished playing less than this many minutes ago; 0 disables. */
  readonly replayProtectionMinutes: number;
  /** History records kept; older ones are dropped. */
  readonly historyRetention: number;
  /** Start the next track by itself: on add to an idle room, and when the playing track ends. */
  readonly autoplay: boolean;
  // Added with presence and join control; absent in rooms written before (settings.ts
  // LEGACY_SETTINGS says how those behave; read through fullSettings).
  /**
   * The playing track is skipped (a queued entry voted off) when its downvotes reach this share of
   * the present members, if that is more than skipVotes (voteOffThreshold).
   */
  readonly skipShare?: number;
  /** open: anyone with the room's id joins; passcode: with the room's passcode; approval: the host admits. */
  readonly joinPolicy?: 'open' | 'passcode' | 'approval';
  /** Members the room takes, the host included; 0 means no limit. */
  readonly maxMembers?: number;
  /** Joins the room takes a minute (in bursts of as many), from every client together; 0: no limit. */
  readonly joinsPerMinute?: number;
}

export interface Member {
  readonly memberId: string;
  readonly name: string;
  /** The room's one host (state.hostId). */
  readonly isHost: boolean;
  /** A co-host: host powers except hand-over and roles (access.ts). Absent: false. */
  readonly coHost?: boolean;
  readonly joinedAt: number;
  /** The hash of the client key the member joined with (bans refuse it); never shown. */
  readonly clientKeyHash?: string;
}

/** A banned member: their id, and the hash of the client key they joined with, if they sent one. */
export interface Ban {
  readonly memberId: string;
  readonly name: string;
  readonly at: number;
  readonly clientKeyHash?: string;
}

export type Role = 'host' | 'cohost' | 'member';

/** +1 up, -1 down. A withdrawn vote is simply absent. */
export type VoteValue = 1 | -1;

export interface QueueEntry {
  readonly entryId: string;
  readonly track: Track;
  readonly addedBy: string;
  readonly addedAt: number;
  /** Insertion sequence within the room: the tie-breaker of the order. */
  readonly seq: number;
  /**
   * memberId -> vote, a persistent map (votes.ts) that JSON writes as the plain object it was. At
   * most one vote per voter. Rooms written before anonymous votes became counts also hold one
   * "~anon:<commandId>" key per anonymous vote; those still count through ups/downs. State only:
   * events and answers carry a WireEntry.
   */
  readonly votes: Votes;
  /** All votes: the members' in `votes` plus the anonymous counts below. */
  readonly ups: number;
  readonly downs: number;
  /** Anonymous (legacy) votes, kept as counts so the 100,000th costs what the first did. Absent: 0. */
  readonly anonymousUps?: number;
  readonly anonymousDowns?: number;
}

/**
 * An entry as events and command answers carry it (wire.ts): its counts, never who voted which way.
 * What every subscriber of a room may see; a viewer's own vote comes with views (`myVote`).
 */
export interface WireEntry {
  readonly entryId: string;
  readonly track: Track;
  readonly addedBy: string;
  readonly addedAt: number;
  readonly seq: number;
  readonly ups: number;
  readonly downs: number;
  readonly score: number;
}

/** The playing track as events and answers carry it: a NowPlaying with its entry's public form. */
export interface WireNowPlaying {
  readonly entry: WireEntry;
  readonly startedAt: number;
  readonly pausedAt?: number;
}

export interface NowPlaying {
  readonly entry: QueueEntry;
  /**
   * The timeline's origin: the position at time t is t - startedAt. A resume moves it forward by
   * the time spent paused, so players need no other field to find their place.
   */
  readonly startedAt: number;
  /** When the host paused it; absent while it plays. Its position is frozen at pausedAt - startedAt. */
  readonly pausedAt?: number;
}

export type EndReason = 'finished' | 'skipped' | 'votedOff';

export interface HistoryRecord {
  /** 1 for the room's first play, then +1 per play: the cursor for history pages. */
  readonly playNo: number;
  readonly entryId: string;
  readonly track: Track;
  readonly addedBy: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly reason: EndReason;
  readonly ups: number;
  readonly downs: number;
}

export interface RoomState {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
  readonly hostId: string;
  readonly settings: RoomSettings;
  readonly locked: boolean;
  readonly members: Members;
  /**
   * Always sorted: score descending, then seq ascending. A persistent tree (queue.ts) that JSON
   * writes as the plain sorted array.
   */
  readonly queue: Queue;
  readonly nowPlaying: NowPlaying | null;
  /** Oldest first; at most settings.historyRetention records. */
  readonly history: readonly HistoryRecord[];
  readonly nextSeq: number;
  readonly playCount: number;
  /** Count of state-changing commands applied to this room. */
  readonly version: number;
  /**
   * The most recent successful command ids and their results, oldest first (idempotent retries). A
   * persistent chunked window (recent.ts) that JSON writes as the plain array.
   */
  readonly recent: RecentWindow;
  /**
   * The hash of the host recovery key (rooms made before recovery keys, and rooms handed over since
   * their last key: absent, no recovery until the host makes a new key).
   */
  readonly recoveryKeyHash?: string;
  /**
   * Hashes of keys retired by a hand-over or a new key, oldest first, at most RETIRED_KEYS_KEPT
   * (access.ts): kept only to tell their holder why the key is refused. Absent: none retired.
   */
  readonly retiredRecoveryKeys?: readonly string[];
  /**
   * A private room's invite secret, needed (or membership) to see, stream or join it. Absent: the
   * room is reachable by id (public rooms, and private rooms made before invites until a host sets one).
   */
  readonly invite?: string;
  /** Banned members, oldest first. Absent: none. */
  readonly bans?: readonly Ban[];
  // Added with presence and join control; absent in rooms written before (nobody present, no
  // passcode, nobody waiting, a full join allowance).
  /** Who is here, as the nodes reported it (presence.ts). */
  readonly presence?: Presence;
  /** The room passcode's hash (the node hashes; the plain passcode is never in a command). */
  readonly passcodeHash?: string;
  /** Join requests waiting for the host (joinPolicy approval), by member id. */
  readonly pendingJoins?: Readonly<Record<string, PendingJoin>>;
  /** The room-wide join allowance (joinsPerMinute), a token bucket in command time. */
  readonly joinAllowance?: { readonly tokens: number; readonly at: number };
}

export interface PendingJoin {
  readonly memberId: string;
  readonly name: string;
  readonly requestedAt: number;
  /**
   * The hash of the joining client's key (as the join gave it), kept so that the member, once
   * admitted, carries it like a member who joined an open room: a ban then refuses that key too.
   * State only: views list a request's id and name.
   */
  readonly clientKeyHash?: string;
}

export interface RecentCommand {
  readonly commandId: string;
  readonly result: CommandValue;
}

// ---- Commands ---------------------------------------------------------------------------------

export type SettingsPatch = { -readonly [K in keyof RoomSettings]?: RoomSettings[K] };

export type Command =
  | {
      readonly type: 'createRoom';
      readonly name: string;
      readonly hostName: string;
      readonly settings?: SettingsPatch;
      /** The hash of the recovery key the node returned once to the creator. */
      readonly recoveryKeyHash?: string;
      /** The invite secret of a private room (the node draws it). */
      readonly invite?: string;
      /** The passcode's hash, when the room is created with one. */
      readonly passcodeHash?: string;
    }
  | {
      readonly type: 'join';
      readonly memberId: string;
      readonly name: string;
      /** What the joiner presented: needed for a private room with an invite. */
      readonly invite?: string;
      /** The hash of the joiner's client key (the page's, the CLI's), checked against bans. */
      readonly clientKeyHash?: string;
      /** The hash of the passcode the joiner gave (joinPolicy passcode). */
      readonly passcodeHash?: string;
    }
  /** Host: make a member a co-host, or a plain member again. */
  | { readonly type: 'setRole'; readonly memberId: string; readonly role: 'cohost' | 'member' }
  /**
   * Host: make another member the host (the old host stays on as a co-host). `retireRecoveryKey`
   * (nodes always send it): the room's recovery key stops working, so the old host cannot take the
   * room back; absent (logs written before), the key stays, as it did then.
   */
  | { readonly type: 'handOver'; readonly memberId: string; readonly retireRecoveryKey?: boolean }
  /** Host: a new recovery key (the node hashes it); the one before, if any, is retired. */
  | { readonly type: 'newRecoveryKey'; readonly keyHash: string }
  /** Host or co-host: remove a member, with or without their waiting entries, banning them or not. */
  | {
      readonly type: 'removeMember';
      readonly memberId: string;
      readonly removeEntries: boolean;
      readonly ban: boolean;
    }
  /** Anyone holding the recovery key: become the host under the new `memberId`. */
  | { readonly type: 'recoverHost'; readonly memberId: string; readonly keyHash: string }
  /** Host or co-host: a new invite secret for the room's link. */
  | { readonly type: 'setInvite'; readonly invite: string }
  /** Host: admit (or turn away) a join request waiting for approval. */
  | { readonly type: 'decideJoin'; readonly memberId: string; readonly approve: boolean }
  /**
   * A node's presence report (presence.ts), by no actor: members that arrived at and departed from
   * its connections, renewing its lease; `reset` replaces what it reported before (a restart).
   */
  | {
      readonly type: 'presence';
      readonly node: string;
      readonly arrive: readonly string[];
      readonly depart: readonly string[];
      readonly leaseMs: number;
      readonly reset?: boolean;
    }
  | { readonly type: 'addTrack'; readonly entryId: string; readonly track: Track }
  /** `trackId`, when given, picks the queued entry of that track instead (the legacy API's way). */
  | { readonly type: 'removeEntry'; readonly entryId: string; readonly trackId?: string }
  | { readonly type: 'vote'; readonly entryId: string; readonly value: VoteValue | 0 }
  /** A vote by a fresh anonymous voter (the legacy API): one more up or down, keyed by command id. */
  | {
      readonly type: 'anonymousVote';
      readonly entryId: string;
      readonly value: VoteValue;
      /** When given, the vote goes to the queued entry of this track (resolved in log order). */
      readonly trackId?: string;
    }
  | {
      readonly type: 'advance';
      /** The entry the proposer believes is playing (null: nothing). A mismatch makes this a no-op. */
      readonly expectedEntryId: string | null;
      /**
       * 'finished': the track's time is up (anyone may say so). 'skipped': the host cuts it short.
       * 'ended': a member's device played it to the end (accepted a little before the timeline's
       * end, since a file may run shorter than its tags say).
       */
      readonly reason: 'finished' | 'skipped' | 'ended';
      /** When true, an empty queue makes this a no-op (the legacy play_next: "Queue empty"). */
      readonly requireNext?: boolean;
    }
  /** Host: freeze the playing track's timeline. */
  | { readonly type: 'pause' }
  /** Host: restart it from where it was paused. */
  | { readonly type: 'resume' }
  /** `passcodeHash`: a new passcode (its hash), or null to remove it; absent leaves it. */
  | { readonly type: 'updateSettings'; readonly patch: SettingsPatch; readonly passcodeHash?: string | null }
  | { readonly type: 'setLocked'; readonly locked: boolean }
  /** Empty the queue and the history (the legacy `/clear`). Host only. */
  | { readonly type: 'clear' }
  /**
   * Replace the whole queue in one step (the legacy `/sync`), host only: every node sees the old
   * queue or the new one. Entries come in the order given (their seq follows it); `votes` is a net
   * anonymous score. A track given twice, or the one playing, is kept once (the first wins).
   */
  | { readonly type: 'replaceQueue'; readonly entries: readonly ReplacementEntry[] };

export interface ReplacementEntry {
  readonly entryId: string;
  readonly track: Track;
  readonly votes?: number;
}

export type CommandType = Command['type'];

/**
 * Everything `apply` needs from outside, chosen once by the node that proposes the command: the
 * client's command id (for idempotent retries), who acts, and when. Ids of new things (room, member,
 * entry) are inside the command itself.
 */
export interface Envelope {
  readonly commandId: string;
  readonly roomId: string;
  /** The acting member; null for the system (the playback clock). For createRoom: the new host's id. */
  readonly actor: string | null;
  /** Milliseconds since the epoch, read by the proposing node. */
  readonly at: number;
  readonly command: Command;
}

// ---- Results and events ------------------------------------------------------------------------

export type CommandValue =
  | { readonly type: 'createRoom'; readonly roomId: string; readonly hostId: string }
  /** `pending`: the join waits for the host (joinPolicy approval); the member id is already theirs. */
  | { readonly type: 'join'; readonly memberId: string; readonly pending?: boolean }
  | { readonly type: 'decideJoin'; readonly memberId: string; readonly approved: boolean }
  | { readonly type: 'presence'; readonly present: number }
  | { readonly type: 'setRole'; readonly memberId: string; readonly role: 'cohost' | 'member' }
  | { readonly type: 'handOver'; readonly hostId: string }
  | {
      readonly type: 'removeMember';
      readonly memberId: string;
      readonly banned: boolean;
      readonly removedEntries: number;
    }
  | { readonly type: 'recoverHost'; readonly memberId: string }
  | { readonly type: 'newRecoveryKey' }
  | { readonly type: 'setInvite' }
  | { readonly type: 'addTrack'; readonly entry: WireEntry; readonly started: boolean }
  | { readonly type: 'removeEntry'; readonly entryId: string }
  | {
      readonly type: 'vote';
      readonly entryId: string;
      readonly ups: number;
      readonly downs: number;
      readonly score: number;
      /** What the vote caused beyond the count: nothing, the entry voted off, or the track skipped. */
      readonly effect: 'none' | 'votedOff' | 'skipped';
      /** The entry's 1-based place in the queue after the vote; null when it plays or has left. */
      readonly position: number | null;
    }
  | {
      readonly type: 'advance';
      readonly advanced: boolean;
      readonly ended: HistoryRecord | null;
      readonly nowPlaying: WireNowPlaying | null;
    }
  | { readonly type: 'updateSettings'; readonly settings: RoomSettings }
  | { readonly type: 'setLocked'; readonly locked: boolean }
  | { readonly type: 'pause'; readonly nowPlaying: WireNowPlaying }
  | { readonly type: 'resume'; readonly nowPlaying: WireNowPlaying }
  | { readonly type: 'clear'; readonly removedEntries: number; readonly removedHistory: number }
  | { readonly type: 'replaceQueue'; readonly removed: number; readonly added: number };

export type CommandResult =
  { readonly ok: true; readonly value: CommandValue } | { readonly ok: false; readonly error: ErrorInfo };

export type RemoveReason = 'removed' | 'votedOff';

export type RoomEventBody =
  | {
      readonly type: 'roomCreated';
      readonly name: string;
      readonly hostId: string;
      readonly settings: RoomSettings;
    }
  | { readonly type: 'memberJoined'; readonly member: Member }
  /** Someone asks to join (joinPolicy approval); the host admits or turns them away. */
  | { readonly type: 'joinRequested'; readonly memberId: string; readonly name: string }
  | { readonly type: 'joinDenied'; readonly memberId: string }
  /** The present members changed (presence.ts): all of them, by id, sorted. */
  | { readonly type: 'presenceChanged'; readonly present: readonly string[] }
  /** A member's role changed (co-host made or unmade, hand-over, recovery). */
  | { readonly type: 'roleChanged'; readonly memberId: string; readonly role: Role }
  /** A host removed the member (banned: and refuses them back); their token opens nothing now. */
  | { readonly type: 'memberRemoved'; readonly memberId: string; readonly banned: boolean }
  | { readonly type: 'entryAdded'; readonly entry: WireEntry }
  | {
      readonly type: 'entryRemoved';
      readonly entryId: string;
      readonly reason: RemoveReason;
      readonly by: string | null;
    }
  /**
   * An entry's counts changed. It never says who voted or which way (issue 20): every subscriber
   * gets the same event; the voter learns their own vote from their command's answer (`myVote`).
   */
  | {
      readonly type: 'voteChanged';
      readonly entryId: string;
      readonly ups: number;
      readonly downs: number;
      readonly score: number;
    }
  | { readonly type: 'trackEnded'; readonly record: HistoryRecord }
  | { readonly type: 'trackStarted'; readonly nowPlaying: WireNowPlaying }
  | { readonly type: 'settingsChanged'; readonly settings: RoomSettings }
  | { readonly type: 'lockChanged'; readonly locked: boolean }
  /** The host paused or resumed the playing track: its timeline as it now stands. */
  | { readonly type: 'playbackPaused' | 'playbackResumed'; readonly nowPlaying: WireNowPlaying }
  /** The queue, the playing track and the history were all emptied. */
  | { readonly type: 'cleared' };

/** A change to a room. Every event of one command carries the room version that command produced. */
export type RoomEvent = RoomEventBody & {
  readonly roomId: string;
  readonly version: number;
  readonly at: number;
};

export interface ApplyOutput {
  /** The room after the command; null only when no room exists and the command did not create one. */
  readonly state: RoomState | null;
  readonly events: readonly RoomEvent[];
  readonly result: CommandResult;
}
