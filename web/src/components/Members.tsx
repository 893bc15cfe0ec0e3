// The members panel of the host and co-hosts: join requests waiting for a decision, then who is a
// member (with who is here now and their role), with the actions the viewer may take on each:
// co-host or plain member, hand the room over, remove (with or without their waiting tracks, or
// banning them). The list reads GET /members again whenever the page learns the members changed
// (rosterVersion); presence comes live from the room itself.

import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { MembersAnswer } from '../api.ts';
import type { RoomModel } from '../model.ts';
import { actionsFor, peopleHere, roster, ROLE_LABEL, type RosterRow } from '../people.ts';
import type { RoomSession } from '../session.ts';
import { DialogActions } from './Dialog.tsx';

export function MembersPanel({ room, session }: { room: RoomModel; session: RoomSession }) {
  const me = room.me!;
  const [answer, setAnswer] = useState<MembersAnswer | null>(null);
  const [removing, setRemoving] = useState<RosterRow | null>(null);
  const [handing, setHanding] = useState<RosterRow | null>(null);
  useEffect(() => {
    let live = true;
    void session.members().then((a) => {
      if (live && a) setAnswer(a);
    });
    return () => {
      live = false;
    };
  }, [session, room.rosterVersion, me.role]);
  const rows = answer ? roster(answer.members, room.present) : [];
  return (
    <section class="card members-card" aria-labelledby="members-h">
      <h2 id="members-h">Members</h2>
      <p class="muted small" data-testid="members-here">
        {peopleHere(room.present.length)} · {room.memberCount} {room.memberCount === 1 ? 'member' : 'members'}
      </p>
      {room.pendingJoins.length > 0 && (
        <div class="join-requests" aria-labelledby="requests-h">
          <h3 id="requests-h">Asking to join</h3>
          <ul class="member-list">
            {room.pendingJoins.map((p) => (
              <li key={p.memberId} class="member-row">
                <span class="row-title">{p.name}</span>
                <span class="member-actions">
                  <button
                    type="button"
                    class="btn btn-primary btn-small"
                    onClick={() => void session.decideJoin(p.memberId, true)}
                  >
                    Let {p.name} in
                  </button>
                  <button
                    type="button"
                    class="btn btn-quiet btn-small"
                    onClick={() => void session.decideJoin(p.memberId, false)}
                  >
                    Turn away
                  </button>
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {answer === null ? (
        <p class="muted small">Loading the members…</p>
      ) : (
        <ul class="member-list" aria-label="Members">
          {rows.map((m) => {
            const can = actionsFor(me.role, m.role, m.memberId === me.memberId);
            return (
              <li key={m.memberId} class="member-row" data-member={m.name}>
                <span class={`presence-dot ${m.here ? 'is-here' : ''}`} aria-hidden="true" />
                <span class="member-name">
                  <span class="row-title">
                    {m.name}
                    {m.memberId === me.memberId ? ' (you)' : ''}
                  </span>
                  <span class="muted small">
                    {ROLE_LABEL[m.role]}
                    {m.here ? ' · here' : ' · away'}
                  </span>
                </span>
                <span class="member-actions">
                  {can.setRole && (
                    <button
                      type="button"
                      class="btn btn-small"
                      aria-label={
                        can.setRole === 'cohost' ? `Make ${m.name} a co-host` : `Make ${m.name} a member`
                      }
                      onClick={() => void session.setRole(m.memberId, can.setRole!)}
                    >
                      {can.setRole === 'cohost' ? 'Make co-host' : 'Make member'}
                    </button>
                  )}
                  {can.handOver && (
                    <button
                      type="button"
                      class="btn btn-small"
                      aria-label={`Make ${m.name} the host`}
                      onClick={() => setHanding(m)}
                    >
                      Make host…
                    </button>
                  )}
                  {can.remove && (
                    <button
                      type="button"
                      class="btn btn-small btn-danger"
                      aria-label={`Remove ${m.name}`}
                      onClick={() => setRemoving(m)}
                    >
                      Remove…
                    </button>
                  )}
                </span>
              </li>
            );
          })}
        </ul>
      )}
      {answer && answer.banned.length > 0 && (
        <p class="muted small">Banned: {answer.banned.map((b) => b.name).join(', ')}</p>
      )}
      <RemoveDialog member={removing} session={session} onDone={() => setRemoving(null)} />
      <HandOverDialog member={handing} session={session} onDone={() => setHanding(null)} />
    </section>
  );
}

/** A <dialog> shown modally while `open`, closed otherwise (and by Escape, which calls onDone). */
function useModal(open: boolean): RefObject<HTMLDialogElement | null> {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return ref;
}

/** A confirmation about one member: shown while `member` is set; onDone closes it. */
interface MemberDialogProps {
  readonly member: RosterRow | null;
  readonly session: RoomSession;
  readonly onDone: () => void;
}

function RemoveDialog({ member, session, onDone }: MemberDialogProps) {
  const ref = useModal(member !== null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!member) return;
    const data = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    const ok = await session.removeMember(member.memberId, {
      removeEntries: data.get('removeEntries') === 'on',
      ban: data.get('ban') === 'on',
    });
    setBusy(false);
    if (ok) session.toast('info', `${member.name} was removed`);
    onDone();
  };
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="remove-h" onClose={onDone}>
      <form key={member?.memberId} method="dialog" onSubmit={(e) => void submit(e)}>
        <h2 id="remove-h">Remove {member?.name ?? 'a member'}?</h2>
        <p class="muted">They leave the room at once; their page says so.</p>
        <label class="check">
          <input type="checkbox" name="removeEntries" /> Also remove the tracks they have waiting
        </label>
        <label class="check">
          <input type="checkbox" name="ban" /> Ban them: this browser cannot join again
        </label>
        <DialogActions onCancel={onDone} busy={busy} label="Remove" working="Removing…" />
      </form>
    </dialog>
  );
}

function HandOverDialog({ member, session, onDone }: MemberDialogProps) {
  const ref = useModal(member !== null);
  const [busy, setBusy] = useState(false);
  const confirm = async (): Promise<void> => {
    if (!member) return;
    setBusy(true);
    const ok = await session.handOver(member.memberId);
    setBusy(false);
    if (ok) session.toast('info', `${member.name} is the host now; you are a co-host`);
    onDone();
  };
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="handover-h" onClose={onDone}>
      <h2 id="handover-h">Make {member?.name ?? 'them'} the host?</h2>
      <p class="muted">
        They get every host power, roles and hand-over included; you stay on as a co-host. Only they can give
        it back: your recovery key stops working, and they make their own.
      </p>
      <DialogActions
        onCancel={onDone}
        busy={busy}
        label="Hand over"
        working="Handing over…"
        onConfirm={() => void confirm()}
      />
    </dialog>
  );
}
