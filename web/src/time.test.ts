import { describe, expect, it } from 'vitest';
import { formatTime } from './time';

describe('formatTime', () => {
  it('shows the date and time of an ISO-8601 value in the given time zone', () => {
    expect(formatTime('2026-12-04T09:30:00.123Z', 'UTC')).toBe('4 Dec 2026, 09:30:00');
    expect(formatTime('2026-12-04T09:30:00.123Z', 'Europe/Amsterdam')).toBe('4 Dec 2026, 10:30:00');
  });

  it('shows nothing for a missing or unreadable time (a server that does not fill it)', () => {
    expect(formatTime(null)).toBeNull();
    expect(formatTime(undefined)).toBeNull();
    expect(formatTime('')).toBeNull();
    expect(formatTime('yesterday')).toBeNull();
  });
});
