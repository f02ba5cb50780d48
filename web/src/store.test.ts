// Routing, titles and the employee's address; store.ts reads `window` when loaded, so a minimal
// one is stubbed first.
import { beforeAll, describe, expect, it, vi } from 'vitest';

let store: typeof import('./store');

beforeAll(async () => {
  const storage = { getItem: () => null, setItem: () => undefined, removeItem: () => undefined };
  vi.stubGlobal('window', {
    location: { pathname: '/employee', search: '?follow=NL66OPEN0000000000&min=1000&descr=rent', href: 'http://x/employee' },
    sessionStorage: storage,
    localStorage: storage,
    history: { pushState: () => undefined, replaceState: () => undefined },
    addEventListener: () => undefined,
  });
  store = await import('./store');
});

describe('routes', () => {
  it('maps paths to views, with a page per transfer uuid', () => {
    expect(store.routeOf('/')).toBe('home');
    expect(store.routeOf('/employee/')).toBe('bank-employee');
    expect(store.routeOf('/client')).toBe('client');
    expect(store.routeOf('/transfer/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d')).toBe('transfer');
    expect(store.transferUuidOf('/transfer/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d')).toBe('9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d');
    expect(store.routeOf('/transfer/not-a-uuid')).toBe('unknown');
    expect(store.routeOf('/nope')).toBe('unknown');
  });

  it('gives the parts of the client and employee views their own paths', () => {
    expect(store.routeOf('/client/history')).toBe('client');
    expect(store.routeOf('/client/alerts/')).toBe('client');
    expect(store.routeOf('/client/owners')).toBe('client');
    expect(store.routeOf('/client/transactions')).toBe('unknown');
    expect(store.routeOf('/employee/history')).toBe('bank-employee');
    expect(store.routeOf('/employee/alerts')).toBe('unknown');
    expect(store.tabOf('/client/alerts')).toBe('alerts');
    expect(store.tabOf('/employee/history')).toBe('history');
    expect(store.tabOf('/client')).toBe('transactions');
    expect(store.pathOf('client', 'owners')).toBe('/client/owners');
    expect(store.pathOf('bank-employee', 'history')).toBe('/employee/history');
    expect(store.pathOf('client')).toBe('/client');
    expect(store.titleOf('client', null, 'history')).toBe('Account history · Client · BKES bank');
    expect(store.titleOf('bank-employee', null, 'history')).toBe('Account history · Bank employee · BKES bank');
    expect(store.titleOf('client', null, 'alerts')).toBe('Alerts · Client · BKES bank');
  });

  it('reads an as-of instant from the address only with a time zone', () => {
    expect(store.asOfFromSearch('?at=2026-12-04T09:30:00.000Z')).toBe('2026-12-04T09:30:00.000Z');
    expect(store.asOfFromSearch('?at=2026-12-04T10:30:00%2B01:00')).toBe('2026-12-04T10:30:00+01:00');
    expect(store.asOfFromSearch('?at=2026-12-04T09:30:00')).toBeNull();
    expect(store.asOfFromSearch('?at=soon')).toBeNull();
    expect(store.asOfFromSearch('')).toBeNull();
  });

  it('gives each view its own title', () => {
    expect(store.titleOf('home')).toBe('Home · BKES bank');
    expect(store.titleOf('bank-employee')).toBe('Bank employee · BKES bank');
    expect(store.titleOf('client')).toBe('Client · BKES bank');
    expect(store.titleOf('transfer', '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d')).toBe('Transfer 9b1deb4d · BKES bank');
    expect(store.titleOf('unknown')).toBe('Page not found · BKES bank');
  });
});

describe('the employee view in the address', () => {
  it('reads the followed account and the filters on a reload', () => {
    const s = store.getState();
    expect(s.route).toBe('bank-employee');
    expect(s.employeeIban).toBe('NL66OPEN0000000000');
    expect(s.filters).toEqual({ direction: null, minAmount: 1000, maxAmount: null, descrIncludes: 'rent' });
  });

  it('writes them back, and nothing without a followed account', () => {
    expect(store.employeeSearch('NL66OPEN0000000000', { direction: 'DEBIT', minAmount: null, maxAmount: 500, descrIncludes: null })).toBe('?follow=NL66OPEN0000000000&direction=DEBIT&max=500');
    expect(store.employeeSearch(null, { direction: 'DEBIT', minAmount: 1, maxAmount: null, descrIncludes: null })).toBe('');
    expect(store.employeeSearch('NL66OPEN0000000000', store.getState().filters, '2026-12-04T09:30:00.000Z')).toBe('?follow=NL66OPEN0000000000&min=1000&descr=rent&at=2026-12-04T09%3A30%3A00.000Z');
    expect(store.clientSearch('2026-12-04T09:30:00.000Z')).toBe('?at=2026-12-04T09%3A30%3A00.000Z');
    expect(store.clientSearch(null)).toBe('');
  });
});
