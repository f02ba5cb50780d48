// Times of transactions as people read them. The API sends ISO-8601 UTC (`at`); the page shows
// the reader's local time with the date, and keeps the exact value in <time datetime>.

/**
 * Formats an ISO-8601 time as `4 Dec 2026, 10:30:00` in `timeZone` (default: the browser's).
 * Returns null for a missing or unreadable value, so a box simply shows no time.
 */
export function formatTime(iso: string | null | undefined, timeZone?: string): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  return new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone }).format(d);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * The value of a `datetime-local` input (`2026-12-04T10:30:05`, the reader's local time) for an
 * ISO-8601 instant; empty for a missing or unreadable one.
 */
export function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** What a typed `as of` moment means: an instant (ISO-8601 UTC), or why it cannot be used. */
export type AsOfInput = { ok: true; iso: string | null } | { ok: false; error: string };

/**
 * Reads a `datetime-local` value (local time, seconds optional) as an instant for the API's `at`:
 * empty is the live view (null); a moment after `now` is refused, since the bank cannot show it.
 */
export function parseLocalInput(value: string, now: number = Date.now()): AsOfInput {
  const v = value.trim();
  if (v === '') return { ok: true, iso: null };
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(v);
  if (!m) return { ok: false, error: 'Not a date and time: pick one, e.g. 4 Dec 2026, 10:30' };
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '0').padEnd(3, '0'));
  const date = new Date(y, mo - 1, d, h, mi, s, ms);
  if (h > 23 || mi > 59 || s > 59 || Number.isNaN(date.getTime()) || date.getMonth() !== mo - 1 || date.getDate() !== d) {
    return { ok: false, error: 'There is no such date and time' };
  }
  if (date.getTime() > now) return { ok: false, error: 'That moment is in the future: the bank can only show the past' };
  return { ok: true, iso: date.toISOString() };
}
