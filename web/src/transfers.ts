// Money transfers and deposits sent from the client view, each with a fresh uuid, and the outcome
// of each one: pending, completed, or failed with the server's reason. When the mutation answers
// `timed out after 2000 ms` (or the request itself fails), the saga may still finish, so the state is
// polled with `transfer(uuid)` until it is COMPLETED or FAILED.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, request } from './api';
import { formatCents } from './money';
import { DEPOSIT, type MoneyTransferResult, TRANSFER, TRANSFER_STATUS, type TransferState } from './queries';
import type { Login } from './store';
import { newUuid } from './uuid';

export const TIMED_OUT = 'timed out after 2000 ms';
const POLL_MS = 1000;
const POLL_LIMIT = 120;
const KEEP = 6;

export interface Outcome {
  uuid: string;
  kind: 'deposit' | 'transfer';
  cents: number;
  to: string;
  state: 'pending' | 'completed' | 'failed';
  reason: string | null;
  /** A note while pending, e.g. that the server is still working on it. */
  note: string | null;
}

let outcomes: Outcome[] = [];
const listeners = new Set<() => void>();
let generation = 0;

function set(uuid: string, change: Partial<Outcome>): void {
  outcomes = outcomes.map((o) => (o.uuid === uuid ? { ...o, ...change } : o));
  for (const l of listeners) l();
}

function add(o: Outcome): void {
  outcomes = [o, ...outcomes].slice(0, KEEP);
  for (const l of listeners) l();
}

/** Forgets every outcome (on logout); polls still running stop updating. */
export function clearOutcomes(): void {
  generation += 1;
  outcomes = [];
  for (const l of listeners) l();
}

/** The recent outcomes, newest first (for tests and non-component code). */
export function getOutcomes(): Outcome[] {
  return outcomes;
}

/** A hook returning the recent outcomes, newest first. */
export function useOutcomes(): Outcome[] {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = (): void => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return outcomes;
}

/** A one-line description of an outcome for the user, including the reason of a failure. */
export function describe(o: Outcome): string {
  const what = o.kind === 'deposit' ? `Deposit of ${formatCents(o.cents)}` : `Transfer of ${formatCents(o.cents)} to ${o.to}`;
  if (o.state === 'completed') return `${what} completed.`;
  if (o.state === 'failed') return `${what} failed: ${o.reason ?? 'no reason given'}`;
  return `${what} is pending${o.note ? ` (${o.note})` : ''}…`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function poll(uuid: string, gen: number): Promise<void> {
  for (let i = 0; i < POLL_LIMIT && gen === generation; i++) {
    await sleep(POLL_MS);
    if (gen !== generation) return;
    try {
      const d = await request<{ transfer: { state: TransferState; reason: string | null } | null }>(TRANSFER_STATUS, { uuid });
      const s = d.transfer?.state;
      if (s === 'COMPLETED') return set(uuid, { state: 'completed', note: null });
      if (s === 'FAILED') return set(uuid, { state: 'failed', reason: d.transfer?.reason ?? null, note: null });
      set(uuid, { note: d.transfer ? 'the bank is still processing it' : 'not known to the bank yet' });
    } catch (e) {
      set(uuid, { note: `checking again: ${(e as Error).message}` });
    }
  }
  if (gen === generation) set(uuid, { note: 'no final answer yet; it may still complete' });
}

async function run(o: Outcome, query: string, variables: Record<string, unknown>): Promise<void> {
  const gen = generation;
  add(o);
  try {
    const d = await request<{ money_transfer: MoneyTransferResult | null }>(query, variables);
    if (gen !== generation) return;
    const r = d.money_transfer;
    if (!r) return set(o.uuid, { state: 'failed', reason: 'the server rejected the request' });
    if (r.success) return set(o.uuid, { state: 'completed' });
    if (r.reason === TIMED_OUT) {
      set(o.uuid, { note: TIMED_OUT });
      return poll(o.uuid, gen);
    }
    set(o.uuid, { state: 'failed', reason: r.reason });
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && !e.transport) return set(o.uuid, { state: 'failed', reason: e.message });
    // The request may or may not have reached the bank: ask it by uuid.
    set(o.uuid, { note: (e as Error).message });
    return poll(o.uuid, gen);
  }
}

/** Deposits `cents` from cash into the logged-in account (spec 7.5, operation 5), with a new uuid. */
export function deposit(login: Login, cents: number): Promise<void> {
  const uuid = newUuid();
  return run(
    { uuid, kind: 'deposit', cents, to: login.iban, state: 'pending', reason: null, note: null },
    DEPOSIT,
    { amount: cents, uuid, username: login.username, iban: login.iban, token: login.token },
  );
}

/** Transfers `cents` from the logged-in account to `to` (spec 7.7, operation 6), with a new uuid. */
export function transfer(login: Login, cents: number, to: string, descr: string): Promise<void> {
  const uuid = newUuid();
  return run(
    { uuid, kind: 'transfer', cents, to, state: 'pending', reason: null, note: null },
    TRANSFER,
    { amount: cents, uuid, username: login.username, to, token: login.token, from: login.iban, descr },
  );
}
