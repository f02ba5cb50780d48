// Moving the keyboard focus somewhere useful after a change of view (login, logout): a request
// names an element; the App runs it after its next render, once the element exists.
import { useEffect } from 'preact/hooks';

let pending: string | null = null;

/** Asks for the element matching `selector` to get the focus after the next render. */
export function focusSoon(selector: string): void {
  pending = selector;
}

/** Runs a pending focus request after every render of the calling component (the App). */
export function useFocusRequests(): void {
  useEffect(() => {
    if (!pending) return;
    const el = document.querySelector<HTMLElement>(pending);
    if (el) {
      pending = null;
      el.focus();
    }
  });
}
