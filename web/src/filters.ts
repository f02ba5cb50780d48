// The employee view's transaction filters. They go to the server as arguments of
// stream_transactions (so only matching live transactions arrive) and the same rules are applied
// here to the list loaded by transactions_by_iban, which has no filter arguments.
import { parseEuroString } from './money';
import type { FieldKey, Transaction } from './queries';

export interface Filters {
  direction: 'DEBIT' | 'CREDIT' | null;
  /** Signed cents: the change must be >= this (debits are negative, as on the server). */
  minAmount: number | null;
  /** Signed cents: the change must be <= this. */
  maxAmount: number | null;
  /** Case-insensitive substring of the description. */
  descrIncludes: string | null;
}

export const NO_FILTERS: Filters = { direction: null, minAmount: null, maxAmount: null, descrIncludes: null };

/** True when at least one filter is set. */
export function hasFilters(f: Filters): boolean {
  return f.direction !== null || f.minAmount !== null || f.maxAmount !== null || (f.descrIncludes ?? '') !== '';
}

/** The fields a transaction must carry for `matches` to judge it. */
export function fieldsNeeded(f: Filters): FieldKey[] {
  const need: FieldKey[] = [];
  if (f.direction !== null || f.minAmount !== null || f.maxAmount !== null) need.push('direction');
  if (f.minAmount !== null || f.maxAmount !== null) need.push('changed_by');
  if ((f.descrIncludes ?? '') !== '') need.push('descr');
  return need;
}

/** The stream_transactions arguments for the filters; unset filters are left out. */
export function streamArguments(f: Filters): Record<string, string | number> {
  const args: Record<string, string | number> = {};
  if (f.direction !== null) args.direction = f.direction;
  if (f.minAmount !== null) args.min_amount = f.minAmount;
  if (f.maxAmount !== null) args.max_amount = f.maxAmount;
  if ((f.descrIncludes ?? '') !== '') args.descr_includes = f.descrIncludes as string;
  return args;
}

/** The signed change of a transaction in cents (negative for a debit), or null if unknown. */
export function signedChange(t: Transaction): bigint | null {
  if (!t.changed_by) return null;
  const abs = parseEuroString(t.changed_by);
  if (abs === null) return null;
  const magnitude = abs < 0n ? -abs : abs;
  return t.direction === 'DEBIT' ? -magnitude : magnitude;
}

/** Whether a transaction passes every set filter (the server's rules, spec 6.6). */
export function matches(t: Transaction, f: Filters): boolean {
  if (f.direction !== null && t.direction !== f.direction) return false;
  if (f.minAmount !== null || f.maxAmount !== null) {
    const c = signedChange(t);
    if (c === null) return false;
    if (f.minAmount !== null && c < BigInt(f.minAmount)) return false;
    if (f.maxAmount !== null && c > BigInt(f.maxAmount)) return false;
  }
  const needle = (f.descrIncludes ?? '').toLowerCase();
  if (needle !== '' && !(t.descr ?? '').toLowerCase().includes(needle)) return false;
  return true;
}
