// What the page's dialogs share: the row of a Cancel button and the dialog's primary button.

/**
 * Cancel, and the primary button, which says what it is doing while `busy`. Without `onConfirm`
 * the primary button submits the dialog's form.
 */
export function DialogActions(p: {
  onCancel: () => void;
  busy: boolean;
  label: string;
  working: string;
  onConfirm?: () => void;
}) {
  return (
    <div class="dialog-actions">
      <button type="button" class="btn btn-quiet" onClick={p.onCancel}>
        Cancel
      </button>
      <button
        type={p.onConfirm ? 'button' : 'submit'}
        class="btn btn-primary"
        disabled={p.busy}
        onClick={p.onConfirm}
      >
        {p.busy ? p.working : p.label}
      </button>
    </div>
  );
}
