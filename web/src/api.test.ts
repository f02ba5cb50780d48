import { describe, expect, it } from 'vitest';
import { connectionState, getEmployeeKey, onConnectionState, onEmployeeKey } from './api';

// A view reads the state in its first render and subscribes in an effect after it: whatever
// changed in between must reach it, so a subscription starts with the value of now.
describe('state subscriptions', () => {
  it('hear the connection state of now at once, then its changes', () => {
    const heard: string[] = [];
    const off = onConnectionState((s) => heard.push(s));
    expect(heard).toEqual([connectionState()]);
    off();
  });

  it('hear the employee key of now at once', () => {
    const heard: (string | null)[] = [];
    const off = onEmployeeKey((k) => heard.push(k));
    expect(heard).toEqual([getEmployeeKey()]);
    off();
  });
});
