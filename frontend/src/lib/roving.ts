// Roving focus over the message list: the list is one tab stop (the current message has
// tabindex 0, every other -1), Arrow Up/Down and Home/End move between messages, and the
// controls inside a message (actions, reactions, links, the thread button) join the tab
// order only while that message is "open": Enter, F2 or the context-menu key opens it and
// focuses its first action; Esc goes back to the message. Without this every message added
// half a dozen tab stops between the sidebar and the composer.

const ITEM = '[data-testid="message"]';
const CONTROLS = 'a[href], button, input, select, textarea, [tabindex]';
/** Marks a control whose tabindex this module set to -1 (and may take back). */
const OFF = 'data-roving-off';

export function roving(list: HTMLElement): () => void {
  let current: HTMLElement | null = null;
  let open: HTMLElement | null = null;
  let queued = false;

  const items = () => Array.from(list.querySelectorAll<HTMLElement>(ITEM));

  function sync(): void {
    queued = false;
    const all = items();
    // Away from the list, its tab stop is the newest message.
    if (!current || !current.isConnected || !list.contains(document.activeElement)) current = all.at(-1) ?? null;
    if (open && !open.isConnected) open = null;
    for (const it of all) {
      it.tabIndex = it === current ? 0 : -1;
      for (const c of it.querySelectorAll<HTMLElement>(CONTROLS)) {
        if (it === open) {
          if (c.hasAttribute(OFF)) {
            c.removeAttribute(OFF);
            c.removeAttribute('tabindex');
          }
        } else if (!c.hasAttribute(OFF) && c.getAttribute('tabindex') !== '-1') {
          c.setAttribute(OFF, '');
          c.tabIndex = -1;
        }
      }
    }
  }
  function schedule(): void {
    if (queued) return;
    queued = true;
    queueMicrotask(sync);
  }

  function focusItem(it: HTMLElement | undefined): void {
    if (!it) return;
    current = it;
    open = null;
    sync();
    it.focus();
  }

  function controlsOf(it: HTMLElement): HTMLElement[] {
    return Array.from(it.querySelectorAll<HTMLElement>(CONTROLS)).filter((c) => !(c as HTMLButtonElement).disabled && c.getAttribute('tabindex') !== '-1');
  }

  function keydown(e: KeyboardEvent): void {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const target = e.target as HTMLElement;
    const it = target.closest<HTMLElement>(ITEM);
    if (!it || !list.contains(it)) return;
    if (target === it) {
      const all = items();
      const i = all.indexOf(it);
      let next: HTMLElement | undefined;
      if (e.key === 'ArrowUp') next = all[Math.max(0, i - 1)];
      else if (e.key === 'ArrowDown') next = all[Math.min(all.length - 1, i + 1)];
      else if (e.key === 'Home') next = all[0];
      else if (e.key === 'End') next = all.at(-1);
      else if (e.key === 'Enter' || e.key === 'F2' || e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey)) {
        e.preventDefault();
        open = it;
        current = it;
        sync();
        // The actions toolbar first, then whatever else the message holds.
        const acts = it.querySelector<HTMLElement>('.acts button:not(:disabled)');
        (acts ?? controlsOf(it)[0])?.focus();
        return;
      } else return;
      e.preventDefault();
      focusItem(next);
      return;
    }
    // In a control of an open message. Editors and the reaction picker handle their own Esc.
    if (e.key === 'Escape' && !target.closest('[role="dialog"], textarea, input')) {
      e.preventDefault();
      focusItem(it);
    }
  }

  function focusin(e: FocusEvent): void {
    const target = e.target as HTMLElement;
    const it = target.closest<HTMLElement>(ITEM);
    if (!it) return;
    current = it;
    open = target === it ? null : it;
    sync();
  }
  function focusout(e: FocusEvent): void {
    const to = e.relatedTarget as Node | null;
    if (open && (!to || !open.contains(to))) {
      open = null;
      schedule();
    }
  }

  const mo = new MutationObserver(schedule);
  mo.observe(list, { childList: true, subtree: true });
  list.addEventListener('keydown', keydown);
  list.addEventListener('focusin', focusin);
  list.addEventListener('focusout', focusout);
  sync();
  return () => {
    mo.disconnect();
    list.removeEventListener('keydown', keydown);
    list.removeEventListener('focusin', focusin);
    list.removeEventListener('focusout', focusout);
  };
}
