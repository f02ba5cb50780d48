import { describe, expect, it } from 'vitest';
import { formatTime, parseLocalInput, toLocalInput } from './time';

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

describe('the as-of control', () => {
  // Local noon: the inputs below are local times, whatever the machine's zone.
  const now = new Date(2026, 11, 4, 12, 0).getTime();

  it('reads local time as an instant, seconds and milliseconds optional', () => {
    const local = new Date(2026, 11, 4, 10, 30, 5);
    expect(parseLocalInput('2026-12-04T10:30:05', now)).toEqual({ ok: true, iso: local.toISOString() });
    expect(parseLocalInput('2026-12-04T10:30', now)).toEqual({ ok: true, iso: new Date(2026, 11, 4, 10, 30).toISOString() });
    expect(parseLocalInput('2026-12-04T10:30:05.5', now)).toEqual({ ok: true, iso: new Date(2026, 11, 4, 10, 30, 5, 500).toISOString() });
  });

  it('is live when empty, and refuses the future and dates that do not exist', () => {
    expect(parseLocalInput('', now)).toEqual({ ok: true, iso: null });
    expect(parseLocalInput('2027-01-01T00:00', now)).toMatchObject({ ok: false, error: expect.stringContaining('in the future') });
    expect(parseLocalInput('2026-02-30T10:00', now)).toMatchObject({ ok: false, error: 'There is no such date and time' });
    expect(parseLocalInput('2026-02-03T24:00', now)).toMatchObject({ ok: false });
    expect(parseLocalInput('yesterday', now)).toMatchObject({ ok: false, error: expect.stringContaining('Not a date and time') });
  });

  it('shows an instant back in the control, to the second', () => {
    const local = new Date(2026, 11, 4, 9, 5, 7, 123);
    expect(toLocalInput(local.toISOString())).toBe('2026-12-04T09:05:07');
    expect(toLocalInput(null)).toBe('');
    expect(toLocalInput('nonsense')).toBe('');
  });
});
