// The host recovery key on the page. Creating a room answers it once: the room page then shows it
// in a "save it" dialog (copy, or download as a file) before anything else, and the key is never
// stored by the page (a key kept in the same browser as the host token would be lost with it).
// "Recover host" takes a pasted key and makes this browser the room's host again. The host can make
// a new key ("Recovery key" card): after a hand-over the room has none, and the new host makes theirs;
// it is shown in the same dialog, once, and the one before stops working.

import { useEffect, useRef, useState } from 'preact/hooks';
import { recoveryFile } from '../people.ts';
import type { RoomSession } from '../session.ts';

/** The key a room was just created with, handed from the create form to the room page in memory. */
const fresh = new Map<string, string>();

export function rememberFreshKey(roomId: string, key: string): void {
  fresh.set(roomId, key);
}

/** The fresh key of `roomId`, once: a reload does not show it again. */
export function takeFreshKey(roomId: string): string | null {
  const key = fresh.get(roomId) ?? null;
  fresh.delete(roomId);
  return key;
}

export function RecoveryKeyDialog({
  roomId,
  roomName,
  link,
  recoveryKey,
  onDone,
}: {
  roomId: string;
  roomName: string;
  link: string;
  recoveryKey: string;
  onDone: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [note, setNote] = useState('');
  useEffect(() => {
    if (ref.current && !ref.current.open) ref.current.showModal();
  }, []);
  const file = recoveryFile(roomName, roomId, link, recoveryKey);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(recoveryKey);
      setNote('Copied. Paste it somewhere safe.');
    } catch {
      // No clipboard outside a secure context (a LAN address over http): select it to copy by hand.
      document.getElementById('recovery-key')?.focus();
      (document.getElementById('recovery-key') as HTMLInputElement | null)?.select();
      setNote('Selected: copy it with your keyboard or menu.');
    }
  };
  const download = (): void => {
    const url = URL.createObjectURL(new Blob([file.text], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = file.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    setNote(`Saved as ${file.name}.`);
  };
  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby="recovery-h"
      onCancel={(e) => e.preventDefault() /* it is shown once: leave only by the button */}
    >
      <h2 id="recovery-h">Save your host recovery key</h2>
      <p>
        It is shown only now. If this browser forgets the room (another device, cleared storage), the key
        makes you the host again: choose “Recover host” on the room page and paste it.
      </p>
      <label class="field">
        <span class="label">Recovery key</span>
        <input id="recovery-key" class="input mono" readOnly value={recoveryKey} data-testid="recovery-key" />
      </label>
      <p class="muted small" role="status">
        {note || 'Whoever holds it can take the room over: keep it private.'}
      </p>
      <div class="dialog-actions">
        <button type="button" class="btn" onClick={() => void copy()}>
          Copy
        </button>
        <button type="button" class="btn" onClick={download}>
          Download
        </button>
        <button type="button" class="btn btn-primary" onClick={() => (ref.current?.close(), onDone())}>
          I saved it
        </button>
      </div>
    </dialog>
  );
}

/** "Recover host": paste the key; the session stores the new host token for the room. */
export function RecoverHost({ session }: { session: RoomSession }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!key.trim()) return;
    setBusy(true);
    setError(await session.recover(key));
    setBusy(false);
  };
  return (
    <details class="card recover-card">
      <summary>Recover host</summary>
      <p class="muted small">
        Lost your host place? Paste the recovery key you saved when you made the room.
      </p>
      <form class="inline-form" onSubmit={(e) => void submit(e)}>
        <label for="recover-key" class="sr-only">
          Recovery key
        </label>
        <input
          id="recover-key"
          class="input mono"
          placeholder="Recovery key"
          autocomplete="off"
          autocapitalize="none"
          spellcheck={false}
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Recovering…' : 'Recover'}
        </button>
      </form>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </details>
  );
}

/** The host's "Recovery key" card: a new key, shown once in the save dialog (`onKey`). */
export function NewRecoveryKey({ session, onKey }: { session: RoomSession; onKey: (key: string) => void }) {
  const [busy, setBusy] = useState(false);
  const make = async (): Promise<void> => {
    setBusy(true);
    const key = await session.newRecoveryKey();
    setBusy(false);
    if (key) onKey(key);
  };
  return (
    <section class="card" aria-labelledby="new-key-h">
      <h2 id="new-key-h">Recovery key</h2>
      <p class="muted small">
        A key makes you the host again if this browser forgets the room. A room handed to you has none until
        you make one; a new key replaces the one before.
      </p>
      <button type="button" class="btn" disabled={busy} onClick={() => void make()}>
        {busy ? 'Making…' : 'Make a new recovery key'}
      </button>
    </section>
  );
}
