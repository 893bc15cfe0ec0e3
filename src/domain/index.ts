// The domain's public face: everything outside src/domain imports from here.
export * from './errors.ts';
export { chorusError, REASONS, refusal, type Reason, type ReasonArgs } from './reasons.ts';
export * from './types.ts';
export { apply, ENDED_EARLY_TOLERANCE_MS } from './apply.ts';
export {
  compareEntries,
  findEntry,
  indexOfEntry,
  insertionIndex,
  recount,
  scoreOf,
  type Ranked,
} from './order.ts';
export { Queue } from './queue.ts';
export { RECENT_COMMANDS_KEPT, RecentWindow } from './recent.ts';
export { Votes } from './votes.ts';
export { Members } from './members.ts';
export { wireEntry, wireNowPlaying, wireValue } from './wire.ts';
export { applySettingsPatch, DEFAULT_SETTINGS, SETTING_BOUNDS } from './settings.ts';
export { snapshot, restore, SNAPSHOT_FORMAT, type RoomSnapshot } from './snapshot.ts';
export {
  checkId,
  checkRoomId,
  checkTrack,
  ID_PATTERN,
  LIMITS,
  ROOM_ID_PATTERN,
  trackAudioUrl,
} from './validate.ts';
export * from './view.ts';
export { compareListings, isListed, listingOf, type RoomListing } from './listing.ts';
