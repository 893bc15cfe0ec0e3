// Host controls: lock the queue and change the room's settings, join control included (open,
// passcode or approval; member cap; joins a minute). Shown to the host and co-hosts (the server
// refuses everyone else anyway); skipping and removing sit where the tracks are, members in
// Members.tsx.

import { useRef, useState } from 'preact/hooks';
import { JOIN_POLICIES, SETTING_BOUNDS, type JoinPolicy } from '../../../src/domain/settings.ts';
import { PASSCODE_LENGTH } from '../../../src/domain/joining.ts';
import { percentToShare, shareToPercent } from '../people.ts';
import type { RoomSettings } from '../../../src/domain/types.ts';
import type { SettingsChange } from '../api.ts';
import type { RoomModel } from '../model.ts';
import type { RoomSession } from '../session.ts';
import { DialogActions } from './Dialog.tsx';

export function HostPanel({ room, session }: { room: RoomModel; session: RoomSession }) {
  const dialog = useRef<HTMLDialogElement>(null);
  return (
    <section class="card host-card" aria-labelledby="host-h">
      <h2 id="host-h">Host controls</h2>
      <div class="host-actions">
        <button
          type="button"
          class={`btn ${room.locked ? 'btn-pressed' : ''}`}
          aria-pressed={room.locked}
          onClick={() => void session.setLocked(!room.locked)}
        >
          {room.locked ? 'Unlock the queue' : 'Lock the queue'}
        </button>
        <button type="button" class="btn" onClick={() => dialog.current?.showModal()}>
          Room settings…
        </button>
      </div>
      <p class="muted small">
        {room.locked
          ? 'Locked: members can vote but cannot add or remove tracks.'
          : 'Members can add tracks, vote, and remove their own.'}
      </p>
      <dialog ref={dialog} class="dialog" aria-labelledby="settings-h">
        <SettingsForm
          key={JSON.stringify(room.settings)}
          settings={room.settings}
          session={session}
          onDone={() => dialog.current?.close()}
        />
      </dialog>
    </section>
  );
}

type NumberKey = keyof typeof SETTING_BOUNDS;

const POLICY_LABEL: Readonly<Record<JoinPolicy, string>> = {
  open: 'Anyone with the link',
  passcode: 'With a passcode',
  approval: 'Only people I let in',
};

/** Each numeric setting as a person thinks of it (minutes, not ms); its bounds are the domain's. */
const NUMBER_FIELDS: readonly {
  key: NumberKey;
  label: string;
  help: string;
  scale: number;
}[] = [
  { key: 'maxQueueLength', label: 'Longest queue', help: 'tracks waiting', scale: 1 },
  {
    key: 'maxEntriesPerMember',
    label: 'Tracks per member',
    help: 'waiting at once; 0 for no limit',
    scale: 1,
  },
  { key: 'maxTrackDurationMs', label: 'Longest track', help: 'minutes', scale: 60_000 },
  {
    key: 'skipVotes',
    label: 'Votes to skip',
    help: 'skips the playing track; 0 never',
    scale: 1,
  },
  {
    key: 'voteOffThreshold',
    label: 'Vote off at score',
    help: 'minus this many removes a track; 0 never',
    scale: 1,
  },
  {
    key: 'replayProtectionMinutes',
    label: 'No replays within',
    help: 'minutes; 0 allows replays',
    scale: 1,
  },
  { key: 'historyRetention', label: 'History kept', help: 'plays', scale: 1 },
  { key: 'maxMembers', label: 'Most members', help: 'the host included; 0 for no limit', scale: 1 },
  { key: 'joinsPerMinute', label: 'Joins a minute', help: 'from everyone; 0 for no limit', scale: 1 },
];

