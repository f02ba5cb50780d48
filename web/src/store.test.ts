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
  });
});
