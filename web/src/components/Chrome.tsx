// The page's frame: top bar, connection indicator, share button, room menu, toasts. On a phone the
// top bar is one row of at most 64 px (styles.css): what does not fit goes into the room menu.

import type { ComponentChildren } from 'preact';
import { navigate } from '../app.ts';
import type { Connection, Toast } from '../session.ts';

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

const CONNECTION_HELP: Record<Connection, string> = {
  connecting: 'Connecting to live updates',
  live: 'Live: changes appear as they happen',
  reconnecting: 'Connection lost; reconnecting. Changes will catch up.',
  offline: 'Offline; the page will catch up when the connection is back',
};

export function ConnectionBadge({ state }: { state: Connection }) {
  return (
    <span class={`conn conn-${state}`} role="status" data-connection={state} title={CONNECTION_HELP[state]}>
      <span class="conn-dot" aria-hidden="true" />
      {CONNECTION_TEXT[state]}
      <span class="sr-only">{` — ${CONNECTION_HELP[state]}`}</span>
    </span>
  );
}

export function ShareButton({
  roomName,
  url,
  onToast,
}: {
  roomName: string;
  /** The link guests can open (not necessarily this page's own address: see share.ts). */
  url: string;
  onToast: (text: string) => void;
}) {
  const share = async (): Promise<void> => {
    // Phones: the system share sheet. Desktops: the clipboard (only in a secure context).
    if (typeof navigator.share === 'function' && matchMedia('(pointer: coarse)').matches) {
      try {
        await navigator.share({ title: `${roomName} on Chorus`, url });
        return;
      } catch {
        // Cancelled, or refused: fall back to copying.
      }
    }
    try {
      await navigator.clipboard.writeText(url);
      onToast('Link copied. Send it to your friends.');
    } catch {
      window.prompt('Copy this link and send it to your friends:', url);
    }
  };
  return (
    <button type="button" class="btn btn-quiet" onClick={() => void share()}>
      <svg aria-hidden="true" viewBox="0 0 24 24" class="icon">
        <path d="M14 5h5v5M19 5l-8 8M11 6H6a1 1 0 0 0-1 1v11a1 1 0 0 0 1 1h11a1 1 0 0 0 1-1v-5" />
      </svg>
      Share
    </button>
  );
}

export function Toasts({ toasts, onDismiss }: { toasts: readonly Toast[]; onDismiss: (id: number) => void }) {
  return (
    <div class="toasts">
      {/* Two live regions: refusals interrupt (alert), confirmations wait their turn (status). */}
      <div role="alert" class="toast-stack">
        {toasts
          .filter((t) => t.kind === 'error')
          .map((t) => (
            <ToastView key={t.id} toast={t} onDismiss={onDismiss} />
          ))}
      </div>
      <div role="status" class="toast-stack">
        {toasts
          .filter((t) => t.kind === 'info')
          .map((t) => (
            <ToastView key={t.id} toast={t} onDismiss={onDismiss} />
          ))}
      </div>
    </div>
  );
}

function ToastView({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  return (
    <div class={`toast toast-${toast.kind}`} data-toast={toast.kind}>
      <span>{toast.text}</span>
      <button type="button" class="toast-close" aria-label="Dismiss" onClick={() => onDismiss(toast.id)}>
        ×
      </button>
    </div>
  );
}

/** The bar at the top of every page: the brand (home) and whatever the page puts beside it. */
export function TopBar({ children }: { children?: ComponentChildren }) {
  return (
    <header class="topbar">
      <a class="brand" href="/" onClick={(e) => (e.preventDefault(), navigate('/'))} aria-label="Chorus home">
        <svg viewBox="0 0 24 24" aria-hidden="true" class="brand-mark">
          <path d="M9 18V6l11-2v12" />
          <circle cx="6" cy="18" r="3" />
          <circle cx="17" cy="16" r="3" />
        </svg>
        <span class="brand-name">Chorus</span>
      </a>
      {children}
    </header>
  );
}

/**
 * The room menu: a button that opens a small panel (a popover: Escape or a tap outside closes it)
 * with what a phone's top bar has no room for. On wider screens the button is hidden and the same
 * things sit in the bar itself.
 */
export function RoomMenu({ children }: { children: ComponentChildren }) {
  return (
    <>
      <button
        type="button"
        class="btn btn-quiet menu-button"
        popovertarget="room-menu"
        aria-label="Room menu"
        title="Room menu"
      >
        <svg aria-hidden="true" viewBox="0 0 24 24" class="icon">
          <circle cx="5" cy="12" r="1.6" />
          <circle cx="12" cy="12" r="1.6" />
          <circle cx="19" cy="12" r="1.6" />
        </svg>
      </button>
      <div id="room-menu" class="room-menu card" popover="auto">
        {children}
      </div>
    </>
  );
}
