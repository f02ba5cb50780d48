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