function SettingsForm({
  settings,
  session,
  onDone,
}: {
  settings: Required<RoomSettings>;
  session: RoomSession;
  onDone: () => void;
}) {
  const [saving, setSaving] = useState(false);
  const [policy, setPolicy] = useState<JoinPolicy>(settings.joinPolicy);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    // Only what changed, so two hosts' tabs do not undo each other's unrelated edits.
    const patch: { -readonly [K in keyof SettingsChange]: SettingsChange[K] } = {};
    for (const key of ['public', 'autoplay'] as const) {
      const value = data.get(key) === 'on';
      if (value !== settings[key]) patch[key] = value;
    }
    for (const f of NUMBER_FIELDS) {
      const value = Math.round(Number(data.get(f.key)) * f.scale);
      if (Number.isFinite(value) && value !== settings[f.key]) patch[f.key] = value;
    }
    const share = percentToShare(Number(data.get('skipShare')));
    if (Number.isFinite(share) && share !== settings.skipShare) patch.skipShare = share;
    if (policy !== settings.joinPolicy) patch.joinPolicy = policy;
    // A passcode is sent only when typed: the room keeps its hash, the page never sees it again.
    const typed = data.get('passcode');
    const passcode = typeof typed === 'string' ? typed : '';
    if (policy === 'passcode' && passcode !== '') patch.passcode = passcode;
    if (Object.keys(patch).length === 0) return onDone();
    setSaving(true);
    const ok = await session.updateSettings(patch);
    setSaving(false);
    if (ok) onDone();
  };
  return (
    // Keyed by the settings so that reopening shows the current values, not stale edits.
    <form key={JSON.stringify(settings)} class="settings" method="dialog" onSubmit={(e) => void submit(e)}>
      <h2 id="settings-h">Room settings</h2>
      <label class="check">
        <input type="checkbox" name="public" defaultChecked={settings.public} /> Listed on the home page
      </label>
      <label class="check">
        <input type="checkbox" name="autoplay" defaultChecked={settings.autoplay} /> Play the next track by
        itself
      </label>
      <fieldset class="join-policy">
        <legend class="label">Who can join</legend>
        {JOIN_POLICIES.map((p) => (
          <label class="check" key={p}>
            <input
              type="radio"
              name="joinPolicy"
              value={p}
              checked={policy === p}
              onChange={() => setPolicy(p)}
            />{' '}
            {POLICY_LABEL[p]}
          </label>
        ))}
        {policy === 'passcode' && (
          <label class="field">
            <span class="label">Passcode</span>
            <input
              class="input"
              type="text"
              name="passcode"
              autocomplete="off"
              minLength={PASSCODE_LENGTH.min}
              maxLength={PASSCODE_LENGTH.max}
              required={settings.joinPolicy !== 'passcode'}
              placeholder={settings.joinPolicy === 'passcode' ? 'Unchanged' : 'Guests type this to join'}
            />
            <span class="muted small">
              {settings.joinPolicy === 'passcode'
                ? 'Type a new one to change it; members already in stay.'
                : `${PASSCODE_LENGTH.min} to ${PASSCODE_LENGTH.max} characters; give it to your guests.`}
            </span>
          </label>
        )}
      </fieldset>
      <div class="fields">
        {NUMBER_FIELDS.map((f) => (
          <label class="field" key={f.key}>
            <span class="label">{f.label}</span>
            <input
              class="input"
              type="number"
              name={f.key}
              inputMode="numeric"
              min={SETTING_BOUNDS[f.key][0] / f.scale}
              max={SETTING_BOUNDS[f.key][1] / f.scale}
              step={f.scale === 1 ? 1 : 'any'}
              required
              defaultValue={String(settings[f.key] / f.scale)}
            />
            <span class="muted small">{f.help}</span>
          </label>
        ))}
        <label class="field">
          <span class="label">Share of people to skip</span>
          <input
            class="input"
            type="number"
            name="skipShare"
            inputMode="numeric"
            min={0}
            max={100}
            step={1}
            required
            defaultValue={String(shareToPercent(settings.skipShare))}
          />
          <span class="muted small">
            % of the people here voting down skips (at least “Votes to skip”); 0 off
          </span>
        </label>
      </div>
      <DialogActions onCancel={onDone} busy={saving} label="Save settings" working="Saving…" />
    </form>
  );
}
