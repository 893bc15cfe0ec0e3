// Inviting guests: the room code, the link to open (an address others can reach, see share.ts) and
// a QR code of it for phones. The QR is drawn here (qrcode-generator) as a data: image, so the page
// still loads nothing from elsewhere.

import qrcode from 'qrcode-generator';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../app.ts';
import { roomLink, shareBase, type ShareInfo } from '../share.ts';

/** The node's share addresses, asked once per page. */
let asked: Promise<ShareInfo | null> | null = null;
function shareInfo(): Promise<ShareInfo | null> {
  asked ??= api.share().catch(() => null);
  return asked;
}

/** The link guests should open for this room (the page's own address until the node answers). */
export function useRoomLink(roomId: string): string {
  const [info, setInfo] = useState<ShareInfo | null>(null);
  useEffect(() => {
    let live = true;
    void shareInfo().then((i) => live && setInfo(i));
    return () => {
      live = false;
    };
  }, []);
  return roomLink(shareBase(info, location.origin), roomId);
}

function qrDataUrl(text: string): string {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  return qr.createDataURL(4, 2);
}

export function Invite({ roomId, link }: { roomId: string; link: string }) {
  const src = useMemo(() => qrDataUrl(link), [link]);
  return (
    <section class="card invite" aria-labelledby="invite-h">
      <h2 id="invite-h">Invite guests</h2>
      <p class="muted small">Scan the code with a phone on the same network, or open the link.</p>
      <img class="qr" src={src} alt={`QR code of ${link}`} data-testid="share-qr" width={180} height={180} />
      <p>
        <a href={link} data-testid="share-link" class="share-link">
          {link}
        </a>
      </p>
      <p class="muted small">
        Room code: <strong data-testid="room-code">{roomId}</strong>
      </p>
    </section>
  );
}
